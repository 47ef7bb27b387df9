//! HEIC/HEIF and AVIF photos, through libheif (the `heif` feature: libheif-rs with the
//! library built from the sources libheif-sys embeds; HEVC is decoded by the system's
//! libde265, AV1 by dav1d or libaom, ADR 0027).
//!
//! libheif applies the container's own rotation and mirroring (`irot`/`imir`) and crop
//! while decoding, so the EXIF orientation these files also carry is never applied again.
//! The colour profile comes from the container: an ICC profile (`prof`/`rICC`), or CICP
//! primaries and transfer (`nclx`) that are turned into one.

use libheif_rs::{
    ColorProfileNCLX, ColorProfileRaw, ColorSpace, CompressionFormat, EncoderQuality,
    EncodingOptions, HeifContext, Image, ImageHandle, ImageOrientation, LibHeif, RgbChroma,
    color_profile_types,
};

use crate::MediaError;
use crate::image::Rgb;
use crate::limits::ImageLimits;

fn damaged() -> MediaError {
    MediaError::Rejected("the image is damaged and cannot be read".into())
}

fn primary(ctx: &HeifContext<'_>) -> Result<ImageHandle, MediaError> {
    ctx.primary_image_handle().map_err(|_| damaged())
}

/// Width and height as shown (after the container's rotation), from the header alone.
pub(crate) fn dimensions(bytes: &[u8]) -> Result<(u32, u32), MediaError> {
    let ctx = HeifContext::read_from_bytes(bytes).map_err(|_| damaged())?;
    let handle = primary(&ctx)?;
    Ok((handle.width(), handle.height()))
}

/// Decoded pixels with the colour profile they are in (`None`: sRGB or unknown).
pub(crate) struct Decoded {
    pub(crate) rgb: Rgb,
    pub(crate) profile: Option<Box<qcms::Profile>>,
}

/// Decodes the primary image to 8-bit RGB, upright, transparency flattened onto white.
pub(crate) fn decode(bytes: &[u8], limits: &ImageLimits) -> Result<Decoded, MediaError> {
    let mut ctx = HeifContext::read_from_bytes(bytes).map_err(|_| damaged())?;
    // The header was checked against the limits; libheif also refuses tiles and images
    // past them while decoding (a grid can claim a small size and hold large tiles).
    let mut security = ctx.security_limits();
    security.set_max_image_size_pixels(limits.max_pixels);
    ctx.set_security_limits(&security)
        .map_err(|e| MediaError::Internal(format!("libheif limits: {e}")))?;
    let handle = primary(&ctx)?;
    let alpha = handle.has_alpha_channel();
    let chroma = if alpha {
        RgbChroma::Rgba
    } else {
        RgbChroma::Rgb
    };
    let image = LibHeif::new()
        .decode(&handle, ColorSpace::Rgb(chroma), None)
        .map_err(|e| {
            tracing::debug!(error = %e, "libheif could not decode");
            damaged()
        })?;
    let rgb = interleaved(&image, alpha)?;
    Ok(Decoded {
        rgb,
        profile: colour_profile(&handle),
    })
}

fn interleaved(image: &Image, alpha: bool) -> Result<Rgb, MediaError> {
    let planes = image.planes();
    let plane = planes.interleaved.ok_or_else(damaged)?;
    if plane.storage_bits_per_pixel != if alpha { 32 } else { 24 } {
        return Err(damaged());
    }
    let (width, height) = (plane.width, plane.height);
    let row = width as usize * if alpha { 4 } else { 3 };
    let mut pixels = Vec::with_capacity(width as usize * height as usize * 3);
    for y in 0..height as usize {
        let line = plane
            .data
            .get(y * plane.stride..y * plane.stride + row)
            .ok_or_else(damaged)?;
        if alpha {
            for p in line.chunks_exact(4) {
                let a = u16::from(p[3]);
                let over = |c: u8| ((u16::from(c) * a + 255 * (255 - a)) / 255) as u8;
                pixels.extend_from_slice(&[over(p[0]), over(p[1]), over(p[2])]);
            }
        } else {
            pixels.extend_from_slice(line);
        }
    }
    Ok(Rgb {
        width,
        height,
        pixels,
    })
}

