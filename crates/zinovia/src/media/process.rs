//! The media worker: `process_media` turns an upload into safe, fast-loading media.
//!
//! Order (see `docs/adr/0009-media-pipeline.md`): fetch the original to a temporary file
//! (streaming) → check its size → malware scan through clamd (when configured; a scanner
//! that cannot be reached means "retry", never "clean") → recognise the real format from
//! the bytes and refuse a mismatch with the declared type → by kind: photo variants and
//! blurhash (`zinovia_media::image`), or ffprobe, limits, a poster frame made into the same
//! variants, and the video transcoded (`zinovia_media::transcode`: an HLS ladder with
//! AES-128 segments, a progressive H.264 MP4 and a storyboard, ADR 0026) → `ready`, or
//! `rejected` with a reason a person can read (its files then deleted by
//! `delete_media_files`).
//!
//! Re-running is safe at every step: variant keys are fixed (`media/<id>/<name>`) so a
//! second run overwrites, and variant rows are upserted in the same transaction that marks
//! the asset ready.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use std::sync::atomic::{AtomicI16, Ordering};

use futures::{StreamExt, TryStreamExt};
use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;
use zinovia_media::image::{Encoding, Processed};
use zinovia_media::transcode;
use zinovia_media::video::Tools;
use zinovia_media::{Format, ImageLimits, MediaError, VideoLimits};

use super::db;
use super::types::{Asset, Kind, MediaId, State};
use crate::config::Settings;
use crate::jobs::JobError;
use crate::metrics::MediaLabels;
use crate::scan::{Clamd, Verdict};
use crate::state::AppState;
use crate::storage::{StorageError, StorageKey};

/// What the worker needs to process media: the scanner, ffmpeg, limits and a cap on
/// CPU-heavy work. Built once per process.
#[derive(Debug)]
pub struct Processing {
    scanner: Option<Clamd>,
    tools: Tools,
    /// Whether ffmpeg and ffprobe run (checked once, in the background at start), or why not.
    video: tokio::sync::OnceCell<Result<(), String>>,
    image_limits: ImageLimits,
    video_limits: VideoLimits,
    /// The x264 preset of the renditions.
    video_preset: String,
    /// A transcode may take this many times the video's length (plus the tool timeout).
    transcode_timeout_factor: u32,
    tool_timeout: std::time::Duration,
    /// Photos decoded and encoded at once (each uses two threads while encoding).
    cpu: Arc<Semaphore>,
}

impl Processing {
    /// Scans a file for malware with clamd, if a scanner is configured (`None`: none is).
    pub async fn scan(&self, path: &Path) -> Result<Option<Verdict>, crate::scan::ScanError> {
        match &self.scanner {
            Some(scanner) => scanner.scan_file(path).await.map(Some),
            None => Ok(None),
        }
    }

    /// From the settings; says in the log what is missing.
    pub fn from_settings(settings: &Settings) -> Processing {
        let m = &settings.media;
        let timeout = m.media_tool_timeout.0;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        zinovia_media::keep_freed_image_memory();
        sweep_work_dirs();
        let scanner = m
            .clamav_addr
            .as_ref()
            .map(|a| Clamd::new(a.clone(), timeout));
        match &scanner {
            Some(_) => {
                tracing::info!(clamd = %m.clamav_addr.as_deref().unwrap_or_default(), "uploads are scanned for malware")
            }
            None => tracing::warn!(
                "CLAMAV_ADDR is not set: uploads are NOT scanned for malware (refused in production)"
            ),
        }
        Processing {
            scanner,
            tools: Tools::new(&m.ffmpeg_path, &m.ffprobe_path, timeout, cores.max(2)),
            video: tokio::sync::OnceCell::new(),
            image_limits: ImageLimits {
                max_width: m.media_max_image_side,
                max_height: m.media_max_image_side,
                max_pixels: m.media_max_image_pixels,
            },
            video_limits: VideoLimits {
                max_width: m.media_max_video_side,
                max_height: m.media_max_video_side,
                max_seconds: m.media_max_video_duration.0.as_secs_f64(),
                max_fps: f64::from(m.media_max_video_fps),
                max_bit_rate: m.media_max_video_bitrate,
            },
            video_preset: m.media_video_preset.clone(),
            transcode_timeout_factor: m.media_transcode_timeout_factor,
            tool_timeout: timeout,
            cpu: Arc::new(Semaphore::new(cores)),
        }
    }
}

