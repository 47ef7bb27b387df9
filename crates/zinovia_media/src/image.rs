//! Photos: header-only checks, decoding (DCT-scaled for JPEG with libjpeg-turbo), EXIF
//! orientation, Lanczos3 variants that are never upscaled, WebP and baseline JPEG encoding
//! (which drops every metadata block), and a 4×3 blurhash.

use std::io::Cursor;

use fast_image_resize::images::Image as FirImage;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

use crate::MediaError;
use crate::formats::{Format, sniff};
use crate::limits::ImageLimits;

/// A variant size: name and longest edge in pixels.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    /// Its name (`thumb`, `grid`, `full`).
    pub name: &'static str,
    /// Longest edge.
    pub long_edge: u32,
}

/// The sizes every photo gets, largest first (each is resized from the previous one).
pub const SIZES: [Size; 3] = [
    Size {
        name: "full",
        long_edge: 2048,
    },
    Size {
        name: "grid",
        long_edge: 960,
    },
    Size {
        name: "thumb",
        long_edge: 320,
    },
];

/// How variants are encoded.
#[derive(Debug, Clone, Copy)]
pub struct Encoding {
    /// WebP quality.
    pub webp_quality: f32,
    /// WebP method (speed/size trade-off, 0–6).
    pub webp_method: i32,
    /// JPEG quality (baseline, 4:2:0, optimised Huffman tables).
    pub jpeg_quality: u8,
    /// Encode the variants on several threads.
    pub parallel: bool,
}

impl Default for Encoding {
    fn default() -> Self {
        Encoding {
            webp_quality: 80.0,
            webp_method: 4,
            jpeg_quality: 82,
            parallel: true,
        }
    }
}

/// One encoded file.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// File name: `<size>.<webp|jpg>`.
    pub name: String,
    /// Content type.
    pub content_type: &'static str,
    /// Pixels.
    pub width: u32,
    /// Pixels.
    pub height: u32,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// A processed photo.
#[derive(Debug, Clone)]
pub struct Processed {
    /// Width as shown (orientation applied), of the original.
    pub width: u32,
    /// Height as shown.
    pub height: u32,
    /// 4×3 blurhash.
    pub blurhash: String,
    /// Every variant, WebP and JPEG.
    pub variants: Vec<Encoded>,
    /// Where the time went.
    pub timings: Timings,
}

/// Time spent per stage (encoding on a second thread counts where it was waited for).
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// Header checks, EXIF and decoding.
    pub decode: std::time::Duration,
    /// Resizing, orientation and the blurhash.
    pub resize: std::time::Duration,
    /// Encoding every variant.
    pub encode: std::time::Duration,
}

/// True when this build decodes HEIC/HEIF and AVIF photos (the `heif` feature).
pub const DECODES_HEIF: bool = cfg!(feature = "heif");

/// Why a HEIC/AVIF photo is refused by a build without the `heif` feature.
pub const NO_HEIF: &str = "HEIC and AVIF photos cannot be read by this server (it was built \
    without HEIF support); upload a JPEG, PNG or WebP instead";

/// Width and height from the header alone, without decoding pixels (as shown: for
/// HEIC/AVIF, after the container's rotation).
pub fn dimensions(bytes: &[u8], format: Format) -> Result<(u32, u32), MediaError> {
    if matches!(format, Format::Heif | Format::Avif) {
        #[cfg(feature = "heif")]
        return crate::heif::dimensions(bytes);
        #[cfg(not(feature = "heif"))]
        return Err(MediaError::Rejected(NO_HEIF.into()));
    }
    let fmt = image_format(format)?;
    image::ImageReader::with_format(Cursor::new(bytes), fmt)
        .into_dimensions()
        .map_err(|_| MediaError::Rejected("the image is damaged or not an image".into()))
}

fn image_format(format: Format) -> Result<image::ImageFormat, MediaError> {
    Ok(match format {
        Format::Jpeg => image::ImageFormat::Jpeg,
        Format::Png => image::ImageFormat::Png,
        Format::Webp => image::ImageFormat::WebP,
        Format::Gif => image::ImageFormat::Gif,
        Format::Heif | Format::Avif => return Err(MediaError::Rejected(NO_HEIF.into())),
        _ => return Err(MediaError::Rejected("this is a video, not an image".into())),
    })
}

/// EXIF orientation (1–8), 1 when absent or unreadable.
pub fn orientation(bytes: &[u8]) -> u32 {
    exif::Reader::new()
        .read_from_container(&mut Cursor::new(bytes))
        .ok()
        .and_then(|e| {
            e.get_field(exif::Tag::Orientation, exif::In::PRIMARY)
                .and_then(|f| f.value.get_uint(0))
        })
        .filter(|o| (1..=8).contains(o))
        .unwrap_or(1)
}

