//! Blurred placeholders for pages: a blurhash decoded into a tiny PNG that the browser
//! scales up (and the page blurs further) while the real image loads, or instead of a
//! locked one.

use image::ImageEncoder;
use image::codecs::png::{CompressionType, FilterType, PngEncoder};

/// Longest edge of a placeholder, in pixels: a 4×3 blurhash holds no more detail.
pub const PLACEHOLDER_EDGE: u32 = 12;

/// The blurhash as a PNG of about `PLACEHOLDER_EDGE` pixels on its long edge, in the
/// `width`:`height` proportion (a square when unknown). `None` for a malformed hash.
pub fn placeholder_png(blurhash: &str, width: Option<i32>, height: Option<i32>) -> Option<Vec<u8>> {
    let (w, h) = match (width, height) {
        (Some(w), Some(h)) if w > 0 && h > 0 => (w as f64, h as f64),
        _ => (1.0, 1.0),
    };
    let edge = f64::from(PLACEHOLDER_EDGE);
    let scale = edge / w.max(h);
    let (pw, ph) = (
        ((w * scale).round() as u32).clamp(1, PLACEHOLDER_EDGE),
        ((h * scale).round() as u32).clamp(1, PLACEHOLDER_EDGE),
    );
    let rgba = blurhash::decode(blurhash, pw, ph, 1.0).ok()?;
    let rgb: Vec<u8> = rgba
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    let mut png = Vec::with_capacity(256);
    PngEncoder::new_with_quality(&mut png, CompressionType::Best, FilterType::Sub)
        .write_image(&rgb, pw, ph, image::ExtendedColorType::Rgb8)
        .ok()?;
    Some(png)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blurhash_becomes_a_small_png_in_the_image_proportion() {
        // A real 4×3 hash from the worker's test photo.
        let hash = "LEHV6nWB2yk8pyo0adR*.7kCMdnj";
        let png = placeholder_png(hash, Some(4000), Some(3000)).unwrap();
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
        assert!(png.len() < 400, "{} bytes", png.len());
        let img = image::load_from_memory(&png).unwrap();
        assert_eq!((img.width(), img.height()), (12, 9));
        let tall = image::load_from_memory(&placeholder_png(hash, Some(1080), Some(1920)).unwrap())
            .unwrap();
        assert_eq!((tall.width(), tall.height()), (7, 12));
        let unknown = image::load_from_memory(&placeholder_png(hash, None, None).unwrap()).unwrap();
        assert_eq!((unknown.width(), unknown.height()), (12, 12));
    }

    #[test]
    fn a_malformed_blurhash_gives_no_placeholder() {
        assert!(placeholder_png("nope", Some(10), Some(10)).is_none());
        assert!(placeholder_png("", None, None).is_none());
        assert!(placeholder_png("LEHV6nWB2yk8pyo0adR*.7kCMdn\u{e9}", None, None).is_none());
    }
}
