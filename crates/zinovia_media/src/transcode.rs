//! Videos into what every player plays (ADR 0026): one ffmpeg run decodes the upload once
//! and, from a `split` in its filter graph, encodes an HLS ladder (H.264 High + AAC,
//! renditions from 1080p down to 360p never above the source, keyframes forced at the same
//! instants in every rendition, 4 s fMP4/CMAF segments, one shared stereo AAC track) and a
//! storyboard (a sprite sheet of thumbnails for scrubbing). Then, without encoding again:
//! a progressive faststart MP4 is assembled from the top rendition's segments, the master
//! playlist is written with the bandwidths measured from the segments, and every segment is
//! encrypted with AES-128 under the asset's key (the key's URI in the playlists is `key`,
//! for the server to replace with its own address when it hands a playlist out).
//!
//! HDR (PQ or HLG) is tone-mapped to SDR BT.709, a phone's rotation is applied by the
//! decoder (and so not carried over), frame rates over the cap are reduced, and nothing of
//! the upload's metadata (titles, locations, devices, chapters) reaches the outputs.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::MediaError;
use crate::video::{FORMAT_WHITELIST, PROTOCOL_WHITELIST, Tools, VideoInfo};

/// The ladder: a rendition's short side and its bit-rate cap (kbit/s at up to 30 fps).
pub const LADDER: [(u32, u32); 4] = [(1080, 5000), (720, 3000), (480, 1400), (360, 800)];

/// The AAC track's bit rate, kbit/s.
const AUDIO_KBPS: u32 = 128;

/// How to transcode.
#[derive(Debug, Clone)]
pub struct Options {
    /// The x264 preset (ADR 0026 says why `veryfast`).
    pub preset: String,
    /// x264's constant rate factor, under each rendition's bit-rate cap.
    pub crf: u8,
    /// Segment length, seconds (keyframes are forced at every multiple).
    pub segment_seconds: u32,
    /// Frame rates above this are reduced to it.
    pub max_fps: f64,
    /// ffmpeg is stopped after this long.
    pub timeout: Duration,
    /// Decode once for all renditions (`true`), or once per rendition (only for measuring
    /// what the one pass saves).
    pub one_pass: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            preset: "veryfast".into(),
            crf: 21,
            segment_seconds: 4,
            max_fps: 60.0,
            timeout: Duration::from_secs(3600),
            one_pass: true,
        }
    }
}

/// One rendition of the ladder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendition {
    /// `1080p`, `720p`, … (also its directory).
    pub name: String,
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// Bit-rate cap, kbit/s.
    pub maxrate_kbps: u32,
}

/// The storyboard's geometry: `count` thumbnails, one every `interval` seconds, in sheets
/// of `columns` × `rows`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Storyboard {
    /// Seconds between thumbnails.
    pub interval: f64,
    /// A thumbnail's width, pixels.
    pub width: u32,
    /// A thumbnail's height, pixels.
    pub height: u32,
    /// Thumbnails across a sheet.
    pub columns: u32,
    /// Thumbnails down a sheet.
    pub rows: u32,
    /// Thumbnails in all.
    pub count: u32,
}

/// What will be made from a video.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Largest first.
    pub renditions: Vec<Rendition>,
    /// The output frame rate when the source's is over the cap.
    pub fps_cap: Option<f64>,
    /// Tone-map HDR to SDR.
    pub hdr: bool,
    /// Whether there is a sound track to encode.
    pub audio: bool,
    /// The storyboard.
    pub storyboard: Storyboard,
    /// Seconds.
    pub duration: f64,
    /// Seconds.
    pub segment_seconds: u32,
}

fn even(v: f64) -> u32 {
    ((v / 2.0).round() as u32).max(1) * 2
}