/// The embedded ICC colour profile, if any (JPEG APP2 chunks in order; PNG `iCCP`; WebP
/// `ICCP`), read without decoding pixels.
pub fn icc_profile(bytes: &[u8], format: Format) -> Option<Vec<u8>> {
    if format == Format::Jpeg {
        return jpeg_icc(bytes);
    }
    let fmt = image_format(format).ok()?;
    let reader = image::ImageReader::with_format(Cursor::new(bytes), fmt);
    let mut decoder = reader.into_decoder().ok()?;
    image::ImageDecoder::icc_profile(&mut decoder)
        .ok()
        .flatten()
}

fn jpeg_icc(bytes: &[u8]) -> Option<Vec<u8>> {
    const TAG: &[u8] = b"ICC_PROFILE\0";
    let mut chunks: Vec<(u8, &[u8])> = Vec::new();
    let mut i = 2;
    while i + 4 <= bytes.len() && bytes[i] == 0xFF {
        let marker = bytes[i + 1];
        if marker == 0xDA || marker == 0xD9 {
            break;
        }
        let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        let body = bytes.get(i + 4..i + 2 + len)?;
        if marker == 0xE2 && body.starts_with(TAG) && body.len() > TAG.len() + 2 {
            chunks.push((body[TAG.len()], &body[TAG.len() + 2..]));
        }
        i += 2 + len;
    }
    if chunks.is_empty() {
        return None;
    }
    chunks.sort_by_key(|(seq, _)| *seq);
    Some(
        chunks
            .into_iter()
            .flat_map(|(_, c)| c.iter().copied())
            .collect(),
    )
}

/// An ICC profile that can convert RGB pixels: `None` for profiles that are not RGB or
/// cannot be read (their pixels are left as they are, like a browser would).
pub(crate) fn icc_to_profile(icc: &[u8]) -> Option<Box<qcms::Profile>> {
    if icc.get(16..20) != Some(b"RGB ") {
        return None;
    }
    qcms::Profile::new_from_slice(icc, false)
}

/// Converts pixels in the colour space of `input` to sRGB, in place.
fn to_srgb(img: &mut Rgb, input: &qcms::Profile) {
    let mut output = qcms::Profile::new_sRGB();
    output.precache_output_transform();
    if let Some(t) = qcms::Transform::new(
        input,
        &output,
        qcms::DataType::RGB8,
        qcms::Intent::default(),
    ) {
        t.apply(&mut img.pixels);
    }
}

/// Checks the PNG chunks before the IDAT for what the spec requires and decoders assume: a
/// palette (`PLTE`) of 1 to 256 whole entries. (png 0.18 panics on a palette whose length
/// is not a multiple of three; found by the fuzz target.)
fn png_chunks_are_sane(bytes: &[u8]) -> bool {
    let mut i = 8;
    while let Some(header) = bytes.get(i..i + 8) {
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        match &header[4..8] {
            b"PLTE" if len == 0 || !len.is_multiple_of(3) || len > 768 => return false,
            b"IDAT" | b"IEND" => return true,
            _ => {}
        }
        i = i.saturating_add(12).saturating_add(len);
    }
    true
}

/// A JPEG is complete when its entropy-coded data ends with an EOI marker. libjpeg happily
/// fills a truncated file with grey; we refuse it instead.
pub fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let mut i = 2;
    // Walk the segments up to the first start-of-scan (EXIF thumbnails live inside APP1,
    // which is skipped by its length).
    while i + 4 <= bytes.len() {
        if bytes[i] != 0xFF {
            return false;
        }
        let marker = bytes[i + 1];
        if marker == 0xFF {
            i += 1;
            continue;
        }
        let len = usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]]));
        if marker == 0xDA {
            let scan = i + 2 + len;
            // Inside entropy-coded data 0xFF is always followed by 0x00 or a restart marker,
            // so an FF D9 after the first scan is the end of the image. It is normally at
            // the very end, so look from there.
            return bytes
                .get(scan..)
                .is_some_and(|rest| rest.windows(2).rev().any(|w| w == [0xFF, 0xD9]));
        }
        i += 2 + len;
    }
    false
}

/// Decoded pixels, RGB8, tightly packed.
pub(crate) struct Rgb {
    pub(crate) width: u32,
    pub(crate) height: u32,
    pub(crate) pixels: Vec<u8>,
}

