//! Videos through ffprobe and ffmpeg: probing, a poster frame, and remuxing without
//! metadata. Every call whitelists the container formats and the `file`/`pipe` protocols,
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

/// What a probe found.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoInfo {
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// Seconds.
    pub duration: f64,
    /// The video codec.
    pub video_codec: String,
    /// Whether there is sound.
    pub has_audio: bool,
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
}

#[derive(Deserialize)]
struct ProbeFormat {
    duration: Option<String>,
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
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| MediaError::Internal("tool slots closed".into()))?;
        let child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| MediaError::Internal(format!("{} cannot run: {e}", program.display())))?;
        let out = tokio::time::timeout(self.timeout, child.wait_with_output())
            .await
            .map_err(|_| {
                MediaError::Internal(format!(
                    "{} took longer than {:?}",
                    program.display(),
                    self.timeout
                ))
            })?
            .map_err(|e| MediaError::Internal(format!("{}: {e}", program.display())))?;
        if out.status.success() {
            Ok(out.stdout)
        } else {
            // ffmpeg's words name our temporary paths and mean little to the uploader: they
            // go to the log, and the uploader gets a plain reason.
            let err = String::from_utf8_lossy(&out.stderr);
            let err: String = err.lines().take(5).collect::<Vec<_>>().join(" | ");
            tracing::info!(program = %program.display(), status = %out.status, stderr = %err, "a media tool refused the file");
            Err(MediaError::Rejected(
                "the video cannot be read: it is damaged, or not a supported video".into(),
            ))
        }
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
            "format=duration:stream=codec_type,codec_name,width,height",
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
            .and_then(|f| f.duration)
            .and_then(|d| d.parse::<f64>().ok())
            .unwrap_or(f64::NAN);
        Ok(VideoInfo {
            width: video.width.unwrap_or(0),
            height: video.height.unwrap_or(0),
            duration,
            video_codec: video.codec_name.clone().unwrap_or_default(),
            has_audio: parsed
                .streams
                .iter()
                .any(|s| s.codec_type.as_deref() == Some("audio")),
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

    /// Copies the streams into a new file without any metadata (no GPS, device or creation
    /// tags), with the index first so playback starts at once. `container` is `mp4` or
    /// `webm`.
    pub async fn remux(
        &self,
        input: &Path,
        output: &Path,
        container: &str,
    ) -> Result<(), MediaError> {
        let mut args: Vec<&std::ffi::OsStr> = [
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
        .map(std::ffi::OsStr::new)
        .collect();
        args.push(input.as_os_str());
        // Video and sound streams copied as they are; no metadata, no chapters.
        let copy = [
            "-map",
            "0:v",
            "-map",
            "0:a?",
            "-map_metadata",
            "-1",
            "-map_chapters",
            "-1",
            "-c",
            "copy",
        ];
        let tail: &[&str] = if container == "webm" {
            &["-f", "webm"]
        } else {
            &["-movflags", "+faststart", "-f", "mp4"]
        };
        args.extend(copy.into_iter().map(std::ffi::OsStr::new));
        args.extend(tail.iter().copied().map(std::ffi::OsStr::new));
        args.push(output.as_os_str());
        self.run(&self.ffmpeg, &args).await.map(|_| ())
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
        let remux = t
            .remux(&canary.playlist, &canary.dir.join("out.mp4"), "mp4")
            .await;
        for (what, r) in [
            ("probe", probe.map(|_| ())),
            ("poster", poster.map(|_| ())),
            ("remux", remux),
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
