//! Pure media processing for Zinovia: probing, limits, image variants and video posters.
//!
//! This crate takes bytes or files in and gives bytes and metadata out. It has no database,
//! HTTP or object-storage code; the `zinovia` crate glues it to those. The pipeline itself
//! arrives with the media worker; until then the crate holds only what the format checks of
//! the upload API need.

use std::fmt;

/// A media kind as the platform distinguishes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// A still image (photo).
    Image,
    /// A video clip.
    Video,
}

impl MediaKind {
    /// The stable lowercase name used on the wire and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
        }
    }
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_have_stable_names() {
        assert_eq!(MediaKind::Image.to_string(), "image");
        assert_eq!(MediaKind::Video.as_str(), "video");
    }
}