impl Processing {
    /// ffmpeg and ffprobe, or why videos cannot be processed (checked on first use, and
    /// said in the log).
    pub async fn video_tools(&self) -> Result<&Tools, &str> {
        let checked = self
            .video
            .get_or_init(|| async {
                match self.tools.check().await {
                    Ok(version) => {
                        tracing::info!(ffmpeg = %version, "videos are processed");
                        Ok(())
                    }
                    Err(why) => {
                        tracing::warn!(reason = %why, "ffmpeg is not usable: video uploads will be rejected (install ffmpeg or set FFMPEG_PATH/FFPROBE_PATH)");
                        Err(why)
                    }
                }
            })
            .await;
        match checked {
            Ok(()) => Ok(&self.tools),
            Err(why) => Err(why),
        }
    }
}

/// Processes one upload (the `process_media` job's work): safe to run again at any point.
/// `last_attempt`: this run is the job's last, so a failure on our side is final.
pub(super) async fn process(
    state: &AppState,
    id: MediaId,
    last_attempt: bool,
) -> Result<(), JobError> {
    let Some(asset) = db::get(&state.db, id).await? else {
        tracing::info!(media_id = %id, "asset gone before processing; nothing to do");
        return Ok(());
    };
    if !matches!(
        asset.state,
        State::Uploaded | State::Processing | State::Failed
    ) {
        tracing::info!(media_id = %id, state = asset.state.as_str(), "asset already processed");
        return Ok(());
    }
    db::mark_processing(&state.db, id).await?;
    let kind = asset.kind.as_str();
    let count = |outcome: &'static str| {
        state
            .metrics
            .media_processed
            .get_or_create(&MediaLabels { kind, outcome })
            .inc();
    };
    match make(state, &asset).await {
        Ok(made) => {
            store(state, &asset, made).await?;
            count("ready");
            tracing::info!(media_id = %id, kind, "media ready");
            Ok(())
        }
        Err(Failure::Rejected { reason, infected }) => {
            reject(state, id, &reason).await?;
            count(if infected { "infected" } else { "rejected" });
            tracing::info!(media_id = %id, kind, %reason, "media rejected");
            Ok(())
        }
        Err(Failure::Retry(e)) => {
            if last_attempt {
                db::mark_failed(&state.db, id, FAILED_REASON).await?;
                count("failed");
                tracing::error!(media_id = %id, kind, error = %format!("{e:#}"), "media processing failed for good");
            }
            Err(JobError::Retry(e))
        }
    }
}

/// Work directories are `zinovia-media-<pid>-…` in the temporary directory.
const WORK_DIR_PREFIX: &str = "zinovia-media-";

/// Removes the work directories of processes that are gone (a worker killed mid-transcode
/// leaves its files behind: for a long video, gigabytes).
fn sweep_work_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(WORK_DIR_PREFIX))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<i32>().ok())
        else {
            continue;
        };
        let gone = pid != std::process::id() as i32
            && nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None)
                == Err(nix::errno::Errno::ESRCH);
        if gone {
            match std::fs::remove_dir_all(entry.path()) {
                Ok(()) => {
                    tracing::info!(dir = %entry.path().display(), "removed the work files of a stopped worker")
                }
                Err(e) => {
                    tracing::warn!(dir = %entry.path().display(), error = %e, "could not remove old work files")
                }
            }
        }
    }
}

/// Shown to the uploader when processing kept failing on our side.
const FAILED_REASON: &str = "We could not finish processing this file because of a problem on our side. It is kept and will be tried again.";

/// Why an upload did not become media.
#[derive(Debug)]
enum Failure {
    /// The file's fault: refused for good, with a reason for its uploader.
    Rejected { reason: String, infected: bool },
    /// Ours (storage, scanner, a tool timing out): try again later.
    Retry(anyhow::Error),
}

impl Failure {
    fn rejected(reason: impl Into<String>) -> Failure {
        Failure::Rejected {
            reason: reason.into(),
            infected: false,
        }
    }

    fn retry(e: impl Into<anyhow::Error>) -> Failure {
        Failure::Retry(e.into())
    }
}

impl From<MediaError> for Failure {
    fn from(e: MediaError) -> Failure {
        match e {
            MediaError::Rejected(reason) => Failure::rejected(reason),
            MediaError::Internal(e) => Failure::retry(anyhow::anyhow!(e)),
        }
    }
}

