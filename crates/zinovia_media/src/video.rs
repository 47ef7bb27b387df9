//! Videos through ffprobe and ffmpeg: probing and a poster frame (transcoding is in
//! `transcode`). Every call whitelists the container formats and the `file`/`pipe` protocols,
//! so a "video" that is really a playlist cannot make ffmpeg open other files, and runs with
//! a timeout, `kill_on_drop`, and a cap on concurrent processes.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::process::Command;
use tokio::sync::Semaphore;

use crate::MediaError;

/// The only container formats ffmpeg may open.
pub const FORMAT_WHITELIST: &str = "mov,mp4,m4a,3gp,3g2,mj2,matroska,webm";
/// The only protocols ffmpeg may use.
pub const PROTOCOL_WHITELIST: &str = "file,pipe";

/// Asks the kernel to kill the tool if this process dies (a worker killed mid-transcode
/// must not leave ffmpeg running, writing into a directory the next worker removes).
/// `kill_on_drop` covers every other way out.
#[cfg(target_os = "linux")]
#[expect(
    unsafe_code,
    reason = "pre_exec runs between fork and exec; prctl(PR_SET_PDEATHSIG) is async-signal-safe"
)]
fn die_with_parent(command: &mut Command) {
    // SAFETY: the closure only calls prctl, which is async-signal-safe, and allocates nothing.
    unsafe {
        command.pre_exec(|| {
            nix::sys::prctl::set_pdeathsig(Some(nix::sys::signal::Signal::SIGKILL))
                .map_err(std::io::Error::from)
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut Command) {}

/// What a probe found.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoInfo {
    /// Pixels as shown (after the rotation a phone recorded is applied).
    pub width: u32,
    /// Pixels as shown.
    pub height: u32,
    /// Seconds.
    pub duration: f64,
    /// The video codec.
    pub video_codec: String,
    /// Whether there is sound.
    pub has_audio: bool,
    /// Frames per second (average; 0 when unknown).
    pub fps: f64,
    /// Degrees the picture is turned when shown (0, 90, 180 or 270).
    pub rotation: u32,
    /// The transfer characteristic (`smpte2084` is PQ, `arib-std-b67` HLG: HDR).
    pub color_transfer: Option<String>,
    /// The whole file's bit rate, bits per second, when known.
    pub bit_rate: Option<u64>,
}

impl VideoInfo {
    /// Whether the picture is HDR (PQ or HLG) and needs tone-mapping to SDR.
    pub fn is_hdr(&self) -> bool {
        matches!(
            self.color_transfer.as_deref(),
            Some("smpte2084" | "arib-std-b67")
        )
    }
}

/// ffmpeg and ffprobe, shared by every job of a process.
#[derive(Debug, Clone)]
pub struct Tools {
    ffmpeg: PathBuf,
    ffprobe: PathBuf,
    timeout: Duration,
    slots: Arc<Semaphore>,
}

#[derive(Deserialize)]
struct ProbeJson {
    #[serde(default)]
    streams: Vec<ProbeStream>,
    format: Option<ProbeFormat>,
}

#[derive(Deserialize)]
struct ProbeStream {
    codec_type: Option<String>,
    codec_name: Option<String>,
    width: Option<u32>,
    height: Option<u32>,
    avg_frame_rate: Option<String>,
    color_transfer: Option<String>,
    #[serde(default)]
    side_data_list: Vec<ProbeSideData>,
}

#[derive(Deserialize)]
struct ProbeSideData {
    rotation: Option<f64>,
}

#[derive(Deserialize)]
struct ProbeFormat {
    duration: Option<String>,
    bit_rate: Option<String>,
}

/// `30000/1001` → 29.97; 0 for `0/0` or anything unreadable.
fn parse_rate(rate: &str) -> f64 {
    let (n, d) = rate.split_once('/').unwrap_or((rate, "1"));
    match (n.trim().parse::<f64>(), d.trim().parse::<f64>()) {
        (Ok(n), Ok(d)) if d > 0.0 && n.is_finite() && n >= 0.0 => n / d,
        _ => 0.0,
    }
}

impl Tools {
    /// The tools at these paths, `concurrency` processes at a time, each stopped after
    /// `timeout`.
    pub fn new(
        ffmpeg: impl Into<PathBuf>,
        ffprobe: impl Into<PathBuf>,
        timeout: Duration,
        concurrency: usize,
    ) -> Tools {
        Tools {
            ffmpeg: ffmpeg.into(),
            ffprobe: ffprobe.into(),
            timeout,
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    /// ffmpeg's version line, or why it cannot run.
    pub async fn check(&self) -> Result<String, String> {
        let out = Command::new(&self.ffmpeg)
            .arg("-version")
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| format!("{} cannot run: {e}", self.ffmpeg.display()))?;
        let first = String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned();
        if !out.status.success() {
            return Err(format!("{} -version failed", self.ffmpeg.display()));
        }
        Command::new(&self.ffprobe)
            .arg("-version")
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| format!("{} cannot run: {e}", self.ffprobe.display()))?;
        Ok(first)
    }

    async fn run(&self, program: &Path, args: &[&std::ffi::OsStr]) -> Result<Vec<u8>, MediaError> {
        self.run_with(program, args, self.timeout, None).await
    }

    /// Runs a tool in one of the slots, stopped after `timeout`. With `on_line`, its
    /// standard output is handed over line by line as it comes (ffmpeg's `-progress`)
    /// instead of being returned.
    pub(crate) async fn run_with(
        &self,
        program: &Path,
        args: &[&std::ffi::OsStr],
        timeout: Duration,
        on_line: Option<&mut (dyn FnMut(&str) + Send)>,
    ) -> Result<Vec<u8>, MediaError> {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| MediaError::Internal("tool slots closed".into()))?;
        let mut command = Command::new(program);
        die_with_parent(&mut command);
        let mut child = command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| MediaError::Internal(format!("{} cannot run: {e}", program.display())))?;
        let (Some(mut stdout), Some(mut stderr)) = (child.stdout.take(), child.stderr.take())
        else {
            return Err(MediaError::Internal("no pipes to the tool".into()));
        };
        let work = async {
            let err = async {
                let mut v = Vec::new();
                stderr.read_to_end(&mut v).await.map(|_| v)
            };
            let out = async {
                let mut collected = Vec::new();
                match on_line {
                    Some(cb) => {
                        let mut lines = BufReader::new(stdout).lines();
                        while let Some(line) = lines.next_line().await? {
                            cb(&line);
                        }
                    }
                    None => {
                        stdout.read_to_end(&mut collected).await?;
                    }
                }
                Ok::<_, std::io::Error>(collected)
            };
            let (out, err) = tokio::try_join!(out, err)?;
            let status = child.wait().await?;
            Ok::<_, std::io::Error>((status, out, err))
        };
        let (status, out, err) = tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| {
                MediaError::Internal(format!(
                    "{} took longer than {timeout:?}",
                    program.display(),
                ))
            })?
            .map_err(|e| MediaError::Internal(format!("{}: {e}", program.display())))?;
        if status.success() {
            Ok(out)
        } else {
            // ffmpeg's words name our temporary paths and mean little to the uploader: they
            // go to the log, and the uploader gets a plain reason.
            let err = String::from_utf8_lossy(&err);
            let err: String = err.lines().take(5).collect::<Vec<_>>().join(" | ");
            tracing::info!(program = %program.display(), %status, stderr = %err, "a media tool refused the file");
            Err(MediaError::Rejected(
                "the video cannot be read: it is damaged, or not a supported video".into(),
            ))
        }
    }

    /// The ffmpeg binary (for calls built elsewhere in this crate).
    pub(crate) fn ffmpeg(&self) -> &Path {
        &self.ffmpeg
    }

    /// Dimensions, length and codecs.
    pub async fn probe(&self, file: &Path) -> Result<VideoInfo, MediaError> {
        let args: Vec<&std::ffi::OsStr> = [
            "-v",
            "error",
            "-format_whitelist",
            FORMAT_WHITELIST,
            "-protocol_whitelist",
            PROTOCOL_WHITELIST,
            "-show_entries",
            "format=duration,bit_rate:stream=codec_type,codec_name,width,height,avg_frame_rate,color_transfer:stream_side_data=rotation",
            "-of",
            "json",
            "-i",
        ]
        .into_iter()
        .map(std::ffi::OsStr::new)
        .chain(std::iter::once(file.as_os_str()))
        .collect();
        let out = self.run(&self.ffprobe, &args).await?;
        let parsed: ProbeJson = serde_json::from_slice(&out)
            .map_err(|_| MediaError::Rejected("the video cannot be read".into()))?;
        let video = parsed
            .streams
            .iter()
            .find(|s| s.codec_type.as_deref() == Some("video"))
            .ok_or_else(|| MediaError::Rejected("the file has no video picture".into()))?;
        let duration = parsed
            .format
            .as_ref()
            .and_then(|f| f.duration.as_deref())
            .and_then(|d| d.parse::<f64>().ok())
            .unwrap_or(f64::NAN);
        let rotation = video
            .side_data_list
            .iter()
            .find_map(|d| d.rotation)
            .filter(|r| r.is_finite())
            .map_or(0, |r| (r.round() as i64).rem_euclid(360) as u32);
        let (coded_w, coded_h) = (video.width.unwrap_or(0), video.height.unwrap_or(0));
        let (width, height) = if rotation == 90 || rotation == 270 {
            (coded_h, coded_w)
        } else {
            (coded_w, coded_h)
        };
        Ok(VideoInfo {
            width,
            height,
            duration,
            video_codec: video.codec_name.clone().unwrap_or_default(),
            has_audio: parsed
                .streams
                .iter()
                .any(|s| s.codec_type.as_deref() == Some("audio")),
            fps: video.avg_frame_rate.as_deref().map_or(0.0, parse_rate),
            rotation,
            color_transfer: video
                .color_transfer
                .clone()
                .filter(|t| !t.is_empty() && t != "unknown"),
            bit_rate: parsed
                .format
                .as_ref()
                .and_then(|f| f.bit_rate.as_deref())
                .and_then(|b| b.parse().ok()),
        })
    }

    /// One frame at `at` seconds, as PNG bytes.
    pub async fn poster(&self, file: &Path, at: f64) -> Result<Vec<u8>, MediaError> {
        let at = format!("{:.3}", at.max(0.0));
        let mut args: Vec<&std::ffi::OsStr> = [
            "-hide_banner",
            "-loglevel",
            "error",
            "-format_whitelist",
            FORMAT_WHITELIST,
            "-protocol_whitelist",
            PROTOCOL_WHITELIST,
            "-ss",
            &at,
            "-i",
        ]
        .into_iter()
        .map(std::ffi::OsStr::new)
        .collect();
        args.push(file.as_os_str());
        args.extend(
            [
                "-frames:v",
                "1",
                "-map_metadata",
                "-1",
                "-f",
                "image2pipe",
                "-vcodec",
                "png",
                "pipe:1",
            ]
            .into_iter()
            .map(std::ffi::OsStr::new),
        );
        let png = self.run(&self.ffmpeg, &args).await?;
        if png.is_empty() {
            return Err(MediaError::Rejected(
                "no frame could be taken from the video".into(),
            ));
        }
        Ok(png)
    }
}