/// Decodes to RGB8 at the smallest size that still covers `want` on the long edge (JPEG
/// with libjpeg-turbo decodes at 1/2, 1/4 or 1/8 directly). Transparency is flattened
/// onto white.
fn decode(bytes: &[u8], format: Format, want: u32) -> Result<Rgb, MediaError> {
    let damaged = || MediaError::Rejected("the image is damaged and cannot be read".into());
    if format == Format::Png && !png_chunks_are_sane(bytes) {
        return Err(damaged());
    }
    if format == Format::Jpeg && !jpeg_is_complete(bytes) {
        return Err(MediaError::Rejected(
            "the image is truncated or damaged".into(),
        ));
    }
    #[cfg(feature = "turbojpeg")]
    if format == Format::Jpeg {
        // CMYK/YCCK JPEGs (from print workflows) go to the image crate, which converts them.
        if let Some(rgb) = decode_jpeg_scaled(bytes, want).map_err(|_| damaged())? {
            return Ok(rgb);
        }
    }
    let _ = want;
    let fmt = image_format(format)?;
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), fmt);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(1 << 30);
    reader.limits(limits);
    let img = reader.decode().map_err(|_| damaged())?;
    let (width, height) = (img.width(), img.height());
    let pixels = if img.color().has_alpha() {
        img.to_rgba8()
            .pixels()
            .flat_map(|p| {
                let a = u16::from(p[3]);
                let over = |c: u8| ((u16::from(c) * a + 255 * (255 - a)) / 255) as u8;
                [over(p[0]), over(p[1]), over(p[2])]
            })
            .collect()
    } else {
        img.to_rgb8().into_raw()
    };
    Ok(Rgb {
        width,
        height,
        pixels,
    })
}

#[cfg(feature = "turbojpeg")]
fn decode_jpeg_scaled(bytes: &[u8], want: u32) -> Result<Option<Rgb>, turbojpeg::Error> {
    let mut d = turbojpeg::Decompressor::new()?;
    let header = d.read_header(bytes)?;
    if matches!(
        header.colorspace,
        turbojpeg::Colorspace::CMYK | turbojpeg::Colorspace::YCCK
    ) {
        return Ok(None);
    }
    let long = header.width.max(header.height);
    let want = (want as usize).min(long);
    // The smallest supported factor whose result still covers the largest variant.
    let mut best = turbojpeg::ScalingFactor::new(1, 1);
    for f in turbojpeg::Decompressor::supported_scaling_factors() {
        if f.num() <= f.denom() && f.scale(long) >= want && f.scale(long) < best.scale(long) {
            best = f;
        }
    }
    d.set_scaling_factor(best)?;
    let scaled = header.scaled(best);
    let mut image = turbojpeg::Image {
        pixels: vec![0u8; scaled.width * scaled.height * 3],
        width: scaled.width,
        pitch: scaled.width * 3,
        height: scaled.height,
        format: turbojpeg::PixelFormat::RGB,
    };
    d.decompress(bytes, image.as_deref_mut())?;
    Ok(Some(Rgb {
        width: u32::try_from(scaled.width).unwrap_or(0),
        height: u32::try_from(scaled.height).unwrap_or(0),
        pixels: image.pixels,
    }))
}

/// Fits `(w, h)` into `long_edge` on its longest side, never enlarging.
fn fit(w: u32, h: u32, long_edge: u32) -> (u32, u32) {
    let long = w.max(h);
    if long <= long_edge {
        return (w, h);
    }
    let scale = f64::from(long_edge) / f64::from(long);
    let nw = ((f64::from(w) * scale).round() as u32).max(1);
    let nh = ((f64::from(h) * scale).round() as u32).max(1);
    (nw, nh)
}

fn resize(src: &Rgb, w: u32, h: u32, alg: ResizeAlg) -> Result<Rgb, MediaError> {
    if (w, h) == (src.width, src.height) {
        return Ok(Rgb {
            width: w,
            height: h,
            pixels: src.pixels.clone(),
        });
    }
    let internal = |e: &dyn std::fmt::Display| MediaError::Internal(format!("resize: {e}"));
    let view = fast_image_resize::images::ImageRef::new(
        src.width,
        src.height,
        &src.pixels,
        PixelType::U8x3,
    )
    .map_err(|e| internal(&e))?;
    let mut dst = FirImage::new(w, h, PixelType::U8x3);
    Resizer::new()
        .resize(&view, &mut dst, &ResizeOptions::new().resize_alg(alg))
        .map_err(|e| internal(&e))?;
    Ok(Rgb {
        width: w,
        height: h,
        pixels: dst.into_vec(),
    })
}

/// Applies EXIF orientation `o` (2–8) to the pixels.
fn orient(src: Rgb, o: u32) -> Rgb {
    if o <= 1 || o > 8 {
        return src;
    }
    let (w, h) = (src.width as usize, src.height as usize);
    let transposed = o >= 5;
    let (nw, nh) = if transposed { (h, w) } else { (w, h) };
    // Where source pixel (x, y) lands, per the TIFF orientation table, as a start and a
    // step per x and per y in destination pixels: d = start + x·sx + y·sy.
    let (nw_i, w_i, h_i) = (nw as isize, w as isize, h as isize);
    let (start, sx, sy): (isize, isize, isize) = match o {
        2 => (w_i - 1, -1, nw_i),
        3 => ((h_i - 1) * nw_i + w_i - 1, -1, -nw_i),
        4 => ((h_i - 1) * nw_i, 1, -nw_i),
        5 => (0, nw_i, 1),
        6 => (h_i - 1, nw_i, -1),
        7 => ((w_i - 1) * nw_i + h_i - 1, -nw_i, -1),
        _ => ((w_i - 1) * nw_i, -nw_i, 1), // 8
    };
    let mut out = vec![0u8; src.pixels.len()];
    for (y, row) in src.pixels.chunks_exact(w * 3).enumerate() {
        let mut d = start + y as isize * sy;
        for px in row.chunks_exact(3) {
            let at = d as usize * 3;
            out[at..at + 3].copy_from_slice(px);
            d += sx;
        }
    }
    Rgb {
        width: nw as u32,
        height: nh as u32,
        pixels: out,
    }
}

