//! The formats we accept, recognised from the bytes (never from a name or a declared type).

/// A format recognised from an upload's first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// JPEG (`FF D8 FF`).
    Jpeg,
    /// PNG.
    Png,
    /// WebP (`RIFF....WEBP`).
    Webp,
    /// GIF87a / GIF89a.
    Gif,
    /// HEIC/HEIF: an ISO container with HEIF image brands (phones' photos, HEVC inside).
    Heif,
    /// AVIF: an ISO container with AVIF brands (AV1 inside).
    Avif,
    /// ISO base media with an `ftyp` box of MP4 brands.
    Mp4,
    /// QuickTime (`ftyp qt  `).
    QuickTime,
    /// WebM / Matroska (EBML header).
    WebM,
}

impl Format {
    /// The content type this format is uploaded as.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Webp => "image/webp",
            Format::Gif => "image/gif",
            Format::Heif => "image/heic",
            Format::Avif => "image/avif",
            Format::Mp4 => "video/mp4",
            Format::QuickTime => "video/quicktime",
            Format::WebM => "video/webm",
        }
    }

    /// True for the video formats.
    pub fn is_video(self) -> bool {
        matches!(self, Format::Mp4 | Format::QuickTime | Format::WebM)
    }
}

/// Recognises a format from the first bytes (16 are enough). `None` for anything else:
/// HTML, SVG, text, archives, playlists, truncated files.
pub fn sniff(head: &[u8]) -> Option<Format> {
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(Format::Jpeg);
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(Format::Png);
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Some(Format::Webp);
    }
    if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        return Some(Format::Gif);
    }
    if head.starts_with(&[0x1A, 0x45, 0xDF, 0xA3]) {
        return Some(Format::WebM);
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        let brand = &head[8..12];
        if brand == b"qt  " {
            return Some(Format::QuickTime);
        }
        if let Some(image) = iso_image(head, brand) {
            return Some(image);
        }
        return Some(Format::Mp4);
    }
    None
}

/// HEIF and AVIF photos by their `ftyp` box: the major brand, or for the generic HEIF
/// brands (`mif1`, `msf1`) the compatible brands that follow it.
fn iso_image(head: &[u8], major: &[u8]) -> Option<Format> {
    const AVIF: [&[u8; 4]; 2] = [b"avif", b"avis"];
    const HEIC: [&[u8; 4]; 6] = [b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"];
    let is = |brands: &[&[u8; 4]], b: &[u8]| brands.iter().any(|x| &x[..] == b);
    if is(&AVIF, major) {
        return Some(Format::Avif);
    }
    if is(&HEIC, major) {
        return Some(Format::Heif);
    }
    if major != b"mif1" && major != b"msf1" {
        return None;
    }
    let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
    let compatible = head.get(16..size.min(head.len())).unwrap_or_default();
    if compatible.chunks_exact(4).any(|b| is(&AVIF, b)) {
        Some(Format::Avif)
    } else {
        Some(Format::Heif)
    }
}

/// What an unaccepted file most likely is, for a rejection reason a person can act on.
pub fn describe_foreign(head: &[u8]) -> &'static str {
    let text = String::from_utf8_lossy(&head[..head.len().min(512)]).to_ascii_lowercase();
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if head.is_empty() {
        "an empty file"
    } else if text.starts_with("#extm3u") {
        "a playlist (HLS/M3U), not a video"
    } else if text.contains("<svg") {
        "an SVG drawing; SVG is not accepted because it can carry scripts"
    } else if text.starts_with("<!doctype html")
        || text.starts_with("<html")
        || text.contains("<script")
    {
        "a web page (HTML)"
    } else if text.starts_with("<?xml") {
        "an XML document"
    } else if head.starts_with(b"PK\x03\x04") {
        "a ZIP archive"
    } else if head.starts_with(b"%PDF") {
        "a PDF document"
    } else if head.starts_with(b"MZ") || head.starts_with(b"\x7fELF") {
        "a program"
    } else {
        "not a JPEG, PNG, WebP or GIF image, nor an MP4, QuickTime or WebM video"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_the_bytes() {
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10]),
            Some(Format::Jpeg)
        );
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some(Format::Png));
        assert_eq!(sniff(b"RIFF\x24\0\0\0WEBPVP8 "), Some(Format::Webp));
        assert_eq!(sniff(b"GIF89a\x01\0\x01\0"), Some(Format::Gif));
        assert_eq!(sniff(b"\0\0\0\x20ftypisom\0\0\x02\0"), Some(Format::Mp4));
        assert_eq!(
            sniff(b"\0\0\0\x14ftypqt  \0\0\0\0"),
            Some(Format::QuickTime)
        );
        assert_eq!(sniff(&[0x1A, 0x45, 0xDF, 0xA3, 0x9F]), Some(Format::WebM));
        // Photos in ISO containers, by the major brand or the compatible ones.
        assert_eq!(
            sniff(b"\0\0\0\x18ftypheic\0\0\0\0mif1heic"),
            Some(Format::Heif)
        );
        assert_eq!(
            sniff(b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf"),
            Some(Format::Avif)
        );
        assert_eq!(
            sniff(b"\0\0\0\x1cftypmif1\0\0\0\0mif1avifmiaf"),
            Some(Format::Avif)
        );
        assert_eq!(
            sniff(b"\0\0\0\x18ftypmif1\0\0\0\0mif1heic"),
            Some(Format::Heif)
        );
        // A compatible brand past the box's end is not read.
        assert_eq!(
            sniff(b"\0\0\0\x14ftypmif1\0\0\0\0mif1avif"),
            Some(Format::Heif)
        );
        assert_eq!(
            sniff(b"\0\0\0\x18ftypisom\0\0\0\0isomavif"),
            Some(Format::Mp4)
        );
        for other in [
            &b"<!doctype html><script>"[..],
            b"<svg xmlns=\"http://www.w3.org/2000/svg\">",
            b"#EXTM3U\n#EXT-X-VERSION:3",
            b"PK\x03\x04",
            b"",
            b"\xFF\xD8",
        ] {
            assert_eq!(sniff(other), None, "{other:?}");
        }
    }

    #[test]
    fn foreign_files_are_named() {
        assert!(describe_foreign(b"#EXTM3U\n#EXT-X-VERSION:3").contains("playlist"));
        assert!(
            describe_foreign(b"<?xml version=\"1.0\"?><svg xmlns=\"http://www.w3.org/2000/svg\">")
                .contains("SVG")
        );
        assert!(describe_foreign(b"<!DOCTYPE html><p>hi").contains("web page"));
        assert!(describe_foreign(b"").contains("empty"));
        assert!(describe_foreign(b"PK\x03\x04....").contains("ZIP"));
        assert!(describe_foreign(b"\x00\x01\x02").contains("not a JPEG"));
    }
}
