//! Transcoding with the real ffmpeg (the test command installs it): clips generated here in
//! every accepted codec and container go through `Tools::transcode`, and ffprobe reads the
//! outputs back — codecs, renditions never above the source, keyframes aligned at segment
//! boundaries, segment lengths, no metadata, faststart, HDR tone-mapped, rotation applied,
//! the segments decryptable with the asset's key and only with it.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use zinovia_media::MediaError;
use zinovia_media::transcode::{Options, Transcoded, plan};
use zinovia_media::video::Tools;

const KEY: [u8; 16] = *b"0123456789abcdef";

fn tools() -> Tools {
    Tools::new("ffmpeg", "ffprobe", Duration::from_secs(120), 2)
}

fn options() -> Options {
    Options {
        // A fast preset keeps the test quick (`ultrafast` would drop to Constrained
        // Baseline; what is checked does not otherwise depend on it).
        preset: "superfast".into(),
        timeout: Duration::from_secs(300),
        ..Options::default()
    }
}

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .output()
        .expect("ffmpeg must be installed (scripts/test installs it)");
    assert!(
        out.status.success(),
        "ffmpeg {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn probe(path: &Path, extra: &[&str], entries: &str) -> Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(extra)
        .args(["-show_entries", entries, "-of", "json"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ffprobe {}: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

struct Clip {
    dir: tempfile::TempDir,
    path: PathBuf,
}

/// A clip made by ffmpeg: `video` filters/encoder arguments and container file name.
fn clip(name: &str, size: &str, seconds: u32, with_audio: bool, encode: &[&str]) -> Clip {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    let src = format!("testsrc2=size={size}:rate=30:duration={seconds}");
    let tone = format!("sine=frequency=440:duration={seconds}");
    let mut args = vec!["-f", "lavfi", "-i", &src];
    if with_audio {
        args.extend(["-f", "lavfi", "-i", &tone]);
    }
    args.extend(encode);
    // Metadata a phone would leave: a title and a location.
    args.extend([
        "-metadata",
        "title=Secret title",
        "-metadata",
        "location=+48.8584+002.2945/",
        "-metadata",
        "com.apple.quicktime.location.ISO6709=+48.8584+002.2945/",
    ]);
    let p = path.to_str().unwrap().to_owned();
    args.push(&p);
    ffmpeg(&args);
    Clip { dir, path }
}

struct Made {
    out: tempfile::TempDir,
    made: Transcoded,
    progress: Vec<f64>,
}

async fn transcode(clip: &Clip) -> Result<Made, MediaError> {
    let t = tools();
    let info = t.probe(&clip.path).await?;
    let opts = options();
    let plan = plan(&info, &opts);
    let out = tempfile::tempdir().unwrap();
    let seen = Mutex::new(Vec::new());
    let made = t
        .transcode(&clip.path, out.path(), &plan, &opts, Some(KEY), &|p| {
            seen.lock().unwrap().push(p);
        })
        .await?;
    Ok(Made {
        out,
        made,
        progress: seen.into_inner().unwrap(),
    })
}

/// A copy of a rendition's playlist whose key line points to a key file, for ffprobe.
fn with_key_file(made: &Made, rendition: &str, key: &[u8; 16]) -> PathBuf {
    let dir = made.out.path().join("hls").join(rendition);
    let key_file = made.out.path().join(format!("key-{}", hex(key)));
    std::fs::write(&key_file, key).unwrap();
    let text = std::fs::read_to_string(dir.join("index.m3u8")).unwrap();
    assert_eq!(
        text.matches("#EXT-X-KEY:METHOD=AES-128,URI=\"key\"")
            .count(),
        1,
        "{text}"
    );
    let local = dir.join(format!("local-{}.m3u8", hex(key)));
    std::fs::write(
        &local,
        text.replace("URI=\"key\"", &format!("URI=\"{}\"", key_file.display())),
    )
    .unwrap();
    local
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

const HLS_READ: [&str; 4] = [
    "-allowed_extensions",
    "ALL",
    "-protocol_whitelist",
    "file,crypto",
];

/// Keyframe times of a rendition, read through its decrypted playlist.
fn keyframes(made: &Made, rendition: &str) -> Vec<f64> {
    let local = with_key_file(made, rendition, &KEY);
    let v = probe(
        &local,
        &[&HLS_READ[..], &["-select_streams", "v:0"]].concat(),
        "packet=pts_time,flags",
    );
    v["packets"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["flags"].as_str().unwrap_or("").starts_with('K'))
        .map(|p| p["pts_time"].as_str().unwrap().parse::<f64>().unwrap())
        .collect()
}

/// The top-level boxes of an MP4 file, in order.
fn top_level_boxes(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let mut at = 0usize;
    let mut boxes = Vec::new();
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        boxes.push(String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned());
        if size < 8 {
            break;
        }
        at += size;
    }
    boxes
}

/// What every transcode must make: renditions (names, sizes), segments of 4 s with
/// keyframes at the same instants in every rendition, a faststart H.264 MP4 at the top
/// size without the upload's metadata, a master playlist naming codecs and bandwidths, a
/// storyboard, and segments that only the key opens.
fn check(made: &Made, renditions: &[(&str, u32, u32)], audio: bool) {
    let names: Vec<(String, u32, u32)> = made
        .made
        .renditions
        .iter()
        .map(|r| {
            (
                r.rendition.name.clone(),
                r.rendition.width,
                r.rendition.height,
            )
        })
        .collect();
    let want: Vec<(String, u32, u32)> = renditions
        .iter()
        .map(|(n, w, h)| ((*n).to_owned(), *w, *h))
        .collect();
    assert_eq!(names, want);

    let hls = made.out.path().join("hls");
    let master = std::fs::read_to_string(hls.join("master.m3u8")).unwrap();
    for r in &made.made.renditions {
        assert!(r.bandwidth >= r.average_bandwidth && r.average_bandwidth > 0);
        assert!(
            r.codecs.starts_with("avc1.64"),
            "High profile: {}",
            r.codecs
        );
        assert_eq!(r.codecs.ends_with(",mp4a.40.2"), audio, "{}", r.codecs);
        assert!(
            master.contains(&format!(
                "RESOLUTION={}x{},CODECS=\"{}\"",
                r.rendition.width, r.rendition.height, r.codecs
            )),
            "{master}"
        );
        assert!(master.contains(&format!("\n{}/index.m3u8\n", r.rendition.name)));
    }
    assert_eq!(master.contains("TYPE=AUDIO"), audio, "{master}");
    assert_eq!(hls.join("audio/index.m3u8").exists(), audio);

    // Segment lengths within spec: 4 s each but the last, never over the target duration.
    for (name, ..) in renditions {
        let text = std::fs::read_to_string(hls.join(name).join("index.m3u8")).unwrap();
        assert!(text.contains("#EXT-X-TARGETDURATION:4\n"), "{text}");
        let durations: Vec<f64> = text
            .lines()
            .filter_map(|l| l.strip_prefix("#EXTINF:"))
            .map(|l| l.trim_end_matches(',').parse().unwrap())
            .collect();
        assert!(durations.len() >= 2, "{text}");
        let (last, full) = durations.split_last().unwrap();
        for d in full {
            assert!((d - 4.0).abs() < 0.05, "{name}: {durations:?}");
        }
        assert!(*last > 0.0 && *last <= 4.05, "{name}: {durations:?}");
    }

    // Keyframes at the segment boundaries (every 4 s from the first frame, whose time
    // carries the encoder's reordering delay), the same in every rendition.
    let first = keyframes(made, renditions[0].0);
    assert!(first.len() >= 2, "{first:?}");
    assert!(first[0] < 0.2, "{first:?}");
    for (i, t) in first.iter().enumerate() {
        assert!(
            (t - first[0] - 4.0 * i as f64).abs() < 0.05,
            "keyframe {i} at {t}: {first:?}"
        );
    }
    for (name, ..) in &renditions[1..] {
        assert_eq!(keyframes(made, name), first, "{name}");
    }

    // Only the right key opens the segments.
    let wrong = with_key_file(made, renditions[0].0, b"fedcba9876543210");
    let out = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(HLS_READ)
        .args(["-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=nb_read_frames", "-of", "csv=p=0"])
        .arg(&wrong)
        .output()
        .unwrap();
    let frames: u64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    assert!(
        !out.status.success() || frames == 0,
        "a wrong key decoded {frames} frames"
    );
    let seg = hls.join(renditions[0].0).join("s0.m4s");
    let head = &std::fs::read(&seg).unwrap()[..8];
    assert_ne!(&head[4..8], b"moof", "the segment is stored encrypted");

    // The progressive MP4: H.264 High at the top size, stereo AAC, index first, no tags.
    let mp4 = made.out.path().join(&made.made.mp4);
    let v = probe(
        &mp4,
        &[],
        "stream=codec_name,profile,width,height,pix_fmt,channels,color_transfer:stream_side_data=rotation:format_tags:stream_tags",
    );
    let streams = v["streams"].as_array().unwrap();
    assert_eq!(streams[0]["codec_name"], "h264", "{v}");
    assert_eq!(streams[0]["profile"], "High", "{v}");
    assert_eq!(streams[0]["pix_fmt"], "yuv420p", "{v}");
    assert_eq!(streams[0]["width"], renditions[0].1, "{v}");
    assert_eq!(streams[0]["height"], renditions[0].2, "{v}");
    assert!(
        streams[0].get("side_data_list").is_none(),
        "no rotation left: {v}"
    );
    if audio {
        assert_eq!(streams.len(), 2, "{v}");
        assert_eq!(streams[1]["codec_name"], "aac", "{v}");
        assert_eq!(streams[1]["channels"], 2, "{v}");
    } else {
        assert_eq!(streams.len(), 1, "{v}");
    }
    let text = v.to_string().to_lowercase();
    for leak in ["secret title", "48.8584", "location"] {
        assert!(!text.contains(leak), "{leak} in {v}");
    }
    let boxes = top_level_boxes(&mp4);
    let moov = boxes.iter().position(|b| b == "moov").unwrap();
    let mdat = boxes.iter().position(|b| b == "mdat").unwrap();
    assert!(moov < mdat, "faststart: {boxes:?}");
    // …and the same holds for a rendition's init section and the segments' metadata.
    let init = probe(
        &with_key_file(made, renditions[0].0, &KEY),
        &HLS_READ,
        "format_tags:stream_tags",
    );
    let text = init.to_string().to_lowercase();
    assert!(
        !text.contains("secret title") && !text.contains("48.8584"),
        "{init}"
    );

    // The storyboard: cues pointing into a sprite sheet that exists.
    let vtt = std::fs::read_to_string(hls.join("storyboard.vtt")).unwrap();
    assert!(
        vtt.starts_with("WEBVTT\n") && vtt.contains("sb/0.jpg#xywh=0,0,"),
        "{vtt}"
    );
    let sheet = probe(&hls.join("sb/0.jpg"), &[], "stream=width,height");
    assert!(
        sheet["streams"][0]["width"].as_u64().unwrap() >= 160,
        "{sheet}"
    );

    // Progress rose to the end; every file made is listed.
    assert!(
        made.progress.windows(2).all(|w| w[0] <= w[1]),
        "{:?}",
        made.progress
    );
    assert_eq!(made.progress.last().copied(), Some(1.0));
    assert!(
        made.made
            .files
            .iter()
            .all(|f| f.path.exists() && f.bytes > 0)
    );
    assert!(made.made.files.iter().any(|f| f.rel == "hls/master.m3u8"));
    assert!(
        !made
            .made
            .files
            .iter()
            .any(|f| f.rel.contains("ffmpeg-master"))
    );
}

#[tokio::test]
async fn h264_1080p_with_sound_becomes_the_full_ladder() {
    let c = clip(
        "phone.mp4",
        "1920x1080",
        9,
        true,
        &[
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
        ],
    );
    let made = transcode(&c).await.unwrap();
    check(
        &made,
        &[
            ("1080p", 1920, 1080),
            ("720p", 1280, 720),
            ("480p", 854, 480),
            ("360p", 640, 360),
        ],
        true,
    );
    // Progress was reported along the way, not only at the end.
    // (A storyboard tiled inside the same ffmpeg run held its output until a sheet was
    // full, and ffmpeg then reported nothing until the very end.)
    assert!(
        made.progress.iter().any(|&p| p > 0.0 && p < 0.9),
        "{:?}",
        made.progress
    );
    drop(c.dir);
}

#[tokio::test]
async fn hevc_mov_from_a_phone_held_upright_is_turned_and_never_upscaled() {
    let c = clip(
        "upright.mov",
        "640x360",
        6,
        true,
        &[
            "-c:v",
            "libx265",
            "-preset",
            "ultrafast",
            "-x265-params",
            "log-level=none",
            "-tag:v",
            "hvc1",
            "-c:a",
            "aac",
        ],
    );
    // The rotation a phone records (a display matrix, set on a stream copy).
    let turned = c.dir.path().join("turned.mov");
    ffmpeg(&[
        "-i",
        c.path.to_str().unwrap(),
        "-c",
        "copy",
        "-metadata:s:v:0",
        "rotate=90",
        turned.to_str().unwrap(),
    ]);
    let info = tools().probe(&turned).await.unwrap();
    assert_eq!(
        (info.width, info.height, info.rotation % 180),
        (360, 640, 90)
    );
    let c = Clip {
        path: turned,
        dir: c.dir,
    };
    let made = transcode(&c).await.unwrap();
    check(&made, &[("360p", 360, 640)], true);
}

#[tokio::test]
async fn prores_vp9_webm_and_av1_mkv_are_accepted() {
    let prores = clip(
        "master.mov",
        "1280x720",
        5,
        true,
        &["-c:v", "prores_ks", "-profile:v", "0", "-c:a", "pcm_s16le"],
    );
    let made = transcode(&prores).await.unwrap();
    check(
        &made,
        &[("720p", 1280, 720), ("480p", 854, 480), ("360p", 640, 360)],
        true,
    );

    let vp9 = clip(
        "clip.webm",
        "854x480",
        5,
        true,
        &[
            "-c:v",
            "libvpx-vp9",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-c:a",
            "libopus",
        ],
    );
    let made = transcode(&vp9).await.unwrap();
    check(&made, &[("480p", 854, 480), ("360p", 640, 360)], true);

    let av1 = clip(
        "clip.mkv",
        "640x360",
        5,
        false,
        &[
            "-c:v",
            "libaom-av1",
            "-cpu-used",
            "8",
            "-usage",
            "realtime",
            "-b:v",
            "300k",
        ],
    );
    let made = transcode(&av1).await.unwrap();
    check(&made, &[("360p", 640, 360)], false);
}

#[tokio::test]
async fn a_10_bit_hdr_clip_is_tone_mapped_to_sdr_and_silence_makes_no_sound_track() {
    let hdr = clip(
        "hdr.mp4",
        "1280x720",
        5,
        false,
        &[
            "-c:v",
            "libx265",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p10le",
            "-x265-params",
            "log-level=none:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc",
        ],
    );
    let info = tools().probe(&hdr.path).await.unwrap();
    assert!(info.is_hdr(), "{info:?}");
    let made = transcode(&hdr).await.unwrap();
    check(
        &made,
        &[("720p", 1280, 720), ("480p", 854, 480), ("360p", 640, 360)],
        false,
    );
    let v = probe(
        &made.out.path().join("video.mp4"),
        &[],
        "stream=pix_fmt,color_transfer,color_primaries",
    );
    assert_eq!(v["streams"][0]["pix_fmt"], "yuv420p", "{v}");
    assert_eq!(v["streams"][0]["color_transfer"], "bt709", "{v}");
    assert_eq!(v["streams"][0]["color_primaries"], "bt709", "{v}");
}

#[tokio::test]
async fn a_truncated_file_and_a_playlist_posing_as_a_video_are_refused_with_a_reason() {
    // Index first, then cut in half: the probe believes 10 s, the decode finds far less.
    let c = clip(
        "cut.mp4",
        "640x360",
        10,
        false,
        &[
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-movflags",
            "+faststart",
        ],
    );
    let bytes = std::fs::read(&c.path).unwrap();
    std::fs::write(&c.path, &bytes[..bytes.len() / 3]).unwrap();
    match transcode(&c).await {
        Err(MediaError::Rejected(reason)) => assert!(
            reason.contains("damaged") || reason.contains("cannot be read"),
            "{reason}"
        ),
        Err(e) => panic!("refused as our failure, not the file's: {e}"),
        Ok(_) => panic!("a truncated file was transcoded"),
    }
    // Index last, cut: not even probed.
    let c = clip(
        "cut2.mp4",
        "640x360",
        4,
        false,
        &["-c:v", "libx264", "-preset", "ultrafast"],
    );
    let bytes = std::fs::read(&c.path).unwrap();
    std::fs::write(&c.path, &bytes[..bytes.len() / 2]).unwrap();
    assert!(matches!(transcode(&c).await, Err(MediaError::Rejected(_))));

    let dir = tempfile::tempdir().unwrap();
    let playlist = dir.path().join("clip.mp4");
    std::fs::write(
        &playlist,
        "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n",
    )
    .unwrap();
    let c = Clip {
        path: playlist,
        dir,
    };
    assert!(matches!(transcode(&c).await, Err(MediaError::Rejected(_))));
    // Even past the probe, the transcode itself refuses to follow it.
    let info = zinovia_media::video::VideoInfo {
        width: 640,
        height: 360,
        duration: 10.0,
        video_codec: "h264".into(),
        has_audio: false,
        fps: 30.0,
        rotation: 0,
        color_transfer: None,
        bit_rate: None,
    };
    let out = tempfile::tempdir().unwrap();
    let r = tools()
        .transcode(
            &c.path,
            out.path(),
            &plan(&info, &options()),
            &options(),
            Some(KEY),
            &|_| {},
        )
        .await;
    assert!(matches!(r, Err(MediaError::Rejected(_))), "{r:?}");
}