/// Files made from an upload, waiting in the temporary directory.
struct Made {
    width: u32,
    height: u32,
    duration_ms: Option<i32>,
    blurhash: String,
    files: Vec<MadeFile>,
    /// A video's renditions and storyboard.
    hls: Option<serde_json::Value>,
    /// Deleted (with its files) when dropped.
    _dir: tempfile::TempDir,
}

struct MadeFile {
    /// A variant's name, or an HLS file's path (`hls/…`).
    name: String,
    /// Part of the HLS stream: stored under `hls/`, without a variant row.
    hls: bool,
    content_type: &'static str,
    width: u32,
    height: u32,
    bytes: u64,
    path: PathBuf,
}

/// Everything up to the finished files; touches neither the database nor stored variants.
async fn make(state: &AppState, asset: &Asset) -> Result<Made, Failure> {
    let processing = state.processing().map_err(Failure::retry)?;
    let storage = state.storage().map_err(Failure::retry)?;
    let dir = tempfile::Builder::new()
        .prefix(&format!("{WORK_DIR_PREFIX}{}-", std::process::id()))
        .tempdir()
        .map_err(Failure::retry)?;
    let original = dir.path().join("original");

    // 1. Fetch (streaming to disk).
    let meta = match storage
        .get_to_file(&StorageKey::trusted(asset.object_key.clone()), &original)
        .await
    {
        Ok(m) => m,
        Err(StorageError::NotFound) => {
            return Err(Failure::rejected(
                "the uploaded file is missing; please upload it again",
            ));
        }
        Err(e) => return Err(Failure::retry(e)),
    };
    if meta.size == 0 {
        return Err(Failure::rejected("the file is empty"));
    }
    let max = match asset.kind {
        Kind::Image => state.settings.media.media_max_image_bytes,
        Kind::Video => state.settings.media.media_max_video_bytes,
    };
    if meta.size > max {
        return Err(Failure::rejected(format!(
            "the file has {} bytes; the most accepted is {max}",
            meta.size
        )));
    }

    // 2. Malware scan, before anything parses the bytes.
    if let Some(scanner) = &processing.scanner {
        match scanner.scan_file(&original).await.map_err(Failure::retry)? {
            Verdict::Clean => {}
            Verdict::Infected(signature) => {
                return Err(Failure::Rejected {
                    reason: format!("the file contains malware ({signature}) and was deleted"),
                    infected: true,
                });
            }
            Verdict::TooLarge => {
                return Err(Failure::rejected(
                    "the file is too large to be scanned for malware",
                ));
            }
        }
    }

    // 3. The real format, from the bytes.
    let head = read_head(&original).await.map_err(Failure::retry)?;
    let Some(format) = zinovia_media::sniff(&head) else {
        return Err(Failure::rejected(format!(
            "the file is {}",
            zinovia_media::formats::describe_foreign(&head)
        )));
    };
    if !declared_matches(&asset.content_type, format) {
        return Err(Failure::rejected(format!(
            "the file was declared as {} but is {}",
            asset.content_type,
            format.content_type()
        )));
    }

    // 4. By kind.
    match asset.kind {
        Kind::Image => {
            let bytes = tokio::fs::read(&original).await.map_err(Failure::retry)?;
            let p = photo(processing, bytes).await?;
            let files = write_variants(dir.path(), &p).await?;
            Ok(Made {
                width: p.width,
                height: p.height,
                duration_ms: None,
                blurhash: p.blurhash,
                files,
                hls: None,
                _dir: dir,
            })
        }
        Kind::Video => video(state, processing, asset.id, &original, dir).await,
    }
}

/// mp4 and QuickTime files are the same family, and so are WebM and Matroska, and HEIF and
/// HEIC; browsers label them either way.
fn declared_matches(declared: &str, actual: Format) -> bool {
    fn family(t: &str) -> &str {
        match t {
            "video/quicktime" => "video/mp4",
            "video/x-matroska" => "video/webm",
            "image/heif" => "image/heic",
            t => t,
        }
    }
    family(declared) == family(actual.content_type())
}

async fn read_head(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    tokio::fs::File::open(path)
        .await?
        .take(512)
        .read_to_end(&mut head)
        .await?;
    Ok(head)
}