/// The ladder for a probed video: every rung whose short side fits in the source's (never
/// upscaled), or the source's own size when it is smaller than the lowest rung.
pub fn plan(info: &VideoInfo, opts: &Options) -> Plan {
    let (w, h) = (f64::from(info.width.max(1)), f64::from(info.height.max(1)));
    let landscape = w >= h;
    let short = info.width.min(info.height);
    let fast = info.fps > 31.0 && opts.max_fps > 31.0;
    let size = |p: u32| {
        let p = f64::from(p);
        if landscape {
            (even(w * p / h), even(p))
        } else {
            (even(p), even(h * p / w))
        }
    };
    let mut renditions: Vec<Rendition> = LADDER
        .iter()
        .filter(|(p, _)| *p <= short)
        .map(|&(p, kbps)| {
            let (width, height) = size(p);
            Rendition {
                name: format!("{p}p"),
                width,
                height,
                maxrate_kbps: if fast { kbps * 3 / 2 } else { kbps },
            }
        })
        .collect();
    if renditions.is_empty() {
        renditions.push(Rendition {
            name: format!("{short}p"),
            width: even(w),
            height: even(h),
            maxrate_kbps: LADDER[LADDER.len() - 1].1,
        });
    }
    let duration = if info.duration.is_finite() && info.duration > 0.0 {
        info.duration
    } else {
        1.0
    };
    let interval = (duration / 200.0).ceil().max(2.0);
    let count = ((duration / interval).ceil() as u32).max(1);
    let (tw, th) = if landscape {
        (160, even(160.0 * h / w))
    } else {
        (even(160.0 * w / h), 160)
    };
    let columns = count.min(10);
    Plan {
        renditions,
        fps_cap: (info.fps > opts.max_fps + 0.01).then_some(opts.max_fps),
        hdr: info.is_hdr(),
        audio: info.has_audio,
        storyboard: Storyboard {
            interval,
            width: tw,
            height: th,
            columns,
            rows: count.div_ceil(columns).min(10),
            count,
        },
        duration,
        segment_seconds: opts.segment_seconds.max(1),
    }
}

/// A file made, relative to the output directory.
#[derive(Debug, Clone)]
pub struct OutFile {
    /// `hls/master.m3u8`, `hls/720p/s3.m4s`, `video.mp4`, …
    pub rel: String,
    /// Where it is.
    pub path: PathBuf,
    /// Its content type.
    pub content_type: &'static str,
    /// Its size.
    pub bytes: u64,
}

/// A rendition as made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MadeRendition {
    /// As planned.
    pub rendition: Rendition,
    /// Peak bit rate of its segments (with the sound), bits per second.
    pub bandwidth: u64,
    /// Average bit rate (with the sound), bits per second.
    pub average_bandwidth: u64,
    /// RFC 6381 codecs (`avc1.640028,mp4a.40.2`).
    pub codecs: String,
}

/// What a transcode made.
#[derive(Debug, Clone)]
pub struct Transcoded {
    /// Largest first.
    pub renditions: Vec<MadeRendition>,
    /// Every file, the progressive MP4 included.
    pub files: Vec<OutFile>,
    /// The storyboard's geometry.
    pub storyboard: Storyboard,
    /// The progressive MP4's name in `files`.
    pub mp4: String,
}

/// A media playlist as ffmpeg wrote it.
#[derive(Debug, Clone)]
struct MediaPlaylist {
    lines: Vec<String>,
    init: String,
    /// (duration, file name), in order.
    segments: Vec<(f64, String)>,
    first_sequence: u64,
}

fn read_playlist(path: &Path) -> Result<MediaPlaylist, MediaError> {
    let text = std::fs::read_to_string(path).map_err(internal)?;
    let mut init = None;
    let mut segments = Vec::new();
    let mut first_sequence = 0;
    let mut pending = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("#EXT-X-MAP:URI=\"") {
            init = rest.strip_suffix('"').map(ToOwned::to_owned);
        } else if let Some(rest) = line.strip_prefix("#EXT-X-MEDIA-SEQUENCE:") {
            first_sequence = rest.trim().parse().unwrap_or(0);
        } else if let Some(rest) = line.strip_prefix("#EXTINF:") {
            pending = rest
                .split(',')
                .next()
                .and_then(|d| d.trim().parse::<f64>().ok());
        } else if !line.starts_with('#') && !line.trim().is_empty() {
            let d = pending.take().ok_or_else(|| {
                internal(format!("{}: a segment without a duration", path.display()))
            })?;
            segments.push((d, line.trim().to_owned()));
        }
    }
    let init = init.ok_or_else(|| internal(format!("{}: no EXT-X-MAP", path.display())))?;
    if segments.is_empty() {
        return Err(internal(format!("{}: no segments", path.display())));
    }
    Ok(MediaPlaylist {
        lines: text.lines().map(ToOwned::to_owned).collect(),
        init,
        segments,
        first_sequence,
    })
}