/// The profile the decoded RGB is in: the embedded ICC profile, or the CICP primaries and
/// transfer of an `nclx` box when they are not sRGB's (Display P3 from phones, say).
fn colour_profile(handle: &ImageHandle) -> Option<Box<qcms::Profile>> {
    if let Some(raw) = handle.color_profile_raw() {
        use libheif_rs::ColorProfile as _;
        let t = raw.profile_type();
        if t == color_profile_types::PROF || t == color_profile_types::R_ICC {
            return crate::image::icc_to_profile(&raw.data);
        }
    }
    let nclx = handle.color_profile_nclx()?;
    let (cp, tc) = (
        nclx.color_primaries() as u8,
        nclx.transfer_characteristics() as u8,
    );
    // 1 = BT.709 (sRGB's primaries), 2 = unspecified: nothing to convert.
    if matches!(cp, 1 | 2) {
        return None;
    }
    // An unspecified transfer with real primaries is taken as sRGB's curve (13).
    let tc = if tc == 2 { 13 } else { tc };
    qcms::Profile::new_cicp(cp.into(), tc.into())
}

/// Which container an encoded photo goes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// HEIC: HEVC in HEIF, as phones write.
    Heic,
    /// AVIF: AV1 in HEIF.
    Avif,
}

/// What goes into an encoded photo besides its pixels.
#[derive(Debug, Clone, Default)]
pub struct Extras<'a> {
    /// The orientation to record in the container (`irot`/`imir`), as an EXIF value 1–8:
    /// the pixels are stored as given, and shown turned.
    pub orientation: u32,
    /// An EXIF block (TIFF header onwards) to attach.
    pub exif: Option<&'a [u8]>,
    /// An ICC profile to attach.
    pub icc: Option<&'a [u8]>,
}

/// Encodes 8-bit RGB pixels as a HEIC or AVIF photo (used to make test files and benchmark
/// inputs; needs libheif built with an HEVC or AV1 encoder).
pub fn encode(
    rgb: &[u8],
    width: u32,
    height: u32,
    container: Container,
    quality: u8,
    extras: &Extras<'_>,
) -> Result<Vec<u8>, MediaError> {
    let fail = |what: &str, e: libheif_rs::HeifError| MediaError::Internal(format!("{what}: {e}"));
    if rgb.len() != width as usize * height as usize * 3 {
        return Err(MediaError::Internal("pixels do not match the size".into()));
    }
    let mut image =
        Image::new(width, height, ColorSpace::Rgb(RgbChroma::Rgb)).map_err(|e| fail("image", e))?;
    image
        .create_plane(libheif_rs::Channel::Interleaved, width, height, 8)
        .map_err(|e| fail("plane", e))?;
    {
        let planes = image.planes_mut();
        let plane = planes
            .interleaved
            .ok_or_else(|| MediaError::Internal("no plane".into()))?;
        let row = width as usize * 3;
        for (y, src) in rgb.chunks_exact(row).enumerate() {
            plane.data[y * plane.stride..y * plane.stride + row].copy_from_slice(src);
        }
    }
    if let Some(icc) = extras.icc {
        image
            .set_color_profile_raw(&ColorProfileRaw::new(
                color_profile_types::PROF,
                icc.to_vec(),
            ))
            .map_err(|e| fail("colour profile", e))?;
    } else if let Some(nclx) = ColorProfileNCLX::new() {
        image
            .set_color_profile_nclx(&nclx)
            .map_err(|e| fail("colour profile", e))?;
    }
    let lib = LibHeif::new();
    let format = match container {
        Container::Heic => CompressionFormat::Hevc,
        Container::Avif => CompressionFormat::Av1,
    };
    let mut encoder = lib
        .encoder_for_format(format)
        .map_err(|e| fail("no encoder for this format in libheif", e))?;
    encoder
        .set_quality(EncoderQuality::Lossy(quality))
        .map_err(|e| fail("quality", e))?;
    let mut options = EncodingOptions::new().map_err(|e| fail("encoding options", e))?;
    options.set_image_orientation(orientation(extras.orientation));
    let mut ctx = HeifContext::new().map_err(|e| fail("context", e))?;
    let handle = ctx
        .encode_image(&image, &mut encoder, Some(options))
        .map_err(|e| fail("encoding", e))?;
    if let Some(exif) = extras.exif {
        ctx.add_exif_metadata(&handle, exif)
            .map_err(|e| fail("EXIF", e))?;
    }
    ctx.write_to_bytes().map_err(|e| fail("writing", e))
}

fn orientation(exif: u32) -> ImageOrientation {
    match exif {
        2 => ImageOrientation::FlipHorizontally,
        3 => ImageOrientation::Rotate180,
        4 => ImageOrientation::FlipVertically,
        5 => ImageOrientation::Rotate90CwThenFlipHorizontally,
        6 => ImageOrientation::Rotate90Cw,
        7 => ImageOrientation::Rotate90CwThenFlipVertically,
        8 => ImageOrientation::Rotate270Cw,
        _ => ImageOrientation::Normal,
    }
}