/// Variants of a photo (or a poster frame), on the blocking pool, a bounded number at once.
async fn photo(processing: &Processing, bytes: Vec<u8>) -> Result<Processed, Failure> {
    let _slot = processing
        .cpu
        .clone()
        .acquire_owned()
        .await
        .map_err(Failure::retry)?;
    let limits = processing.image_limits;
    let processed = tokio::task::spawn_blocking(move || {
        zinovia_media::image::process(&bytes, &limits, Encoding::default())
    })
    .await
    .map_err(|e| {
        if e.is_panic() {
            // A decoder bug on these bytes: running it again would panic again.
            tracing::error!(error = %e, "an image decoder panicked; the file is refused");
            Failure::rejected("the image is damaged and cannot be read")
        } else {
            Failure::retry(anyhow::anyhow!("the image task failed: {e}"))
        }
    })??;
    Ok(processed)
}

async fn write_variants(dir: &Path, p: &Processed) -> Result<Vec<MadeFile>, Failure> {
    let mut files = Vec::with_capacity(p.variants.len());
    for v in &p.variants {
        let path = dir.join(&v.name);
        tokio::fs::write(&path, &v.bytes)
            .await
            .map_err(Failure::retry)?;
        files.push(MadeFile {
            name: v.name.clone(),
            hls: false,
            content_type: v.content_type,
            width: v.width,
            height: v.height,
            bytes: v.bytes.len() as u64,
            path,
        });
    }
    Ok(files)
}

/// A video: probe and limits, a poster made into the photo variants, then the transcode
/// (`zinovia_media::transcode`: the HLS ladder with encrypted segments, the progressive
/// MP4, the storyboard), its progress written to the asset every second.
async fn video(
    state: &AppState,
    processing: &Processing,
    id: MediaId,
    original: &Path,
    dir: tempfile::TempDir,
) -> Result<Made, Failure> {
    let tools = processing.video_tools().await.map_err(|why| {
        Failure::rejected(format!("videos cannot be processed on this server ({why})"))
    })?;
    let info = tools.probe(original).await?;
    processing
        .video_limits
        .check_video(&info)
        .map_err(Failure::rejected)?;
    // A frame a second in (or from the middle of a shorter clip) is rarely a black fade-in.
    let at = if info.duration.is_finite() {
        (info.duration / 2.0).min(1.0)
    } else {
        0.0
    };
    let png = tools.poster(original, at).await?;
    let poster = photo(processing, png).await?;
    let mut files = write_variants(dir.path(), &poster).await?;

    let opts = transcode::Options {
        preset: processing.video_preset.clone(),
        timeout: processing.tool_timeout
            + std::time::Duration::from_secs_f64(
                info.duration.max(1.0) * f64::from(processing.transcode_timeout_factor),
            ),
        ..transcode::Options::default()
    };
    let plan = transcode::plan(&info, &opts);
    let fresh: [u8; 16] = rand::random();
    let key: [u8; 16] = db::hls_key(&state.db, id, &fresh)
        .await
        .map_err(Failure::retry)?
        .and_then(|k| k.try_into().ok())
        .ok_or_else(|| Failure::retry(anyhow::anyhow!("the asset's HLS key is missing")))?;

    // Progress: ffmpeg reports often; the asset is updated at most once a second.
    let percent = Arc::new(AtomicI16::new(0));
    let ticker = {
        let (percent, db) = (Arc::clone(&percent), state.db.clone());
        tokio::spawn(async move {
            let mut written = -1;
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                tick.tick().await;
                let now = percent.load(Ordering::Relaxed);
                if now != written && db::set_progress(&db, id, now).await.is_ok() {
                    written = now;
                }
            }
        })
    };
    let out = dir.path().join("out");
    let made = tools
        .transcode(original, &out, &plan, &opts, Some(key), &|share| {
            // 100 only once the files are stored.
            percent.store(
                (share * 100.0).floor().clamp(0.0, 99.0) as i16,
                Ordering::Relaxed,
            );
        })
        .await;
    ticker.abort();
    let made = made?;

    for f in &made.files {
        files.push(MadeFile {
            hls: f.rel != made.mp4,
            name: f.rel.clone(),
            content_type: f.content_type,
            width: made.renditions[0].rendition.width,
            height: made.renditions[0].rendition.height,
            bytes: f.bytes,
            path: f.path.clone(),
        });
    }
    let hls = serde_json::json!({
        "segment_seconds": plan.segment_seconds,
        "renditions": made.renditions.iter().map(|r| serde_json::json!({
            "name": r.rendition.name,
            "width": r.rendition.width,
            "height": r.rendition.height,
            "bandwidth": r.bandwidth,
            "average_bandwidth": r.average_bandwidth,
            "codecs": r.codecs,
        })).collect::<Vec<_>>(),
        "storyboard": {
            "interval": made.storyboard.interval,
            "width": made.storyboard.width,
            "height": made.storyboard.height,
            "columns": made.storyboard.columns,
            "rows": made.storyboard.rows,
            "count": made.storyboard.count,
        },
    });
    let duration_ms = (info.duration * 1000.0).round();
    Ok(Made {
        width: info.width,
        height: info.height,
        duration_ms: (duration_ms.is_finite()
            && duration_ms >= 0.0
            && duration_ms < f64::from(i32::MAX))
        .then_some(duration_ms as i32),
        blurhash: poster.blurhash,
        files,
        hls: Some(hls),
        _dir: dir,
    })
}