fn internal(e: impl std::fmt::Display) -> MediaError {
    MediaError::Internal(e.to_string())
}

/// The tone-mapping chain for PQ and HLG sources (zimg's linearisation, Hable's curve).
const TONEMAP: &str = "zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv";

/// What one ffmpeg run makes: `which` renditions (indexes into the plan), the sound when
/// `audio`, the storyboard when `storyboard`; ffmpeg's own master playlist is `master`.
struct Run<'a> {
    which: &'a [usize],
    audio: bool,
    storyboard: bool,
    master: &'a str,
}

fn push(a: &mut Vec<std::ffi::OsString>, s: impl AsRef<std::ffi::OsStr>) {
    a.push(s.as_ref().to_owned());
}

/// The arguments of one ffmpeg run.
fn ffmpeg_args(
    input: &Path,
    out: &Path,
    plan: &Plan,
    opts: &Options,
    run: &Run<'_>,
) -> Vec<std::ffi::OsString> {
    let Run {
        which,
        audio,
        storyboard,
        master,
    } = *run;
    let mut a: Vec<std::ffi::OsString> = Vec::new();
    for s in [
        "-hide_banner",
        "-nostats",
        "-loglevel",
        "error",
        "-y",
        "-progress",
        "pipe:1",
        "-format_whitelist",
        FORMAT_WHITELIST,
        "-protocol_whitelist",
        PROTOCOL_WHITELIST,
        "-i",
    ] {
        push(&mut a, s);
    }
    a.push(input.as_os_str().to_owned());

    let mut pre: Vec<String> = Vec::new();
    if plan.hdr {
        pre.push(TONEMAP.into());
    }
    if let Some(fps) = plan.fps_cap {
        pre.push(format!("fps={fps}"));
    }
    pre.push("format=yuv420p".into());
    let branches = which.len() + usize::from(storyboard);
    let mut graph = format!("[0:v]{},split={branches}", pre.join(","));
    for i in 0..branches {
        let _ = write!(graph, "[s{i}]");
    }
    for (i, &r) in which.iter().enumerate() {
        let r = &plan.renditions[r];
        let _ = write!(
            graph,
            ";[s{i}]scale={}:{}:flags=bicubic,setsar=1[v{i}]",
            r.width, r.height
        );
    }
    if storyboard {
        let sb = &plan.storyboard;
        let _ = write!(
            graph,
            ";[s{}]fps=1/{},scale={}:{}:flags=bicubic[sb]",
            which.len(),
            sb.interval,
            sb.width,
            sb.height,
        );
    }
    push(&mut a, "-filter_complex");
    push(&mut a, &graph);

    // The HLS output: the video renditions, then the sound.
    for i in 0..which.len() {
        push(&mut a, "-map");
        push(&mut a, format!("[v{i}]"));
    }
    if audio {
        push(&mut a, "-map");
        push(&mut a, "0:a:0");
    }
    let gop = (plan.fps_cap.unwrap_or(60.0) * f64::from(plan.segment_seconds) * 2.0).ceil();
    for s in [
        "-c:v",
        "libx264",
        "-preset",
        &opts.preset,
        "-profile:v",
        "high",
        "-pix_fmt",
        "yuv420p",
        "-crf",
        &opts.crf.to_string(),
        "-sc_threshold",
        "0",
        "-g",
        &format!("{gop}"),
        "-force_key_frames",
        &format!("expr:gte(t,n_forced*{})", plan.segment_seconds),
    ] {
        push(&mut a, s);
    }
    if plan.hdr {
        for s in [
            "-colorspace",
            "bt709",
            "-color_primaries",
            "bt709",
            "-color_trc",
            "bt709",
        ] {
            push(&mut a, s);
        }
    }
    for (i, &r) in which.iter().enumerate() {
        let kbps = plan.renditions[r].maxrate_kbps;
        push(&mut a, format!("-maxrate:v:{i}"));
        push(&mut a, format!("{kbps}k"));
        push(&mut a, format!("-bufsize:v:{i}"));
        push(&mut a, format!("{}k", kbps * 2));
    }
    if audio {
        for s in [
            "-c:a",
            "aac",
            "-b:a",
            &format!("{AUDIO_KBPS}k"),
            "-ac",
            "2",
            "-ar",
            "48000",
        ] {
            push(&mut a, s);
        }
    }
    let mut map: Vec<String> = Vec::new();
    if audio {
        map.push("a:0,agroup:audio,name:audio".into());
    }
    for (i, &r) in which.iter().enumerate() {
        let name = &plan.renditions[r].name;
        map.push(if audio {
            format!("v:{i},agroup:audio,name:{name}")
        } else {
            format!("v:{i},name:{name}")
        });
    }
    let hls = out.join("hls");
    for s in [
        "-map_metadata",
        "-1",
        "-map_chapters",
        "-1",
        "-f",
        "hls",
        "-hls_time",
        &plan.segment_seconds.to_string(),
        "-hls_playlist_type",
        "vod",
        "-hls_segment_type",
        "fmp4",
        "-hls_flags",
        "independent_segments",
        "-hls_fmp4_init_filename",
        "init.mp4",
        "-hls_segment_filename",
        &format!("{}/%v/s%d.m4s", hls.display()),
        "-master_pl_name",
        master,
        "-var_stream_map",
        &map.join(" "),
        &format!("{}/%v/index.m3u8", hls.display()),
    ] {
        push(&mut a, s);
    }
    if storyboard {
        for s in [
            "-map",
            "[sb]",
            "-map_metadata",
            "-1",
            "-c:v",
            "mjpeg",
            "-q:v",
            "5",
            "-f",
            "image2",
            "-start_number",
            "0",
            // One file per thumbnail, tiled into sheets afterwards (`tile_storyboard`): a
            // `tile` filter here would hold its frames until a sheet is full, and ffmpeg
            // reports no progress while any output waits.
            &format!("{}/%d.jpg", out.join(THUMBS).display()),
        ] {
            push(&mut a, s);
        }
    }
    a
}