/// Baseline JPEG, 4:2:0, optimised Huffman tables, no metadata (libjpeg-turbo).
#[cfg(feature = "turbojpeg")]
fn encode_jpeg(img: &Rgb, quality: u8) -> Result<Vec<u8>, MediaError> {
    let internal = |e: turbojpeg::Error| MediaError::Internal(format!("jpeg: {e}"));
    let mut c = turbojpeg::Compressor::new().map_err(internal)?;
    c.set_quality(i32::from(quality)).map_err(internal)?;
    c.set_subsamp(turbojpeg::Subsamp::Sub2x2)
        .map_err(internal)?;
    c.set_optimize(true).map_err(internal)?;
    let image = turbojpeg::Image {
        pixels: img.pixels.as_slice(),
        width: img.width as usize,
        pitch: img.width as usize * 3,
        height: img.height as usize,
        format: turbojpeg::PixelFormat::RGB,
    };
    c.compress_to_owned(image)
        .map(|b| b.to_vec())
        .map_err(internal)
}

/// The same with the pure-Rust encoder.
#[cfg(not(feature = "turbojpeg"))]
fn encode_jpeg(img: &Rgb, quality: u8) -> Result<Vec<u8>, MediaError> {
    let mut out = Vec::new();
    let mut enc = jpeg_encoder::Encoder::new(&mut out, quality);
    enc.set_sampling_factor(jpeg_encoder::SamplingFactor::R_4_2_0);
    enc.set_optimized_huffman_tables(true);
    let w =
        u16::try_from(img.width).map_err(|_| MediaError::Internal("too wide for JPEG".into()))?;
    let h =
        u16::try_from(img.height).map_err(|_| MediaError::Internal("too tall for JPEG".into()))?;
    enc.encode(&img.pixels, w, h, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| MediaError::Internal(format!("jpeg: {e}")))?;
    Ok(out)
}

fn encode_both(name: &str, img: &Rgb, enc: Encoding) -> Result<Vec<Encoded>, MediaError> {
    Ok(vec![
        encode_webp(name, img, enc)?,
        encode_jpg(name, img, enc)?,
    ])
}

fn encode_webp(name: &str, img: &Rgb, enc: Encoding) -> Result<Encoded, MediaError> {
    let bytes = crate::webp::encode_rgb(
        &img.pixels,
        img.width,
        img.height,
        enc.webp_quality,
        enc.webp_method,
    )
    .ok_or_else(|| MediaError::Internal("webp encoding failed".into()))?;
    Ok(Encoded {
        name: format!("{name}.webp"),
        content_type: "image/webp",
        width: img.width,
        height: img.height,
        bytes,
    })
}

fn encode_jpg(name: &str, img: &Rgb, enc: Encoding) -> Result<Encoded, MediaError> {
    Ok(Encoded {
        name: format!("{name}.jpg"),
        content_type: "image/jpeg",
        width: img.width,
        height: img.height,
        bytes: encode_jpeg(img, enc.jpeg_quality)?,
    })
}

/// A 4×3 blurhash computed on a ~32 px box-filtered copy.
fn blurhash_of(img: &Rgb) -> Result<String, MediaError> {
    let (w, h) = fit(img.width, img.height, 32);
    let small = resize(img, w, h, ResizeAlg::Convolution(FilterType::Box))?;
    let rgba: Vec<u8> = small
        .pixels
        .chunks_exact(3)
        .flat_map(|p| [p[0], p[1], p[2], 255])
        .collect();
    blurhash::encode(4, 3, w, h, &rgba)
        .map_err(|e| MediaError::Internal(format!("blurhash: {e:?}")))
}

