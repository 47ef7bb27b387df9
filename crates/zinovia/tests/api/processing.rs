//! The media worker against real clamd (with the EICAR test signature), real ffmpeg, real
//! PostgreSQL and storage: what becomes ready and how it looks, what is rejected and why,
//! retries with backoff, and crash safety. Every fixture is made at test time.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use zinovia::accounts::Role;
use zinovia::storage::StorageKey;

use crate::helpers::{ClamdServer, Proc, S3Server, TestApp, assert_error, eicar, upload, zinovia};

// ---- fixtures ---------------------------------------------------------------------------

const RED: [u8; 3] = [220, 30, 30];
const BLUE: [u8; 3] = [30, 30, 220];

/// RGB pixels, left half red and right half blue (as stored, before any orientation).
fn halves(w: u32, h: u32) -> Vec<u8> {
    (0..w * h)
        .flat_map(|i| if i % w < w / 2 { RED } else { BLUE })
        .collect()
}

pub fn jpeg(w: u32, h: u32) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode(&halves(w, h), w, h, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

/// An EXIF APP1 segment (big-endian TIFF) with an orientation and GPS coordinates.
fn exif_app1(orientation: u16) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(b"MM\x00\x2a\x00\x00\x00\x08");
    // IFD0 at 8: Orientation, and the GPS IFD's offset.
    let entry = |t: &mut Vec<u8>, tag: u16, typ: u16, count: u32, value: [u8; 4]| {
        t.extend_from_slice(&tag.to_be_bytes());
        t.extend_from_slice(&typ.to_be_bytes());
        t.extend_from_slice(&count.to_be_bytes());
        t.extend_from_slice(&value);
    };
    t.extend_from_slice(&2u16.to_be_bytes());
    let o = orientation.to_be_bytes();
    entry(&mut t, 0x0112, 3, 1, [o[0], o[1], 0, 0]);
    entry(&mut t, 0x8825, 4, 1, 38u32.to_be_bytes());
    t.extend_from_slice(&0u32.to_be_bytes());
    // GPS IFD at 38: latitude reference and latitude (three rationals at 68).
    assert_eq!(t.len(), 38);
    t.extend_from_slice(&2u16.to_be_bytes());
    entry(&mut t, 0x0001, 2, 2, *b"N\0\0\0");
    entry(&mut t, 0x0002, 5, 3, 68u32.to_be_bytes());
    t.extend_from_slice(&0u32.to_be_bytes());
    assert_eq!(t.len(), 68);
    for (n, d) in [(48u32, 1u32), (51, 1), (2400, 100)] {
        t.extend_from_slice(&n.to_be_bytes());
        t.extend_from_slice(&d.to_be_bytes());
    }
    let mut seg = vec![0xFF, 0xE1];
    seg.extend_from_slice(&u16::try_from(2 + 6 + t.len()).unwrap().to_be_bytes());
    seg.extend_from_slice(b"Exif\0\0");
    seg.extend_from_slice(&t);
    seg
}

fn with_exif(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut out = jpeg[..2].to_vec();
    out.extend(exif_app1(orientation));
    out.extend_from_slice(&jpeg[2..]);
    out
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
    c.extend_from_slice(kind);
    c.extend_from_slice(data);
    let mut h = crc32fast::Hasher::new();
    h.update(kind);
    h.update(data);
    c.extend_from_slice(&h.finalize().to_be_bytes());
    c
}

/// A valid PNG header declaring 100 000 × 100 000 pixels (30 GB decoded), and a few
/// bytes of data: a decompression bomb's shape.
fn png_bomb() -> Vec<u8> {
    let mut ihdr = 100_000u32.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(png_chunk(b"IHDR", &ihdr));
    png.extend(png_chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01],
    ));
    png.extend(png_chunk(b"IEND", &[]));
    png
}

/// A ZIP archive holding `data` uncompressed under `name`.
fn zip_stored(name: &str, data: &[u8]) -> Vec<u8> {
    let crc = crc32fast::hash(data);
    let size = u32::try_from(data.len()).unwrap();
    let name_len = u16::try_from(name.len()).unwrap();
    let mut z = Vec::new();
    let common = |z: &mut Vec<u8>| {
        z.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // version, flags, stored, time, date
        z.extend_from_slice(&crc.to_le_bytes());
        z.extend_from_slice(&size.to_le_bytes());
        z.extend_from_slice(&size.to_le_bytes());
        z.extend_from_slice(&name_len.to_le_bytes());
    };
    z.extend_from_slice(b"PK\x03\x04");
    common(&mut z);
    z.extend_from_slice(&0u16.to_le_bytes());
    z.extend_from_slice(name.as_bytes());
    z.extend_from_slice(data);
    let central = u32::try_from(z.len()).unwrap();
    z.extend_from_slice(b"PK\x01\x02\x14\x00");
    common(&mut z);
    z.extend_from_slice(&[0; 12]); // extra, comment, disk, attributes
    z.extend_from_slice(&0u32.to_le_bytes()); // offset of the local header
    z.extend_from_slice(name.as_bytes());
    let central_len = u32::try_from(z.len()).unwrap() - central;
    z.extend_from_slice(b"PK\x05\x06\0\0\0\0\x01\x00\x01\x00");
    z.extend_from_slice(&central_len.to_le_bytes());
    z.extend_from_slice(&central.to_le_bytes());
    z.extend_from_slice(&[0, 0]);
    z
}

/// Runs ffmpeg to make a fixture; ffmpeg must be installed (the test command does it).
fn ffmpeg(args: &[&str]) {
    let status = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("ffmpeg cannot run ({e}); scripts/test installs it"));
    assert!(status.success(), "ffmpeg {args:?}");
}