/// `CODECS` of each rendition (by directory name) in a master playlist ffmpeg wrote.
fn codecs_in_master(text: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut codecs = None;
    for line in text.lines() {
        if line.starts_with("#EXT-X-STREAM-INF:") {
            codecs = line
                .split_once("CODECS=\"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .map(|(c, _)| c.to_owned());
        } else if !line.starts_with('#')
            && !line.trim().is_empty()
            && let (Some(c), Some((dir, _))) = (codecs.take(), line.trim().split_once('/'))
        {
            found.push((dir.to_owned(), c));
        }
    }
    found
}

/// The work folder of the storyboard's single thumbnails.
const THUMBS: &str = "sb-thumbs";

impl Tools {
    /// Tiles the storyboard's thumbnails into its sheets (`hls/sb/<n>.jpg`, `columns` ×
    /// `rows` each, the last one padded), then removes them.
    async fn tile_storyboard(
        &self,
        out: &Path,
        plan: &Plan,
        opts: &Options,
    ) -> Result<(), MediaError> {
        let sb = &plan.storyboard;
        let thumbs = out.join(THUMBS);
        let args: Vec<std::ffi::OsString> = vec![
            "-hide_banner".into(),
            "-nostats".into(),
            "-loglevel".into(),
            "error".into(),
            "-y".into(),
            "-protocol_whitelist".into(),
            "file".into(),
            "-f".into(),
            "image2".into(),
            "-framerate".into(),
            "1".into(),
            "-start_number".into(),
            "0".into(),
            "-i".into(),
            thumbs.join("%d.jpg").into(),
            "-vf".into(),
            format!("tile={}x{}", sb.columns, sb.rows).into(),
            "-c:v".into(),
            "mjpeg".into(),
            "-q:v".into(),
            "5".into(),
            "-f".into(),
            "image2".into(),
            "-start_number".into(),
            "0".into(),
            out.join("hls").join("sb").join("%d.jpg").into(),
        ];
        let args: Vec<&std::ffi::OsStr> = args.iter().map(|s| s.as_os_str()).collect();
        self.run_with(self.ffmpeg(), &args, opts.timeout, None)
            .await?;
        std::fs::remove_dir_all(&thumbs).map_err(internal)
    }

    /// Transcodes `input` (probed as `info`) into `out` as planned; `progress` hears the
    /// share done (0.0–1.0) as ffmpeg reports it. With `key`, segments are encrypted.
    pub async fn transcode(
        &self,
        input: &Path,
        out: &Path,
        plan: &Plan,
        opts: &Options,
        key: Option<[u8; 16]>,
        progress: &(dyn Fn(f64) + Send + Sync),
    ) -> Result<Transcoded, MediaError> {
        let hls = out.join("hls");
        std::fs::create_dir_all(hls.join("sb")).map_err(internal)?;
        std::fs::create_dir_all(out.join(THUMBS)).map_err(internal)?;
        // The runs: one for everything, or one per rendition (the sound and the storyboard
        // with the first).
        let all: Vec<usize> = (0..plan.renditions.len()).collect();
        let runs: Vec<Vec<usize>> = if opts.one_pass {
            vec![all]
        } else {
            all.iter().map(|&i| vec![i]).collect()
        };
        let n_runs = runs.len() as f64;
        let mut masters = Vec::new();
        for (k, which) in runs.iter().enumerate() {
            let master = format!("ffmpeg-master-{k}.m3u8");
            let run = Run {
                which,
                audio: plan.audio && k == 0,
                storyboard: k == 0,
                master: &master,
            };
            let args = ffmpeg_args(input, out, plan, opts, &run);
            let args: Vec<&std::ffi::OsStr> = args.iter().map(|s| s.as_os_str()).collect();
            let total = plan.duration;
            let mut on_line = |line: &str| {
                if let Some(us) = line
                    .strip_prefix("out_time_us=")
                    .and_then(|v| v.trim().parse::<f64>().ok())
                {
                    let share = (us / 1e6 / total).clamp(0.0, 1.0);
                    progress(((k as f64) + share) / n_runs);
                }
            };
            self.run_with(self.ffmpeg(), &args, opts.timeout, Some(&mut on_line))
                .await?;
            masters.push(hls.join(&master));
        }

        self.tile_storyboard(out, plan, opts).await?;

        // What ffmpeg made: the playlists, their segments and the codecs it names.
        let mut codecs = Vec::new();
        for m in &masters {
            codecs.extend(codecs_in_master(
                &std::fs::read_to_string(m).map_err(internal)?,
            ));
            std::fs::remove_file(m).map_err(internal)?;
        }
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).map_err(internal);
        let audio = if plan.audio {
            Some(read_playlist(&hls.join("audio/index.m3u8"))?)
        } else {
            None
        };
        let audio_rates = match &audio {
            Some(a) => rates(&hls.join("audio"), a)?,
            None => (0, 0),
        };
        let mut made = Vec::new();
        let mut playlists = Vec::new();
        for r in &plan.renditions {
            let dir = hls.join(&r.name);
            let p = read_playlist(&dir.join("index.m3u8"))?;
            let seconds: f64 = p.segments.iter().map(|(d, _)| d).sum();
            let segment = f64::from(plan.segment_seconds);
            if seconds < plan.duration * 0.9 - segment || seconds > plan.duration + 2.0 * segment {
                // A file cut short (or lying about its length) decodes to less than it says.
                return Err(MediaError::Rejected(format!(
                    "the video is damaged: {seconds:.0} s of its {:.0} s could be read",
                    plan.duration
                )));
            }
            let (peak, average) = rates(&dir, &p)?;
            let video_codec = codecs
                .iter()
                .find(|(d, _)| d == &r.name)
                .and_then(|(_, c)| c.split(',').find(|c| c.starts_with("avc1.")))
                .ok_or_else(|| internal(format!("no codec string for {}", r.name)))?;
            made.push(MadeRendition {
                rendition: r.clone(),
                bandwidth: peak + audio_rates.0,
                average_bandwidth: average + audio_rates.1,
                codecs: if plan.audio {
                    format!("{video_codec},mp4a.40.2")
                } else {
                    video_codec.to_owned()
                },
            });
            playlists.push((dir, p));
        }
        // Output sanity: nothing far above what the caps allow.
        let cap_bits = plan
            .renditions
            .iter()
            .map(|r| u64::from(r.maxrate_kbps) * 1000)
            .sum::<u64>()
            + u64::from(AUDIO_KBPS) * 1000;
        let allowed = (cap_bits as f64 * plan.duration * 2.0 / 8.0) as u64 + (4 << 20);
        let mut made_bytes = 0;
        for (dir, p) in &playlists {
            for (_, f) in &p.segments {
                made_bytes += size(&dir.join(f))?;
            }
        }
        if made_bytes > allowed {
            return Err(internal(format!(
                "the renditions came out at {made_bytes} bytes, over the {allowed} the caps allow"
            )));
        }

        // The progressive MP4: the top rendition's fragments (and the sound's) as one file,
        // remuxed with the index first. No second encode.
        let work = out.join("work");
        std::fs::create_dir_all(&work).map_err(internal)?;
        let (top_dir, top) = &playlists[0];
        let top_file = work.join("top.mp4");
        concat_fragments(top_dir, top, &top_file)?;
        let mut mp4_args: Vec<std::ffi::OsString> = [
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-format_whitelist",
            FORMAT_WHITELIST,
            "-protocol_whitelist",
            PROTOCOL_WHITELIST,
            "-i",
        ]
        .into_iter()
        .map(Into::into)
        .collect();
        mp4_args.push(top_file.clone().into());
        if let Some(a) = &audio {
            let audio_file = work.join("audio.mp4");
            concat_fragments(&hls.join("audio"), a, &audio_file)?;
            mp4_args.extend(["-format_whitelist", FORMAT_WHITELIST, "-i"].map(Into::into));
            mp4_args.push(audio_file.into());
        }
        // The picture first, then the sound.
        mp4_args.extend(["-map", "0:v:0"].map(Into::into));
        if audio.is_some() {
            mp4_args.extend(["-map", "1:a:0"].map(Into::into));
        }
        let mp4 = out.join("video.mp4");
        mp4_args.extend(
            [
                "-c",
                "copy",
                "-map_metadata",
                "-1",
                "-map_chapters",
                "-1",
                "-movflags",
                "+faststart",
                "-f",
                "mp4",
            ]
            .map(Into::into),
        );
        mp4_args.push(mp4.clone().into());
        let mp4_args: Vec<&std::ffi::OsStr> = mp4_args.iter().map(|s| s.as_os_str()).collect();
        self.run_with(self.ffmpeg(), &mp4_args, opts.timeout, None)
            .await?;
        std::fs::remove_dir_all(&work).map_err(internal)?;

        // The storyboard's cues, then the master playlist, then encryption.
        std::fs::write(hls.join("storyboard.vtt"), storyboard_vtt(plan)).map_err(internal)?;
        std::fs::write(hls.join("master.m3u8"), master_playlist(&made, plan)).map_err(internal)?;
        if let Some(key) = key {
            if let Some(a) = &audio {
                encrypt_playlist(&hls.join("audio"), a, &key)?;
            }
            for (dir, p) in &playlists {
                encrypt_playlist(dir, p, &key)?;
            }
        }
        progress(1.0);

        let mut files = Vec::new();
        collect_files(out, &hls, &mut files)?;
        files.push(OutFile {
            rel: "video.mp4".into(),
            bytes: size(&mp4)?,
            path: mp4,
            content_type: "video/mp4",
        });
        files.sort_by(|a, b| a.rel.cmp(&b.rel));
        Ok(Transcoded {
            renditions: made,
            files,
            storyboard: plan.storyboard,
            mp4: "video.mp4".into(),
        })
    }
}