/// Checks a photo's real format and dimensions from its header (before decoding), then
/// makes every variant in both formats, oriented and without metadata, and its blurhash.
pub fn process(bytes: &[u8], limits: &ImageLimits, enc: Encoding) -> Result<Processed, MediaError> {
    let started = std::time::Instant::now();
    let format = sniff(bytes).ok_or_else(|| {
        MediaError::Rejected("this file is not a JPEG, PNG, WebP, GIF, HEIC or AVIF image".into())
    })?;
    let (w, h) = dimensions(bytes, format)?;
    limits.check(w, h).map_err(MediaError::Rejected)?;
    let (o, profile, decoded, (w, h)) = match format {
        // Upright already (libheif applies the container's rotation; the EXIF orientation
        // these files also carry describes the same turn and is not applied again).
        #[cfg(feature = "heif")]
        Format::Heif | Format::Avif => {
            let d = crate::heif::decode(bytes, limits)?;
            let size = (d.rgb.width, d.rgb.height);
            (1, d.profile, d.rgb, size)
        }
        _ => {
            let profile = icc_profile(bytes, format).and_then(|icc| icc_to_profile(&icc));
            let largest = SIZES[0].long_edge;
            (
                orientation(bytes),
                profile,
                decode(bytes, format, largest)?,
                (w, h),
            )
        }
    };
    let decoded_at = std::time::Instant::now();

    let lanczos = ResizeAlg::Convolution(FilterType::Lanczos3);
    let mut sized: Vec<(Size, Rgb)> = Vec::with_capacity(SIZES.len());
    let mut decoded = Some(decoded);
    for size in SIZES {
        // Sizes are relative to the original, so a scaled decode lands on the same pixels.
        let (tw, th) = fit(w, h, size.long_edge);
        let img = match (sized.last(), decoded.take()) {
            // The first size straight from the decoded pixels, without a copy when it
            // already has the size; then turned upright once, like Pillow does.
            (None, Some(src)) => {
                let (tw, th) = if (tw, th) == (w, h) {
                    (src.width, src.height)
                } else {
                    (tw, th)
                };
                let mut img = if (tw, th) == (src.width, src.height) {
                    src
                } else {
                    resize(&src, tw, th, lanczos)?
                };
                if let Some(profile) = &profile {
                    to_srgb(&mut img, profile);
                }
                orient(img, o)
            }
            // Smaller sizes from the previous (upright) one.
            (Some((_, prev)), _) => {
                let (tw, th) = if o >= 5 { (th, tw) } else { (tw, th) };
                resize(prev, tw.min(prev.width), th.min(prev.height), lanczos)?
            }
            (None, None) => return Err(MediaError::Internal("nothing decoded".into())),
        };
        sized.push((size, img));
    }
    let blurhash = blurhash_of(&sized[sized.len() - 1].1)?;
    let resized_at = std::time::Instant::now();

    let mut variants = Vec::with_capacity(sized.len() * 2);
    if enc.parallel {
        // The largest WebP is most of the work: it gets a thread of its own while the rest
        // are encoded here.
        let (first, rest) = sized
            .split_first()
            .ok_or_else(|| MediaError::Internal("no sizes".into()))?;
        let (big_webp, others) = std::thread::scope(|s| {
            let big = s.spawn(|| encode_webp(first.0.name, &first.1, enc));
            let mut others = vec![encode_jpg(first.0.name, &first.1, enc)];
            for (size, img) in rest {
                others.push(encode_webp(size.name, img, enc));
                others.push(encode_jpg(size.name, img, enc));
            }
            let big = big
                .join()
                .map_err(|_| MediaError::Internal("an encoder thread panicked".into()));
            (big, others)
        });
        variants.push(big_webp??);
        for v in others {
            variants.push(v?);
        }
    } else {
        for (size, img) in &sized {
            variants.extend(encode_both(size.name, img, enc)?);
        }
    }
    let (ow, oh) = if o >= 5 { (h, w) } else { (w, h) };
    Ok(Processed {
        width: ow,
        height: oh,
        blurhash,
        variants,
        timings: Timings {
            decode: decoded_at - started,
            resize: resized_at - decoded_at,
            encode: resized_at.elapsed(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(w: u16, h: u16) -> Vec<u8> {
        let pixels: Vec<u8> = (0..usize::from(w) * usize::from(h))
            .flat_map(|i| {
                let x = (i % usize::from(w)) as u8;
                let y = (i / usize::from(w)) as u8;
                [x, y, x ^ y]
            })
            .collect();
        let mut out = Vec::new();
        jpeg_encoder::Encoder::new(&mut out, 90)
            .encode(&pixels, w, h, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        out
    }

    #[test]
    fn variants_are_made_in_both_formats_and_never_upscaled() {
        let p = process(
            &jpeg(1200, 800),
            &ImageLimits::default(),
            Encoding::default(),
        )
        .unwrap();
        assert_eq!((p.width, p.height), (1200, 800));
        let dims: Vec<(String, u32, u32)> = p
            .variants
            .iter()
            .map(|v| (v.name.clone(), v.width, v.height))
            .collect();
        for (name, w, h) in [
            ("full.webp", 1200, 800),
            ("grid.jpg", 960, 640),
            ("thumb.webp", 320, 213),
        ] {
            assert!(
                dims.contains(&(name.to_owned(), w, h)),
                "{name} in {dims:?}"
            );
        }
        assert_eq!(p.variants.len(), 6);
        // 4×3 components: size flag, maximum, DC (4) and 11 AC values (2 each).
        assert_eq!(p.blurhash.len(), 28, "{}", p.blurhash);
    }

    #[test]
    fn truncated_and_foreign_files_are_rejected() {
        let full = jpeg(64, 64);
        assert!(jpeg_is_complete(&full));
        let cut = &full[..full.len() / 2];
        assert!(!jpeg_is_complete(cut));
        assert!(matches!(
            process(cut, &ImageLimits::default(), Encoding::default()),
            Err(MediaError::Rejected(_))
        ));
        assert!(matches!(
            process(
                b"<html><script>alert(1)</script></html>",
                &ImageLimits::default(),
                Encoding::default()
            ),
            Err(MediaError::Rejected(_))
        ));
        assert!(matches!(
            process(b"", &ImageLimits::default(), Encoding::default()),
            Err(MediaError::Rejected(_))
        ));
    }

    #[test]
    fn orientation_transforms_map_pixels_like_the_tiff_table() {
        // 2×1 image: red, green.
        let img = || Rgb {
            width: 2,
            height: 1,
            pixels: vec![255, 0, 0, 0, 255, 0],
        };
        let r = orient(img(), 6); // rotate 90° clockwise: 1×2, red on top
        assert_eq!((r.width, r.height), (1, 2));
        assert_eq!(&r.pixels[..3], &[255, 0, 0]);
        let r = orient(img(), 8); // rotate 90° counter-clockwise: green on top
        assert_eq!(&r.pixels[..3], &[0, 255, 0]);
        let r = orient(img(), 2); // mirror
        assert_eq!(&r.pixels[..3], &[0, 255, 0]);

        // Every orientation against the table, on a 3×2 image whose pixel values are
        // their own source coordinates.
        let src = || Rgb {
            width: 3,
            height: 2,
            pixels: (0..6u8).flat_map(|i| [i % 3, i / 3, 0]).collect(),
        };
        for o in 1..=8u32 {
            let r = orient(src(), o);
            for y in 0..2usize {
                for x in 0..3usize {
                    let (w, h) = (3, 2);
                    let (dx, dy) = match o {
                        1 => (x, y),
                        2 => (w - 1 - x, y),
                        3 => (w - 1 - x, h - 1 - y),
                        4 => (x, h - 1 - y),
                        5 => (y, x),
                        6 => (h - 1 - y, x),
                        7 => (h - 1 - y, w - 1 - x),
                        _ => (y, w - 1 - x),
                    };
                    let at = (dy * r.width as usize + dx) * 3;
                    assert_eq!(
                        &r.pixels[at..at + 2],
                        &[x as u8, y as u8],
                        "orientation {o}, pixel ({x}, {y})"
                    );
                }
            }
        }
    }

    /// A minimal ICC v2 RGB profile whose red and blue colorants are swapped: what is red
    /// in its space is blue in sRGB.
    fn swapped_icc() -> Vec<u8> {
        let s15 = |v: f64| ((v * 65536.0).round() as i32).to_be_bytes();
        let xyz = |x: f64, y: f64, z: f64| {
            let mut t = b"XYZ \0\0\0\0".to_vec();
            for v in [x, y, z] {
                t.extend_from_slice(&s15(v));
            }
            t
        };
        let curve = b"curv\0\0\0\0\0\0\0\x01\x02\x33\0\0".to_vec(); // gamma 2.2, padded
        let tags: Vec<(&[u8; 4], Vec<u8>)> = vec![
            (b"wtpt", xyz(0.9642, 1.0, 0.8249)),
            (b"rXYZ", xyz(0.1431, 0.0606, 0.7141)),
            (b"gXYZ", xyz(0.3851, 0.7169, 0.0971)),
            (b"bXYZ", xyz(0.4361, 0.2225, 0.0139)),
            (b"rTRC", curve.clone()),
            (b"gTRC", curve.clone()),
            (b"bTRC", curve),
        ];
        let mut header = vec![0u8; 128];
        header[8..12].copy_from_slice(&[2, 0x10, 0, 0]);
        header[12..16].copy_from_slice(b"mntr");
        header[16..20].copy_from_slice(b"RGB ");
        header[20..24].copy_from_slice(b"XYZ ");
        header[36..40].copy_from_slice(b"acsp");
        for (i, v) in [0.9642, 1.0, 0.8249].into_iter().enumerate() {
            header[68 + i * 4..72 + i * 4].copy_from_slice(&s15(v));
        }
        let mut table = (tags.len() as u32).to_be_bytes().to_vec();
        let mut data = Vec::new();
        let data_start = 128 + 4 + 12 * tags.len();
        for (sig, body) in &tags {
            table.extend_from_slice(*sig);
            table.extend_from_slice(&((data_start + data.len()) as u32).to_be_bytes());
            table.extend_from_slice(&(body.len() as u32).to_be_bytes());
            data.extend_from_slice(body);
        }
        let mut icc = [header, table, data].concat();
        let len = icc.len() as u32;
        icc[0..4].copy_from_slice(&len.to_be_bytes());
        icc
    }

    #[test]
    fn colours_are_converted_to_srgb_from_the_embedded_profile() {
        let (w, h) = (64u16, 48u16);
        let red: Vec<u8> = (0..usize::from(w) * usize::from(h))
            .flat_map(|i| {
                [
                    220 + (i % 23) as u8,
                    15 + (i % 7) as u8,
                    15 + (i % 11) as u8,
                ]
            })
            .collect();
        let mut plain = Vec::new();
        jpeg_encoder::Encoder::new(&mut plain, 95)
            .encode(&red, w, h, jpeg_encoder::ColorType::Rgb)
            .unwrap();
        // Insert the profile as an APP2 ICC_PROFILE segment, split in two chunks (order
        // reversed in the file, as some writers do).
        let icc = swapped_icc();
        let (a, b) = icc.split_at(icc.len() / 2);
        let app2 = |seq: u8, part: &[u8]| {
            let mut seg = vec![0xFF, 0xE2];
            seg.extend_from_slice(&((2 + 12 + 2 + part.len()) as u16).to_be_bytes());
            seg.extend_from_slice(b"ICC_PROFILE\0");
            seg.extend_from_slice(&[seq, 2]);
            seg.extend_from_slice(part);
            seg
        };
        let tagged = [&plain[..2], &app2(2, b), &app2(1, a), &plain[2..]].concat();
        assert_eq!(icc_profile(&tagged, Format::Jpeg).unwrap(), icc);

        let centre = |bytes: &[u8]| {
            let p = process(bytes, &ImageLimits::default(), Encoding::default()).unwrap();
            // (Read back from the WebP: the image crate's JPEG decoder, zune-jpeg 0.5, misreads
            // the optimised Huffman tables jpeg-encoder writes, which libjpeg reads fine.)
            let v = p.variants.iter().find(|v| v.name == "full.webp").unwrap();
            let img = image::load_from_memory(&v.bytes).unwrap().to_rgb8();
            img.get_pixel(32, 24).0
        };
        let [r, _, b] = centre(&plain);
        assert!(r > 200 && b < 60, "untagged red stays red: {r} {b}");
        let [r, _, b] = centre(&tagged);
        assert!(
            b > 150 && r < 100,
            "red in the swapped space is blue in sRGB: {r} {b}"
        );
    }

    #[test]
    fn fitting_never_enlarges() {
        assert_eq!(fit(4000, 3000, 2048), (2048, 1536));
        assert_eq!(fit(3000, 4000, 960), (720, 960));
        assert_eq!(fit(100, 50, 320), (100, 50));
    }

    /// Without the `heif` feature, HEIC and AVIF are recognised and refused with a reason.
    #[cfg(not(feature = "heif"))]
    #[test]
    fn phone_photos_are_refused_with_a_reason_by_builds_without_heif() {
        for head in [
            &b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"[..],
            b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf",
        ] {
            let Err(MediaError::Rejected(why)) =
                process(head, &ImageLimits::default(), Encoding::default())
            else {
                panic!("not refused");
            };
            assert_eq!(why, NO_HEIF);
        }
    }

    /// HEIC and AVIF as phones write them: the pixels stored sideways with the container's
    /// rotation, the same turn in EXIF, camera metadata and a colour profile.
    #[cfg(feature = "heif")]
    mod heif {
        use super::*;
        use crate::heif::{Container, Extras, encode};

        const RED: [u8; 3] = [230, 20, 20];
        const GREEN: [u8; 3] = [20, 200, 20];
        const BLUE: [u8; 3] = [20, 20, 230];
        const WHITE: [u8; 3] = [250, 250, 250];

        /// 96×64 in quadrants: red, green / blue, white.
        fn quadrants() -> Vec<u8> {
            (0..96 * 64)
                .flat_map(|i| match ((i % 96) < 48, (i / 96) < 32) {
                    (true, true) => RED,
                    (false, true) => GREEN,
                    (true, false) => BLUE,
                    (false, false) => WHITE,
                })
                .collect()
        }

        /// A big-endian EXIF block: orientation 6 (turn 90° clockwise), a camera make and
        /// a GPS IFD with a latitude reference.
        fn exif() -> Vec<u8> {
            let make = b"ZinoviaTestCam\0";
            let mut t = b"MM\0\x2a\0\0\0\x08".to_vec();
            // IFD0: 3 entries, then the next-IFD offset; the make's text after it.
            let ifd0_end = 8 + 2 + 3 * 12 + 4;
            let gps_at = ifd0_end + make.len();
            t.extend_from_slice(&3u16.to_be_bytes());
            let entry = |t: &mut Vec<u8>, tag: u16, typ: u16, count: u32, value: [u8; 4]| {
                t.extend_from_slice(&tag.to_be_bytes());
                t.extend_from_slice(&typ.to_be_bytes());
                t.extend_from_slice(&count.to_be_bytes());
                t.extend_from_slice(&value);
            };
            entry(
                &mut t,
                0x010F,
                2,
                make.len() as u32,
                (ifd0_end as u32).to_be_bytes(),
            );
            entry(&mut t, 0x0112, 3, 1, [0, 6, 0, 0]);
            entry(&mut t, 0x8825, 4, 1, (gps_at as u32).to_be_bytes());
            t.extend_from_slice(&0u32.to_be_bytes());
            t.extend_from_slice(make);
            // GPS IFD: GPSLatitudeRef "N".
            t.extend_from_slice(&1u16.to_be_bytes());
            entry(&mut t, 0x0001, 2, 2, *b"N\0\0\0");
            t.extend_from_slice(&0u32.to_be_bytes());
            t
        }

        fn phone_photo(container: Container, icc: Option<&[u8]>) -> Vec<u8> {
            let exif = exif();
            let extras = Extras {
                orientation: 6,
                exif: Some(&exif),
                icc,
            };
            let bytes = encode(&quadrants(), 96, 64, container, 90, &extras).unwrap();
            assert!(bytes.len() < 20_000, "a few KB: {}", bytes.len());
            assert!(bytes.windows(14).any(|w| w == b"ZinoviaTestCam"));
            bytes
        }

        fn close(a: [u8; 3], b: [u8; 3]) -> bool {
            a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 40)
        }

        fn pixel(v: &Encoded, x: u32, y: u32) -> [u8; 3] {
            image::load_from_memory(&v.bytes)
                .unwrap()
                .to_rgb8()
                .get_pixel(x, y)
                .0
        }

        #[test]
        fn heic_and_avif_become_upright_variants_without_metadata() {
            for container in [Container::Heic, Container::Avif] {
                let bytes = phone_photo(container, None);
                let expected = match container {
                    Container::Heic => Format::Heif,
                    Container::Avif => Format::Avif,
                };
                assert_eq!(sniff(&bytes), Some(expected));
                // As shown: turned once (the container's rotation; the EXIF orientation
                // says the same and is not applied on top).
                assert_eq!(dimensions(&bytes, expected).unwrap(), (64, 96));
                let p = process(&bytes, &ImageLimits::default(), Encoding::default()).unwrap();
                assert_eq!((p.width, p.height), (64, 96), "{container:?}");
                assert_eq!(p.variants.len(), 6);
                for v in &p.variants {
                    assert!(
                        !v.bytes.windows(14).any(|w| w == b"ZinoviaTestCam"),
                        "{container:?} {}: camera metadata kept",
                        v.name
                    );
                    assert!(
                        exif::Reader::new()
                            .read_from_container(&mut Cursor::new(&v.bytes))
                            .is_err(),
                        "{container:?} {}: EXIF kept",
                        v.name
                    );
                }
                // Turned 90° clockwise: blue, red / white, green.
                let full = p.variants.iter().find(|v| v.name == "full.webp").unwrap();
                assert_eq!((full.width, full.height), (64, 96));
                for ((x, y), colour) in [
                    ((16, 24), BLUE),
                    ((48, 24), RED),
                    ((16, 72), WHITE),
                    ((48, 72), GREEN),
                ] {
                    let got = pixel(full, x, y);
                    assert!(
                        close(got, colour),
                        "{container:?} at ({x}, {y}): {got:?}, not {colour:?}"
                    );
                }
            }
        }

        #[test]
        fn the_embedded_profile_is_converted_to_srgb() {
            let icc = swapped_icc();
            for container in [Container::Heic, Container::Avif] {
                let p = process(
                    &phone_photo(container, Some(&icc)),
                    &ImageLimits::default(),
                    Encoding::default(),
                )
                .unwrap();
                let full = p.variants.iter().find(|v| v.name == "full.webp").unwrap();
                // Red in the swapped space is blue in sRGB.
                let [r, _, b] = pixel(full, 48, 24);
                assert!(b > 150 && r < 100, "{container:?}: {r} {b}");
            }
        }

        #[test]
        fn damaged_and_oversized_phone_photos_are_refused() {
            let bytes = phone_photo(Container::Heic, None);
            for cut in [bytes.len() / 2, 40] {
                assert!(
                    matches!(
                        process(&bytes[..cut], &ImageLimits::default(), Encoding::default()),
                        Err(MediaError::Rejected(_))
                    ),
                    "cut at {cut}"
                );
            }
            let small = ImageLimits {
                max_width: 80,
                max_height: 80,
                max_pixels: 1_000_000,
            };
            let Err(MediaError::Rejected(why)) = process(&bytes, &small, Encoding::default())
            else {
                panic!("not refused");
            };
            assert!(why.contains("64×96"), "{why}");
        }
    }
}