#[cfg(test)]
mod tests {
    use std::io::ErrorKind;
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    /// A playlist whose only segment is a FIFO, and a watcher that notices if any process
    /// ever opens the FIFO for reading (opening its write end without blocking succeeds
    /// only then).
    struct Canary {
        dir: PathBuf,
        playlist: PathBuf,
        opened: Arc<AtomicBool>,
        stop: Arc<AtomicBool>,
        watcher: Option<std::thread::JoinHandle<()>>,
    }

    impl Canary {
        fn new(tag: &str) -> Canary {
            let dir =
                std::env::temp_dir().join(format!("zinovia-canary-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let fifo = dir.join("canary.ts");
            nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
            let playlist = dir.join("clip.mp4");
            std::fs::write(
                &playlist,
                format!(
                    "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile://{}\n#EXT-X-ENDLIST\n",
                    fifo.display()
                ),
            )
            .unwrap();
            let opened = Arc::new(AtomicBool::new(false));
            let stop = Arc::new(AtomicBool::new(false));
            let (o, s) = (opened.clone(), stop.clone());
            let watcher = std::thread::spawn(move || {
                while !s.load(Ordering::SeqCst) {
                    match std::fs::OpenOptions::new()
                        .write(true)
                        .custom_flags(nix::libc::O_NONBLOCK)
                        .open(&fifo)
                    {
                        // A reader has it open; closing our end gives it EOF, so it ends.
                        Ok(_) => o.store(true, Ordering::SeqCst),
                        Err(e)
                            if e.raw_os_error() == Some(nix::libc::ENXIO)
                                || e.kind() == ErrorKind::WouldBlock => {}
                        Err(e) => panic!("watching the canary: {e}"),
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
            });
            Canary {
                dir,
                playlist,
                opened,
                stop,
                watcher: Some(watcher),
            }
        }

        fn finish(mut self) -> bool {
            // Give a late opener a moment, then stop watching.
            std::thread::sleep(Duration::from_millis(100));
            self.stop.store(true, Ordering::SeqCst);
            if let Some(w) = self.watcher.take() {
                w.join().unwrap();
            }
            let opened = self.opened.load(Ordering::SeqCst);
            let _ = std::fs::remove_dir_all(&self.dir);
            opened
        }
    }

    fn tools() -> Tools {
        Tools::new("ffmpeg", "ffprobe", Duration::from_secs(30), 2)
    }

    #[tokio::test]
    async fn a_playlist_posing_as_a_video_never_makes_ffmpeg_open_what_it_points_to() {
        tools()
            .check()
            .await
            .expect("ffmpeg must be installed (scripts/test installs it)");

        // The control: without the whitelists ffprobe follows the playlist and opens the
        // canary, so the watcher can see it.
        let control = Canary::new("control");
        let out = Command::new("ffprobe")
            .args(["-v", "error", "-i"])
            .arg(&control.playlist)
            .kill_on_drop(true)
            .output();
        let _ = tokio::time::timeout(Duration::from_secs(20), out).await;
        assert!(
            control.finish(),
            "the canary did not notice an unguarded ffprobe"
        );

        // Every call we make refuses the file without opening the canary.
        let canary = Canary::new("guarded");
        let t = tools();
        let started = std::time::Instant::now();
        let probe = t.probe(&canary.playlist).await;
        let poster = t.poster(&canary.playlist, 0.0).await;
        let info = VideoInfo {
            width: 640,
            height: 360,
            duration: 10.0,
            video_codec: "h264".into(),
            has_audio: true,
            fps: 30.0,
            rotation: 0,
            color_transfer: None,
            bit_rate: None,
        };
        let opts = crate::transcode::Options::default();
        let plan = crate::transcode::plan(&info, &opts);
        let transcode = t
            .transcode(
                &canary.playlist,
                &canary.dir.join("out"),
                &plan,
                &opts,
                None,
                &|_| {},
            )
            .await;
        for (what, r) in [
            ("probe", probe.map(|_| ())),
            ("poster", poster.map(|_| ())),
            ("transcode", transcode.map(|_| ())),
        ] {
            assert!(matches!(r, Err(MediaError::Rejected(_))), "{what}: {r:?}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "refused at once, not after a timeout"
        );
        assert!(
            !canary.finish(),
            "ffmpeg opened the file the playlist points to"
        );
    }
}