/// (peak, average) bit rate of a playlist's segments, bits per second.
fn rates(dir: &Path, p: &MediaPlaylist) -> Result<(u64, u64), MediaError> {
    let mut peak = 0.0_f64;
    let (mut bytes, mut seconds) = (0_u64, 0.0_f64);
    for (d, f) in &p.segments {
        let b = std::fs::metadata(dir.join(f)).map_err(internal)?.len();
        bytes += b;
        seconds += d;
        if *d > 0.5 {
            peak = peak.max(b as f64 * 8.0 / d);
        }
    }
    let average = if seconds > 0.0 {
        bytes as f64 * 8.0 / seconds
    } else {
        0.0
    };
    Ok((peak.max(average).ceil() as u64, average.ceil() as u64))
}

/// The init section and every fragment, in order, as one fragmented MP4 file.
fn concat_fragments(dir: &Path, p: &MediaPlaylist, to: &Path) -> Result<(), MediaError> {
    use std::io::Write as _;
    let mut file = std::io::BufWriter::new(std::fs::File::create(to).map_err(internal)?);
    for name in std::iter::once(&p.init).chain(p.segments.iter().map(|(_, f)| f)) {
        let mut part = std::fs::File::open(dir.join(name)).map_err(internal)?;
        std::io::copy(&mut part, &mut file).map_err(internal)?;
    }
    file.flush().map_err(internal)
}

