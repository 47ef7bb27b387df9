//! WebP encoding through libwebp (vendored 1.6, the same encoder Pillow ships), lossy,
//! quality 80, method 4.

use libwebp_sys as webp;

/// Encodes tightly packed RGB8 pixels. `None` when libwebp refuses (sizes over 16383).
#[expect(
    unsafe_code,
    reason = "libwebp's C API; every pointer below lives for the whole call"
)]
pub fn encode_rgb(
    rgb: &[u8],
    width: u32,
    height: u32,
    quality: f32,
    method: i32,
) -> Option<Vec<u8>> {
    let w = i32::try_from(width).ok()?;
    let h = i32::try_from(height).ok()?;
    if rgb.len() < (width as usize) * (height as usize) * 3 {
        return None;
    }
    let mut config = webp::WebPConfig::new().ok()?;
    config.quality = quality;
    config.method = method;
    // SAFETY: config is initialised by WebPConfig::new.
    if unsafe { webp::WebPValidateConfig(&config) } == 0 {
        return None;
    }
    let mut picture = webp::WebPPicture::new().ok()?;
    picture.width = w;
    picture.height = h;
    let mut writer = std::mem::MaybeUninit::<webp::WebPMemoryWriter>::uninit();
    // SAFETY: the writer is initialised before use and cleared after; the picture is
    // freed on every path; rgb outlives the import (which copies it).
    unsafe {
        webp::WebPMemoryWriterInit(writer.as_mut_ptr());
        let mut writer = writer.assume_init();
        picture.writer = Some(webp::WebPMemoryWrite);
        picture.custom_ptr = (&raw mut writer).cast();
        let imported = webp::WebPPictureImportRGB(&mut picture, rgb.as_ptr(), w * 3) != 0;
        let encoded = imported && webp::WebPEncode(&config, &mut picture) != 0;
        let out = if encoded && !writer.mem.is_null() {
            Some(std::slice::from_raw_parts(writer.mem, writer.size).to_vec())
        } else {
            None
        };
        webp::WebPPictureFree(&mut picture);
        webp::WebPMemoryWriterClear(&mut writer);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_a_webp() {
        let rgb: Vec<u8> = (0..64 * 48 * 3).map(|i| (i % 251) as u8).collect();
        let out = encode_rgb(&rgb, 64, 48, 80.0, 4).unwrap();
        assert!(out.starts_with(b"RIFF") && &out[8..12] == b"WEBP");
        let decoded = image::load_from_memory_with_format(&out, image::ImageFormat::WebP).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (64, 48));
        assert!(
            encode_rgb(&rgb, 64, 49, 80.0, 4).is_none(),
            "too few pixels for the size"
        );
    }
}