/// Uploads the files under their fixed keys, then records them and marks the asset ready
/// in one transaction. An asset deleted meanwhile gets its new files removed again.
async fn store(state: &AppState, asset: &Asset, made: Made) -> Result<(), JobError> {
    let storage = state.storage().map_err(|e| JobError::Retry(e.into()))?;
    let id = asset.id;
    let mut rows = Vec::with_capacity(made.files.len());
    // The HLS files (hundreds for a long video), a few at a time; every one is stored
    // before anything says the asset is ready.
    let mut uploads = Vec::new();
    for f in made.files.iter().filter(|f| f.hls) {
        let key = StorageKey::hls(id.0, &f.name)
            .ok_or_else(|| JobError::Abort(anyhow::anyhow!("bad HLS file name {}", f.name)))?;
        uploads.push(async move { storage.put_file(&key, &f.path, f.content_type).await });
    }
    futures::stream::iter(uploads)
        .buffer_unordered(8)
        .try_collect::<Vec<()>>()
        .await
        .map_err(JobError::retry)?;
    for f in made.files.iter().filter(|f| !f.hls) {
        let key = StorageKey::variant(id.0, &f.name)
            .ok_or_else(|| JobError::Abort(anyhow::anyhow!("bad variant name {}", f.name)))?;
        storage
            .put_file(&key, &f.path, f.content_type)
            .await
            .map_err(JobError::retry)?;
        rows.push(db::NewVariant {
            name: f.name.clone(),
            object_key: key.as_str().to_owned(),
            content_type: f.content_type,
            width: i32::try_from(f.width).unwrap_or(i32::MAX),
            height: i32::try_from(f.height).unwrap_or(i32::MAX),
            byte_size: i64::try_from(f.bytes).unwrap_or(i64::MAX),
        });
    }
    let mut tx = state.db.begin().await?;
    if db::get_for_update(&mut tx, id).await?.is_none() {
        drop(tx);
        // Deleted while we worked: the deletion job may have run before our uploads.
        storage.delete_asset(id.0).await.map_err(JobError::retry)?;
        tracing::info!(media_id = %id, "asset deleted during processing; its new files removed");
        return Ok(());
    }
    db::replace_variants(&mut tx, id, &rows).await?;
    db::mark_ready(
        &mut *tx,
        id,
        db::Finished {
            width: i32::try_from(made.width).unwrap_or(i32::MAX),
            height: i32::try_from(made.height).unwrap_or(i32::MAX),
            duration_ms: made.duration_ms,
            blurhash: &made.blurhash,
            hls: made.hls.clone(),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Marks the asset rejected with its reason, forgets its variants, and hands its files to
/// `delete_media_files` in the same transaction.
async fn reject(state: &AppState, id: MediaId, reason: &str) -> Result<(), JobError> {
    let mut tx = state.db.begin().await?;
    if db::get_for_update(&mut tx, id).await?.is_none() {
        return Ok(());
    }
    db::replace_variants(&mut tx, id, &[]).await?;
    db::mark_rejected(&mut *tx, id, reason).await?;
    crate::jobs::enqueue(&mut *tx, &super::jobs::DeleteMediaFiles { asset_id: id }).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declared_types_must_match_the_bytes() {
        assert!(declared_matches("image/jpeg", Format::Jpeg));
        assert!(!declared_matches("image/png", Format::Jpeg));
        assert!(declared_matches("video/quicktime", Format::Mp4));
        assert!(declared_matches("video/mp4", Format::QuickTime));
        assert!(!declared_matches("video/webm", Format::Mp4));
        assert!(declared_matches("video/x-matroska", Format::WebM));
        assert!(!declared_matches("image/jpeg", Format::Mp4));
    }
}