/// The master playlist: the shared sound, then each rendition with its measured
/// bandwidths, resolution, frame rate and codecs.
fn master_playlist(made: &[MadeRendition], plan: &Plan) -> String {
    let mut m = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
    if plan.audio {
        m.push_str("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"audio\",NAME=\"Sound\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"audio/index.m3u8\"\n");
    }
    for r in made {
        let _ = write!(
            m,
            "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},RESOLUTION={}x{},CODECS=\"{}\"",
            r.bandwidth, r.average_bandwidth, r.rendition.width, r.rendition.height, r.codecs
        );
        if plan.audio {
            m.push_str(",AUDIO=\"audio\"");
        }
        let _ = write!(m, "\n{}/index.m3u8\n", r.rendition.name);
    }
    m
}

fn timestamp(seconds: f64) -> String {
    let ms = (seconds * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// WebVTT cues pointing into the sprite sheets (`sb/<sheet>.jpg#xywh=x,y,w,h`).
pub fn storyboard_vtt(plan: &Plan) -> String {
    let sb = &plan.storyboard;
    let per_sheet = sb.columns * sb.rows;
    let mut v = String::from("WEBVTT\n");
    for i in 0..sb.count {
        let start = f64::from(i) * sb.interval;
        if start >= plan.duration && i > 0 {
            break;
        }
        let end = (start + sb.interval).min(plan.duration.max(start + 0.001));
        let (sheet, at) = (i / per_sheet, i % per_sheet);
        let _ = write!(
            v,
            "\n{} --> {}\nsb/{sheet}.jpg#xywh={},{},{},{}\n",
            timestamp(start),
            timestamp(end),
            at % sb.columns * sb.width,
            at / sb.columns * sb.height,
            sb.width,
            sb.height
        );
    }
    v
}

/// Encrypts each segment in place with AES-128-CBC (PKCS#7), the IV being its media
/// sequence number as HLS defines when the key line names none, and adds the key line after
/// the init section (which stays clear: it holds no picture).
fn encrypt_playlist(dir: &Path, p: &MediaPlaylist, key: &[u8; 16]) -> Result<(), MediaError> {
    use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
    for (i, (_, name)) in p.segments.iter().enumerate() {
        let path = dir.join(name);
        let clear = std::fs::read(&path).map_err(internal)?;
        let iv = u128::from(p.first_sequence + i as u64).to_be_bytes();
        let sealed = cbc::Encryptor::<aes::Aes128>::new(key.into(), &iv.into())
            .encrypt_padded_vec_mut::<Pkcs7>(&clear);
        std::fs::write(&path, sealed).map_err(internal)?;
    }
    let mut text = String::new();
    for line in &p.lines {
        text.push_str(line);
        text.push('\n');
        if line.starts_with("#EXT-X-MAP:") {
            text.push_str("#EXT-X-KEY:METHOD=AES-128,URI=\"key\"\n");
        }
    }
    std::fs::write(dir.join("index.m3u8"), text).map_err(internal)
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("m3u8") => "application/vnd.apple.mpegurl",
        Some("m4s") => "video/iso.segment",
        Some("mp4") => "video/mp4",
        Some("jpg") => "image/jpeg",
        Some("vtt") => "text/vtt",
        _ => "application/octet-stream",
    }
}

fn collect_files(root: &Path, dir: &Path, files: &mut Vec<OutFile>) -> Result<(), MediaError> {
    for entry in std::fs::read_dir(dir).map_err(internal)? {
        let entry = entry.map_err(internal)?;
        let path = entry.path();
        let meta = entry.metadata().map_err(internal)?;
        if meta.is_dir() {
            collect_files(root, &path, files)?;
        } else {
            let rel = path
                .strip_prefix(root)
                .map_err(internal)?
                .to_string_lossy()
                .into_owned();
            files.push(OutFile {
                content_type: content_type(&rel),
                rel,
                path,
                bytes: meta.len(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(width: u32, height: u32, fps: f64) -> VideoInfo {
        VideoInfo {
            width,
            height,
            duration: 60.0,
            video_codec: "h264".into(),
            has_audio: true,
            fps,
            rotation: 0,
            color_transfer: None,
            bit_rate: None,
        }
    }

    #[test]
    fn the_ladder_never_goes_above_the_source_and_follows_the_short_side() {
        let names = |p: &Plan| {
            p.renditions
                .iter()
                .map(|r| format!("{}:{}x{}", r.name, r.width, r.height))
                .collect::<Vec<_>>()
        };
        let o = Options::default();
        assert_eq!(
            names(&plan(&info(3840, 2160, 30.0), &o)),
            [
                "1080p:1920x1080",
                "720p:1280x720",
                "480p:854x480",
                "360p:640x360"
            ]
        );
        assert_eq!(
            names(&plan(&info(1280, 720, 30.0), &o)),
            ["720p:1280x720", "480p:854x480", "360p:640x360"]
        );
        // A phone held upright: the short side is the width.
        assert_eq!(
            names(&plan(&info(1080, 1920, 30.0), &o)),
            [
                "1080p:1080x1920",
                "720p:720x1280",
                "480p:480x854",
                "360p:360x640"
            ]
        );
        // Below the lowest rung: its own size, made even.
        assert_eq!(names(&plan(&info(321, 241, 30.0), &o)), ["241p:322x242"]);
        // 60 fps keeps its rate with more bits; 120 fps is reduced to 60.
        let p = plan(&info(1920, 1080, 60.0), &o);
        assert_eq!((p.fps_cap, p.renditions[0].maxrate_kbps), (None, 7500));
        assert_eq!(plan(&info(1920, 1080, 120.0), &o).fps_cap, Some(60.0));
    }

    #[test]
    fn storyboard_cues_walk_the_sheets() {
        let mut i = info(1920, 1080, 30.0);
        i.duration = 7.0;
        let p = plan(&i, &Options::default());
        assert_eq!(p.storyboard.count, 4);
        assert_eq!((p.storyboard.columns, p.storyboard.rows), (4, 1));
        let vtt = storyboard_vtt(&p);
        assert!(vtt.starts_with("WEBVTT\n"));
        assert!(vtt.contains("00:00:00.000 --> 00:00:02.000\nsb/0.jpg#xywh=0,0,160,90\n"));
        assert!(vtt.contains("00:00:06.000 --> 00:00:07.000\nsb/0.jpg#xywh=480,0,160,90\n"));
        // A long video: 200 thumbnails at most, in sheets of 100.
        i.duration = 3600.0;
        let p = plan(&i, &Options::default());
        assert_eq!((p.storyboard.interval, p.storyboard.count), (18.0, 200));
        assert!(storyboard_vtt(&p).contains("sb/1.jpg#xywh=0,0,160,90"));
    }

    #[test]
    fn codecs_are_read_per_rendition_from_ffmpegs_master() {
        let m = "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=140800,CODECS=\"mp4a.40.2\",AUDIO=\"group_audio\"\naudio/index.m3u8\n\n#EXT-X-STREAM-INF:BANDWIDTH=1,RESOLUTION=1280x720,CODECS=\"avc1.64001f,mp4a.40.2\",AUDIO=\"group_audio\"\n720p/index.m3u8\n";
        assert_eq!(
            codecs_in_master(m),
            [
                ("audio".to_owned(), "mp4a.40.2".to_owned()),
                ("720p".to_owned(), "avc1.64001f,mp4a.40.2".to_owned())
            ]
        );
    }
}