/// A 2-second 640×360 H.264/AAC MP4 carrying GPS and other tags.
fn mp4_with_tags(dir: &Path) -> PathBuf {
    let out = dir.join("clip.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=duration=2:size=640x360:rate=25",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=2",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-shortest",
        "-metadata",
        "location=+48.8584+002.2945/",
        "-metadata",
        "title=holiday at home",
        "-metadata",
        "comment=shot on a phone",
        out.to_str().unwrap(),
    ]);
    out
}

fn ffprobe_tags(file: &Path) -> String {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format_tags:stream_tags",
            "-of",
            "json",
        ])
        .arg(file)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

// ---- helpers ----------------------------------------------------------------------------

async fn process(app: &TestApp) {
    app.run_pending_jobs(&zinovia::app::jobs()).await;
}

async fn media(app: &TestApp, token: &str, id: &str) -> Value {
    let (status, body) = app.get_auth(&format!("/api/v1/media/{id}"), token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn variant_bytes(app: &TestApp, token: &str, id: &str, name: &str) -> Vec<u8> {
    let (status, body) = app
        .get_auth(&format!("/api/v1/media/{id}/url?variant={name}"), token)
        .await;
    assert_eq!(status, StatusCode::OK, "{name}: {body}");
    let r = reqwest::get(body["url"].as_str().unwrap()).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{name}");
    r.bytes().await.unwrap().to_vec()
}

async fn objects_of(app: &TestApp, id: &str) -> Vec<String> {
    let all = app.state.storage().unwrap().list().await.unwrap();
    all.into_iter().filter(|k| k.contains(id)).collect()
}

async fn stored_text(app: &TestApp, key: String) -> String {
    let path = tempfile::NamedTempFile::new().unwrap();
    app.state
        .storage()
        .unwrap()
        .get_to_file(&StorageKey::trusted(key), path.path())
        .await
        .unwrap();
    std::fs::read_to_string(path.path()).unwrap()
}

async fn variant_rows(app: &TestApp, id: &str) -> i64 {
    sqlx::query_scalar::<_, i64>("select count(*) from media_variants where asset_id = $1::uuid")
        .bind(id)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
}

/// The RIFF chunks of a WebP file.
fn webp_chunks(bytes: &[u8]) -> Vec<String> {
    assert!(bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP");
    let mut chunks = Vec::new();
    let mut i = 12;
    while i + 8 <= bytes.len() {
        chunks.push(String::from_utf8_lossy(&bytes[i..i + 4]).into_owned());
        let len = u32::from_le_bytes(bytes[i + 4..i + 8].try_into().unwrap()) as usize;
        i += 8 + len + (len & 1);
    }
    chunks
}

fn has_exif(bytes: &[u8]) -> bool {
    exif::Reader::new()
        .read_from_container(&mut std::io::Cursor::new(bytes))
        .is_ok()
        || bytes.windows(6).any(|w| w == b"Exif\0\0")
}

fn near(px: &[u8], want: [u8; 3]) -> bool {
    px.iter().zip(want).all(|(a, b)| a.abs_diff(b) < 40)
}

/// Upright: red at the top, blue at the bottom (the halves fixture turned by orientation 6).
fn assert_red_over_blue(img: &image::RgbImage, what: &str) {
    let top = img.get_pixel(img.width() / 2, img.height() / 5).0;
    let bottom = img.get_pixel(img.width() / 2, img.height() * 4 / 5).0;
    assert!(
        near(&top, RED) && near(&bottom, BLUE),
        "{what}: top {top:?}, bottom {bottom:?}"
    );
}

// ---- tests ------------------------------------------------------------------------------

#[tokio::test]
async fn a_phone_photo_becomes_upright_variants_without_exif_or_gps() {
    let clamd = ClamdServer::start().await;
    let app = TestApp::spawn_with(|s| s.media.clamav_addr = Some(clamd.addr.clone())).await;
    let creator = app.user_with_role(Role::Creator).await;
    // Stored landscape 3000×2000 with orientation 6: shown as a 2000×3000 portrait.
    let original = with_exif(&jpeg(3000, 2000), 6);
    let exif = exif::Reader::new()
        .read_from_container(&mut std::io::Cursor::new(&original))
        .expect("the fixture carries EXIF");
    assert!(
        exif.get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)
            .is_some()
    );
    let id = upload(
        &app,
        &creator,
        "image",
        "image/jpeg",
        "IMG_0001.JPG",
        original,
    )
    .await;
    process(&app).await;

    let m = media(&app, &creator, &id).await;
    assert_eq!(m["state"], "ready", "{m}");
    assert_eq!(
        (m["width"].as_i64(), m["height"].as_i64()),
        (Some(2000), Some(3000))
    );
    let hash = m["blurhash"].as_str().unwrap();
    assert_eq!(hash.len(), 28, "4×3 components: {hash}");
    let pixels = blurhash::decode(hash, 8, 12, 1.0).expect("a valid blurhash");
    // Its top is red and its bottom blue, like the upright photo.
    assert!(pixels[0] > pixels[2] && pixels[pixels.len() - 2] > pixels[pixels.len() - 4]);

    let mut names: Vec<String> = m["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "full.jpg",
            "full.webp",
            "grid.jpg",
            "grid.webp",
            "thumb.jpg",
            "thumb.webp"
        ]
    );
    for v in m["variants"].as_array().unwrap() {
        let name = v["name"].as_str().unwrap();
        let (w, h) = match &name[..name.find('.').unwrap()] {
            "full" => (1365, 2048),
            "grid" => (640, 960),
            _ => (213, 320),
        };
        assert_eq!(
            (v["width"].as_i64(), v["height"].as_i64()),
            (Some(w), Some(h)),
            "{name}"
        );
        let bytes = variant_bytes(&app, &creator, &id, name).await;
        assert_eq!(v["byte_size"].as_i64(), Some(bytes.len() as i64), "{name}");
        assert!(!has_exif(&bytes), "{name} carries EXIF");
        assert!(
            !bytes.windows(3).any(|w| w == b"GPS"),
            "{name} mentions GPS"
        );
        if name.ends_with(".webp") {
            assert_eq!(
                webp_chunks(&bytes),
                ["VP8 "],
                "{name}: lossy WebP with no metadata chunks"
            );
            assert_eq!(v["content_type"], "image/webp");
        } else {
            assert_eq!(v["content_type"], "image/jpeg");
        }
        // Read back: the right size, upright (red on top, blue at the bottom).
        let img = image::load_from_memory(&bytes).unwrap().to_rgb8();
        assert_eq!(
            (i64::from(img.width()), i64::from(img.height())),
            (w, h),
            "{name}"
        );
        assert_red_over_blue(&img, name);
    }
    assert_eq!(variant_rows(&app, &id).await, 6);
    let mut stored = objects_of(&app, &id).await;
    stored.sort();
    assert_eq!(stored.len(), 7, "the upload and six variants: {stored:?}");

    // Running the job again (a redelivery) changes nothing: same rows, same keys.
    zinovia::jobs::enqueue(
        &app.state.db,
        &zinovia::media::ProcessMedia {
            asset_id: zinovia::media::MediaId(id.parse().unwrap()),
        },
    )
    .await
    .unwrap();
    sqlx::query("update media_assets set state = 'processing' where id = $1::uuid")
        .bind(&id)
        .execute(&app.state.db)
        .await
        .unwrap();
    process(&app).await;
    assert_eq!(media(&app, &creator, &id).await["state"], "ready");
    assert_eq!(variant_rows(&app, &id).await, 6);
    let mut again = objects_of(&app, &id).await;
    again.sort();
    assert_eq!(again, stored);
}

/// HEIC and AVIF as phones write them (the pixels stored sideways, the container's rotation
/// and the same turn in EXIF, with GPS): upright variants without metadata, like JPEG.
#[cfg(feature = "heif")]
#[tokio::test]
async fn heic_and_avif_photos_become_upright_variants_without_metadata() {
    use zinovia_media::heif::{Container, Extras, encode};
    let app = TestApp::spawn().await;
    let creator = app.user_with_role(Role::Creator).await;
    let app1 = exif_app1(6);
    let tiff = &app1[10..];
    for (container, content_type, filename) in [
        (Container::Heic, "image/heic", "IMG_0002.HEIC"),
        (Container::Heic, "image/heif", "IMG_0003.heif"),
        (Container::Avif, "image/avif", "photo.avif"),
    ] {
        let extras = Extras {
            orientation: 6,
            exif: Some(tiff),
            icc: None,
        };
        let original = encode(&halves(600, 400), 600, 400, container, 85, &extras).unwrap();
        assert!(has_exif(&original), "the fixture carries EXIF");
        let id = upload(&app, &creator, "image", content_type, filename, original).await;
        process(&app).await;
        let m = media(&app, &creator, &id).await;
        assert_eq!(m["state"], "ready", "{content_type}: {m}");
        assert_eq!(
            (m["width"].as_i64(), m["height"].as_i64()),
            (Some(400), Some(600)),
            "{content_type}"
        );
        let variants = m["variants"].as_array().unwrap();
        assert_eq!(variants.len(), 6, "{content_type}");
        for v in variants {
            let name = v["name"].as_str().unwrap();
            let bytes = variant_bytes(&app, &creator, &id, name).await;
            assert!(!has_exif(&bytes), "{content_type} {name} carries EXIF");
            assert!(
                !bytes.windows(3).any(|w| w == b"GPS"),
                "{content_type} {name}"
            );
            let img = image::load_from_memory(&bytes).unwrap().to_rgb8();
            assert!(
                img.height() > img.width(),
                "{content_type} {name}: portrait"
            );
            assert_red_over_blue(&img, &format!("{content_type} {name}"));
        }
    }

    // A HEIC declared as a JPEG is refused with what it really is.
    let heic = encode(
        &halves(64, 64),
        64,
        64,
        Container::Heic,
        80,
        &Extras::default(),
    )
    .unwrap();
    let id = upload(&app, &creator, "image", "image/jpeg", "x.jpg", heic).await;
    process(&app).await;
    let m = media(&app, &creator, &id).await;
    assert_eq!(m["state"], "rejected", "{m}");
    assert_eq!(
        m["rejection_reason"],
        "the file was declared as image/jpeg but is image/heic"
    );
}

#[tokio::test]
async fn small_photos_are_never_upscaled() {
    let app = TestApp::spawn().await;
    let creator = app.user_with_role(Role::Creator).await;
    let id = upload(
        &app,
        &creator,
        "image",
        "image/jpeg",
        "small.jpg",
        jpeg(600, 400),
    )
    .await;
    process(&app).await;
    let m = media(&app, &creator, &id).await;
    assert_eq!(m["state"], "ready", "{m}");
    for v in m["variants"].as_array().unwrap() {
        let want = if v["name"].as_str().unwrap().starts_with("thumb") {
            (320, 213)
        } else {
            (600, 400)
        };
        assert_eq!(
            (v["width"].as_i64().unwrap(), v["height"].as_i64().unwrap()),
            want,
            "{v}"
        );
    }
}

/// Every rejection: a readable reason, no variants, and the files gone.
#[tokio::test]
async fn bad_files_are_rejected_with_a_reason_and_leave_nothing_behind() {
    let clamd = ClamdServer::start().await;
    let app = TestApp::spawn_with(|s| s.media.clamav_addr = Some(clamd.addr.clone())).await;
    let creator = app.user_with_role(Role::Creator).await;
    let full = jpeg(800, 600);
    let cases: Vec<(&str, &str, &str, Vec<u8>, &str)> = vec![
        ("image", "image/jpeg", "eicar.jpg", eicar(), "malware"),
        ("image", "image/png", "archive.png", zip_stored("eicar.com", &eicar()), "malware"),
        ("image", "image/png", "bomb.png", png_bomb(), "100000×100000"),
        ("image", "image/jpeg", "cut.jpg", full[..full.len() / 2].to_vec(), "truncated"),
        (
            "image",
            "image/jpeg",
            "page.jpg",
            b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>".to_vec(),
            "web page",
        ),
        (
            "image",
            "image/png",
            "drawing.png",
            b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec(),
            "SVG",
        ),
        (
            "video",
            "video/mp4",
            "clip.mp4",
            b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n#EXT-X-ENDLIST\n".to_vec(),
            "playlist",
        ),
        ("image", "image/png", "photo.png", jpeg(64, 64), "declared as image/png but is image/jpeg"),
    ];
    let mut ids = Vec::new();
    for (kind, ct, name, bytes, _) in &cases {
        ids.push(upload(&app, &creator, kind, ct, name, bytes.clone()).await);
    }
    process(&app).await;
    for ((_, _, name, _, why), id) in cases.iter().zip(&ids) {
        let m = media(&app, &creator, id).await;
        assert_eq!(m["state"], "rejected", "{name}: {m}");
        let reason = m["rejection_reason"].as_str().unwrap();
        assert!(
            reason.contains(why),
            "{name}: {reason:?} should say {why:?}"
        );
        assert!(m["variants"].as_array().unwrap().is_empty(), "{name}");
        assert!(m["blurhash"].is_null(), "{name}");
        assert_eq!(variant_rows(&app, id).await, 0, "{name}");
        assert!(
            objects_of(&app, id).await.is_empty(),
            "{name}: files left behind"
        );
    }
    let (status, body) = app
        .get_auth(
            &format!("/api/v1/media/{}/url?variant=thumb.webp", ids[0]),
            &creator,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    // Infected files are counted apart, for the operator.
    let (_, metrics) = app.get_text("/metrics").await;
    assert!(
        metrics.contains(r#"zinovia_media_processed_total{kind="image",outcome="infected"} 2"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn an_empty_file_is_refused_by_the_api_and_by_the_worker() {
    let app = TestApp::spawn().await;
    let creator = app.user_with_role(Role::Creator).await;
    let (status, body) = app
        .post_json(
            "/api/v1/media/uploads",
            Some(&creator),
            &json!({"kind": "image", "content_type": "image/jpeg", "byte_size": 0, "filename": "empty.jpg"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, "validation_failed");
    assert_eq!(
        body["error"]["fields"]["byte_size"][0], "must be more than zero",
        "{body}"
    );

    // An object emptied after upload (storage tampering) is caught by the worker too.
    let id = upload(&app, &creator, "image", "image/jpeg", "a.jpg", jpeg(64, 64)).await;
    let empty = tempfile::NamedTempFile::new().unwrap();
    let key = StorageKey::upload(id.parse().unwrap());
    app.state
        .storage()
        .unwrap()
        .put_file(&key, empty.path(), "image/jpeg")
        .await
        .unwrap();
    process(&app).await;
    let m = media(&app, &creator, &id).await;
    assert_eq!(m["state"], "rejected");
    assert_eq!(m["rejection_reason"], "the file is empty");
}

#[tokio::test]
async fn a_video_gets_a_poster_an_hls_ladder_and_an_h264_mp4_without_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let clip = mp4_with_tags(dir.path());
    assert!(
        ffprobe_tags(&clip).contains("48.8584"),
        "the fixture carries a location"
    );
    let clamd = ClamdServer::start().await;
    let app = TestApp::spawn_with(|s| s.media.clamav_addr = Some(clamd.addr.clone())).await;
    let creator = app.user_with_role(Role::Creator).await;
    let id = upload(
        &app,
        &creator,
        "video",
        "video/mp4",
        "clip.mp4",
        std::fs::read(&clip).unwrap(),
    )
    .await;
    process(&app).await;

    let m = media(&app, &creator, &id).await;
    assert_eq!(m["state"], "ready", "{m}");
    assert_eq!(
        (m["width"].as_i64(), m["height"].as_i64()),
        (Some(640), Some(360))
    );
    let ms = m["duration_ms"].as_i64().unwrap();
    assert!((1900..=2100).contains(&ms), "{ms}");
    assert_eq!(m["blurhash"].as_str().unwrap().len(), 28);
    let names: Vec<&str> = m["variants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    for want in ["thumb.webp", "grid.jpg", "full.webp", "video.mp4"] {
        assert!(names.contains(&want), "{want} in {names:?}");
    }
    let poster =
        image::load_from_memory(&variant_bytes(&app, &creator, &id, "thumb.webp").await).unwrap();
    assert_eq!((poster.width(), poster.height()), (320, 180));

    let video = variant_bytes(&app, &creator, &id, "video.mp4").await;
    let played = dir.path().join("played.mp4");
    std::fs::write(&played, &video).unwrap();
    let tags = ffprobe_tags(&played);
    for secret in ["48.8584", "holiday", "phone"] {
        assert!(
            !tags.contains(secret),
            "{secret} survived the transcode: {tags}"
        );
    }
    // faststart: the index (moov) comes before the media data (mdat).
    let moov = video.windows(4).position(|w| w == b"moov").unwrap();
    let mdat = video.windows(4).position(|w| w == b"mdat").unwrap();
    assert!(moov < mdat, "moov at {moov}, mdat at {mdat}");
    // Transcoded, not copied: H.264 High with stereo AAC, whatever came in.
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,profile,channels",
            "-of",
            "csv=p=0",
        ])
        .arg(&played)
        .output()
        .unwrap();
    let streams = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        streams.contains("h264,High") && streams.contains("aac"),
        "{streams}"
    );

    // The HLS stream is stored beside it: a master playlist, the 360p rendition (the
    // source's own height, never upscaled) and the sound, each with its init section and
    // segments, and the storyboard.
    let objects = objects_of(&app, &id).await;
    let hls = |rel: &str| format!("media/{id}/hls/{rel}");
    for want in [
        "master.m3u8",
        "360p/index.m3u8",
        "360p/s0.m4s",
        "audio/index.m3u8",
        "audio/s0.m4s",
        "storyboard.vtt",
        "sb/0.jpg",
    ] {
        assert!(objects.contains(&hls(want)), "{want} in {objects:?}");
    }
    assert!(
        !objects.iter().any(|k| k.contains("/hls/720p/")),
        "{objects:?}"
    );
    let (renditions, progress, key_len): (Value, Option<i16>, Option<i32>) = sqlx::query_as(
        "select hls -> 'renditions', progress, octet_length(hls_key) from media_assets where id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(renditions.as_array().map(Vec::len), Some(1), "{renditions}");
    // One grant signs the whole stream: its files open with it, another asset's do not.
    let asset: uuid::Uuid = id.parse().unwrap();
    let (urls, _) = app
        .state
        .storage()
        .unwrap()
        .hls_urls(
            asset,
            &["360p/s0.m4s", "master.m3u8"],
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    let r = reqwest::get(&urls[1]).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{}", urls[1]);
    assert!(r.text().await.unwrap().starts_with("#EXTM3U"));
    let r = reqwest::get(&urls[0]).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let other = urls[0].replace(&id, &uuid::Uuid::new_v4().to_string());
    assert_eq!(
        reqwest::get(&other).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    let elsewhere = urls[0].replace("hls/360p/s0.m4s", "thumb.webp");
    assert_eq!(
        reqwest::get(&elsewhere).await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(renditions[0]["name"], "360p");
    assert_eq!(progress, None, "no progress once ready");
    assert_eq!(key_len, Some(16));
    // Its process ran as a video job, behind photos in the queue.
    let kinds: Vec<(String, i16)> =
        sqlx::query_as("select kind, priority from jobs where kind like 'process_%'")
            .fetch_all(&app.state.db)
            .await
            .unwrap();
    assert!(
        kinds.iter().all(|(k, p)| k == "process_video" && *p < 5),
        "{kinds:?}"
    );
}

/// A worker killed in the middle of a transcode: the job runs again, the next worker
/// removes the dead one's work files, and storage ends with exactly the files of one
/// complete transcode.
#[tokio::test]
async fn a_transcode_survives_the_worker_being_killed_and_leaves_no_files_behind() {
    let dir = tempfile::tempdir().unwrap();
    let clip = dir.path().join("long.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=duration=24:size=854x480:rate=30",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:duration=24",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        clip.to_str().unwrap(),
    ]);
    let app = TestApp::spawn().await;
    let creator = app.user_with_role(Role::Creator).await;
    let id = upload(
        &app,
        &creator,
        "video",
        "video/mp4",
        "long.mp4",
        std::fs::read(&clip).unwrap(),
    )
    .await;
    let tmp = tempfile::tempdir().unwrap();
    let start_worker = || {
        let mut cmd = zinovia();
        cmd.arg("worker")
            .env("DATABASE_URL", app.db.url())
            .env("DATA_DIR", app.data_dir())
            .env("TMPDIR", tmp.path())
            .env("JOB_LEASE", "4s")
            .env("JOB_POLL_INTERVAL", "200ms")
            .env("JOB_RETRY_BASE", "0s");
        Proc::start(cmd)
    };
    let progress = || async {
        sqlx::query_as::<_, (String, Option<i16>)>(
            "select state, progress from media_assets where id = $1::uuid",
        )
        .bind(&id)
        .fetch_one(&app.state.db)
        .await
        .unwrap()
    };
    let work_dirs = || -> Vec<String> {
        std::fs::read_dir(tmp.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("zinovia-media-"))
            .collect()
    };

    let mut worker = start_worker();
    worker
        .wait_until(
            Duration::from_secs(240),
            "the transcode under way",
            || async {
                let (state, p) = progress().await;
                assert_ne!(
                    state, "ready",
                    "the transcode ended before the worker could be killed"
                );
                p.is_some_and(|p| p > 0)
            },
        )
        .await;
    // The owner sees how far it has got.
    let m = media(&app, &creator, &id).await;
    assert!(
        m["progress"]
            .as_i64()
            .is_some_and(|p| (1..100).contains(&p)),
        "{m}"
    );
    worker
        .stop(nix::sys::signal::Signal::SIGKILL, Duration::from_secs(10))
        .await;
    assert_eq!(
        progress().await.0,
        "processing",
        "killed before it finished"
    );
    let left = work_dirs();
    assert_eq!(left.len(), 1, "the killed worker's files: {left:?}");

    let mut worker = start_worker();
    worker
        .wait_until(Duration::from_secs(400), "ready", || async {
            progress().await.0 == "ready"
        })
        .await;
    worker
        .stop(nix::sys::signal::Signal::SIGTERM, Duration::from_secs(20))
        .await;
    assert_eq!(work_dirs(), Vec::<String>::new(), "no work files left");
    let attempts: i32 =
        sqlx::query_scalar("select attempts from jobs where kind = 'process_video'")
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert!(attempts >= 2, "the job ran again: {attempts}");

    // Storage holds exactly what the playlists name, plus the storyboard and variants.
    let read = |rel: String| stored_text(&app, format!("media/{id}/hls/{rel}"));
    let mut want = vec![
        format!("media/{id}/hls/master.m3u8"),
        format!("media/{id}/hls/storyboard.vtt"),
    ];
    let master = read("master.m3u8".into()).await;
    let mut lists: Vec<String> = master
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(ToOwned::to_owned)
        .collect();
    lists.push("audio/index.m3u8".into());
    assert_eq!(lists.len(), 3, "480p, 360p and the sound: {master}");
    for list in lists {
        let folder = list.split('/').next().unwrap().to_owned();
        want.push(format!("media/{id}/hls/{list}"));
        for line in read(list.clone()).await.lines() {
            if let Some(init) = line
                .strip_prefix("#EXT-X-MAP:URI=\"")
                .and_then(|r| r.strip_suffix('"'))
            {
                want.push(format!("media/{id}/hls/{folder}/{init}"));
            } else if !line.starts_with('#') && !line.is_empty() {
                want.push(format!("media/{id}/hls/{folder}/{line}"));
            }
        }
    }
    let vtt = read("storyboard.vtt".into()).await;
    let mut sheets: Vec<String> = vtt
        .lines()
        .filter_map(|l| l.split_once('#').map(|(f, _)| f.to_owned()))
        .collect();
    sheets.dedup();
    want.extend(sheets.iter().map(|s| format!("media/{id}/hls/{s}")));
    want.sort();
    let mut stored: Vec<String> = objects_of(&app, &id)
        .await
        .into_iter()
        .filter(|k| k.contains("/hls/"))
        .collect();
    stored.sort();
    assert_eq!(stored, want);
}

type SettingsFn = Box<dyn FnOnce(&mut zinovia::config::Settings)>;

/// Uploads `clip` to an app set up by `settings`, processes it, and answers the asset.
async fn video_on(
    settings: impl FnOnce(&mut zinovia::config::Settings),
    clip: &[u8],
) -> (TestApp, String, Value) {
    let app = TestApp::spawn_with(settings).await;
    let creator = app.user_with_role(Role::Creator).await;
    let id = upload(
        &app,
        &creator,
        "video",
        "video/mp4",
        "clip.mp4",
        clip.to_vec(),
    )
    .await;
    process(&app).await;
    let m = media(&app, &creator, &id).await;
    (app, creator, m)
}

#[tokio::test]
async fn videos_over_the_limits_or_without_ffmpeg_are_rejected_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let clip = std::fs::read(mp4_with_tags(dir.path())).unwrap();
    let cases: [(SettingsFn, &str); 3] = [
        (Box::new(|s| s.media.media_max_video_side = 480), "640×360"),
        (
            Box::new(|s| {
                s.media.media_max_video_duration =
                    zinovia::config::HumanDuration(Duration::from_secs(1))
            }),
            "long",
        ),
        (
            Box::new(|s| {
                s.media.ffmpeg_path = "/nonexistent/ffmpeg".into();
                s.media.ffprobe_path = "/nonexistent/ffprobe".into();
            }),
            "videos cannot be processed on this server",
        ),
    ];
    let mut last = None;
    for (settings, why) in cases {
        let (app, creator, m) = video_on(settings, &clip).await;
        assert_eq!(m["state"], "rejected", "{m}");
        let reason = m["rejection_reason"].as_str().unwrap();
        assert!(reason.contains(why), "{reason:?} should say {why:?}");
        last = Some((app, creator));
    }
    // Photos still work without ffmpeg.
    let (app, creator) = last.unwrap();
    let id = upload(
        &app,
        &creator,
        "image",
        "image/jpeg",
        "a.jpg",
        jpeg(100, 100),
    )
    .await;
    process(&app).await;
    assert_eq!(media(&app, &creator, &id).await["state"], "ready");
}

async fn job_row(app: &TestApp) -> (String, i32, Option<String>, f64) {
    sqlx::query_as::<_, (String, i32, Option<String>, f64)>(
        "select state, attempts, last_error, extract(epoch from run_at - now())::float8 from jobs where kind = 'process_media'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_storage_outage_is_retried_with_backoff_and_then_succeeds() {
    let s3 = S3Server::start().await;
    let app = TestApp::spawn_s3(&s3, |s| {
        s.jobs.job_retry_base = zinovia::config::HumanDuration(Duration::from_secs(600));
    })
    .await;
    let creator = app.user_with_role(Role::Creator).await;
    let id = upload(
        &app,
        &creator,
        "image",
        "image/jpeg",
        "a.jpg",
        jpeg(300, 200),
    )
    .await;

    s3.set_down(true);
    process(&app).await;
    let (state, attempts, error, due_in) = job_row(&app).await;
    assert_eq!((state.as_str(), attempts), ("queued", 1));
    assert!(error.is_some_and(|e| e.contains("S3")));
    // Backoff: the first retry waits about JOB_RETRY_BASE (±20% jitter).
    assert!((400.0..=730.0).contains(&due_in), "retry due in {due_in}s");
    assert_eq!(media(&app, &creator, &id).await["state"], "processing");

    s3.set_down(false);
    sqlx::query("update jobs set run_at = now() where kind = 'process_media'")
        .execute(&app.state.db)
        .await
        .unwrap();
    process(&app).await;
    assert_eq!(job_row(&app).await.0, "succeeded");
    let m = media(&app, &creator, &id).await;
    assert_eq!(m["state"], "ready", "{m}");
    assert_eq!(m["variants"].as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn a_job_that_keeps_failing_ends_failed_and_visible() {
    let s3 = S3Server::start().await;
    let app = TestApp::spawn_s3(&s3, |_| {}).await;
    let creator = app.user_with_role(Role::Creator).await;
    let id = upload(
        &app,
        &creator,
        "image",
        "image/jpeg",
        "a.jpg",
        jpeg(300, 200),
    )
    .await;
    s3.set_down(true);
    process(&app).await;
    let (state, attempts, error, _) = job_row(&app).await;
    assert_eq!((state.as_str(), attempts), ("failed", 5));
    assert!(error.is_some_and(|e| e.contains("S3")));
    let m = media(&app, &creator, &id).await;
    assert_eq!(m["state"], "failed", "{m}");
    assert!(
        m["rejection_reason"]
            .as_str()
            .unwrap()
            .contains("problem on our side")
    );
    // It shows in the operator's list of failed jobs, and a retry after the outage works.
    let failed = zinovia::jobs::admin::failed(&app.state.db, 10)
        .await
        .unwrap();
    assert!(failed.contains("process_media"), "{failed}");
    s3.set_down(false);
    let job_id: i64 = sqlx::query_scalar("select id from jobs where kind = 'process_media'")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    zinovia::jobs::admin::retry(&app.state.db, job_id)
        .await
        .unwrap();
    process(&app).await;
    assert_eq!(media(&app, &creator, &id).await["state"], "ready");
}

#[tokio::test]
async fn an_unreachable_scanner_means_retry_never_clean() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = closed.local_addr().unwrap().to_string();
    drop(closed);
    let app = TestApp::spawn_with(|s| {
        s.media.clamav_addr = Some(addr);
        s.jobs.job_retry_base = zinovia::config::HumanDuration(Duration::from_secs(600));
    })
    .await;
    let creator = app.user_with_role(Role::Creator).await;
    let id = upload(
        &app,
        &creator,
        "image",
        "image/jpeg",
        "a.jpg",
        jpeg(300, 200),
    )
    .await;
    process(&app).await;
    let (state, attempts, error, _) = job_row(&app).await;
    assert_eq!((state.as_str(), attempts), ("queued", 1));
    assert!(error.is_some_and(|e| e.contains("clamd")));
    let m = media(&app, &creator, &id).await;
    assert_eq!(m["state"], "processing");
    assert!(m["variants"].as_array().unwrap().is_empty());
}

/// 50 uploads, the worker process killed with SIGKILL twice while it works, then left to
/// finish: every asset ready, with exactly one row per variant, and no job failed.
#[tokio::test]
async fn processing_survives_the_worker_being_killed() {
    let clamd = ClamdServer::start().await;
    let app = TestApp::spawn_with(|s| s.media.clamav_addr = Some(clamd.addr.clone())).await;
    let creator = app.user_with_role(Role::Creator).await;
    let photo = with_exif(&jpeg(2400, 1600), 3);
    let mut ids = Vec::new();
    for i in 0..50 {
        ids.push(
            upload(
                &app,
                &creator,
                "image",
                "image/jpeg",
                &format!("p{i}.jpg"),
                photo.clone(),
            )
            .await,
        );
    }
    let start_worker = || {
        let mut cmd = zinovia();
        cmd.arg("worker")
            .env("DATABASE_URL", app.db.url())
            .env("DATA_DIR", app.data_dir())
            .env("CLAMAV_ADDR", &clamd.addr)
            .env("WORKER_CONCURRENCY", "4")
            .env("JOB_LEASE", "2s")
            .env("JOB_POLL_INTERVAL", "200ms")
            .env("JOB_RETRY_BASE", "0s");
        Proc::start(cmd)
    };
    let ready = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from media_assets where state = 'ready'")
            .fetch_one(&app.state.db)
            .await
            .unwrap()
    };
    for round in 0..2 {
        let before = ready().await;
        let mut worker = start_worker();
        // Kill it in the middle of the work: after it finished a few more.
        crate::helpers::wait_until(
            Duration::from_secs(120),
            "progress before the kill",
            || async { ready().await >= before + 3 },
        )
        .await;
        worker
            .stop(nix::sys::signal::Signal::SIGKILL, Duration::from_secs(10))
            .await;
        assert!(
            ready().await < 50,
            "round {round}: the worker finished before it was killed"
        );
    }
    let mut worker = start_worker();
    crate::helpers::wait_until(Duration::from_secs(300), "all 50 ready", || async {
        ready().await == 50
    })
    .await;
    worker
        .stop(nix::sys::signal::Signal::SIGTERM, Duration::from_secs(20))
        .await;

    for id in &ids {
        assert_eq!(variant_rows(&app, id).await, 6, "{id}");
    }
    let (failed, max_attempts): (i64, i32) = sqlx::query_as(
        "select count(*) filter (where state = 'failed'), coalesce(max(attempts), 0) from jobs where kind = 'process_media'",
    )
    .fetch_one(&app.state.db)
    .await
    .unwrap();
    assert_eq!(failed, 0);
    assert!(max_attempts >= 2, "some job was interrupted and run again");
    let distinct: i64 = sqlx::query_scalar("select count(distinct object_key) from media_variants")
        .fetch_one(&app.state.db)
        .await
        .unwrap();
    assert_eq!(distinct, 300);
}

/// Fetches `url` (a path on the app, or a full URL) without any cookie or credential.
async fn fetch(app: &TestApp, url: &str) -> (StatusCode, Vec<u8>) {
    let url = if url.starts_with("http") {
        url.to_owned()
    } else {
        format!("{}{url}", app.base)
    };
    let r = reqwest::get(&url).await.unwrap();
    (r.status(), r.bytes().await.unwrap().to_vec())
}

/// The protected stream of a subscribers-only video: the master playlist only for whom the
/// entitlement rule allows; its rendition playlists, segments, storyboard and key work
/// without cookies for the viewer it was made for; a forged or expired grant, and a
/// subscriber who lapsed, get nothing more — the key least of all.
#[tokio::test]
async fn a_videos_hls_stream_follows_the_entitlement_rule_to_the_key() {
    use crate::helpers::{call, creator, member, post, subscribe};
    let dir = tempfile::tempdir().unwrap();
    let clip = mp4_with_tags(dir.path());
    let app = TestApp::spawn().await;
    let ada = creator(&app, "hls_ada").await;
    let id = upload(
        &app,
        &ada.token,
        "video",
        "video/mp4",
        "clip.mp4",
        std::fs::read(&clip).unwrap(),
    )
    .await;
    process(&app).await;
    post(
        &app,
        &ada,
        json!({"text": "a clip", "visibility": "subscribers", "media_ids": [id]}),
    )
    .await;
    let fan = member(&app, Role::Fan).await;
    let stranger = member(&app, Role::Fan).await;
    subscribe(&app, &fan, &ada, "active", 30).await;
    let master_path = format!("/api/v1/media/{id}/hls/master.m3u8");

    // Anonymous and a fan without a subscription: refused; no such video: 404.
    assert_eq!(fetch(&app, &master_path).await.0, StatusCode::FORBIDDEN);
    let (s, _) = call(
        &app,
        reqwest::Method::GET,
        &master_path,
        Some(&stranger.token),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let missing = format!("/api/v1/media/{}/hls/master.m3u8", uuid::Uuid::new_v4());
    let (s, _) = call(&app, reqwest::Method::GET, &missing, Some(&fan.token), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The subscriber gets the master playlist; everything it leads to works without cookies.
    let r = app
        .client
        .get(format!("{}{master_path}", app.base))
        .bearer_auth(&fan.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/vnd.apple.mpegurl");
    let master = r.text().await.unwrap();
    assert!(
        master.contains("RESOLUTION=640x360,CODECS=\"avc1.64"),
        "{master}"
    );
    let uri = |prefix: &str| -> String {
        master
            .lines()
            .find(|l| l.starts_with(prefix))
            .map(|l| format!("/api/v1/media/{id}/hls/{l}"))
            .unwrap_or_else(|| {
                let at = master.find(&format!("URI=\"{prefix}")).unwrap() + 5;
                let end = master[at..].find('"').unwrap();
                format!("/api/v1/media/{id}/hls/{}", &master[at..at + end])
            })
    };
    let video = uri("360p/index.m3u8?");
    let audio = uri("audio/index.m3u8?");
    let (s, body) = fetch(&app, &video).await;
    assert_eq!(s, StatusCode::OK);
    let playlist = String::from_utf8(body).unwrap();
    let key_url = playlist
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-KEY:METHOD=AES-128,URI=\""))
        .and_then(|r| r.strip_suffix('"'))
        .unwrap()
        .to_owned();
    let segment = playlist
        .lines()
        .find(|l| !l.starts_with('#') && !l.is_empty())
        .unwrap()
        .to_owned();
    let init = playlist
        .lines()
        .find_map(|l| l.strip_prefix("#EXT-X-MAP:URI=\""))
        .and_then(|r| r.strip_suffix('"'))
        .unwrap()
        .to_owned();
    let (s, seg_bytes) = fetch(&app, &segment).await;
    assert_eq!(s, StatusCode::OK);
    assert_ne!(&seg_bytes[4..8], b"moof", "segments are served encrypted");
    assert_eq!(fetch(&app, &init).await.0, StatusCode::OK);
    assert_eq!(fetch(&app, &audio).await.0, StatusCode::OK);
    let (s, key) = fetch(&app, &key_url).await;
    assert_eq!(s, StatusCode::OK);
    let stored: Vec<u8> =
        sqlx::query_scalar("select hls_key from media_assets where id = $1::uuid")
            .bind(&id)
            .fetch_one(&app.state.db)
            .await
            .unwrap();
    assert_eq!(key, stored);
    // The master playlist names the storyboard's cues, for the player's seek bar.
    let vtt_url = master
        .lines()
        .find_map(|l| {
            l.strip_prefix("#EXT-X-SESSION-DATA:DATA-ID=\"com.zinovia.storyboard\",VALUE=\"")
        })
        .and_then(|r| r.strip_suffix('"'))
        .map(|v| format!("/api/v1/media/{id}/hls/{v}"))
        .expect("the storyboard in the master playlist");
    assert!(vtt_url.starts_with(&format!("/api/v1/media/{id}/hls/storyboard.vtt?viewer=")));
    let (s, vtt) = fetch(&app, &vtt_url).await;
    assert_eq!(s, StatusCode::OK);
    let vtt = String::from_utf8(vtt).unwrap();
    let sheet = vtt.lines().find(|l| l.contains("#xywh=")).unwrap();
    assert_eq!(
        fetch(&app, sheet.split('#').next().unwrap()).await.0,
        StatusCode::OK
    );

    // A forged grant (the subscriber's token for the stranger), a tampered expiry, another
    // video's id: refused.
    let forged = key_url.replace(&fan.id.to_string(), &stranger.id.to_string());
    assert_eq!(fetch(&app, &forged).await.0, StatusCode::FORBIDDEN);
    let expires = key_url
        .split("expires=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap();
    let later = key_url.replace(
        &format!("expires={expires}"),
        &format!("expires={}", expires.parse::<i64>().unwrap() + 3600),
    );
    assert_eq!(fetch(&app, &later).await.0, StatusCode::FORBIDDEN);
    // A genuine grant that has expired.
    let past = chrono::Utc::now().timestamp() - 1;
    let token = crate::helpers::hls_token(&app, &id, &fan.id.to_string(), past);
    let old = format!(
        "/api/v1/media/{id}/hls/key?viewer={}&expires={past}&token={token}",
        fan.id
    );
    assert_eq!(fetch(&app, &old).await.0, StatusCode::FORBIDDEN);

    // The subscription lapses: the same, unexpired grant no longer opens anything.
    subscribe(&app, &fan, &ada, "canceled", -1).await;
    assert_eq!(fetch(&app, &key_url).await.0, StatusCode::FORBIDDEN);
    assert_eq!(fetch(&app, &video).await.0, StatusCode::FORBIDDEN);
    let (s, _) = call(
        &app,
        reqwest::Method::GET,
        &master_path,
        Some(&fan.token),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Its creator still can.
    let (s, _) = call(
        &app,
        reqwest::Method::GET,
        &master_path,
        Some(&ada.token),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
}
