//! Pure media processing for Zinovia: recognising formats from bytes, limits checked from
//! headers, photo variants and blurhashes, video probing, poster frames and remuxing.
//!
//! Bytes and files in, bytes and metadata out: no database, HTTP or object storage here
//! (the `zinovia` crate glues this to those). External tools (ffmpeg, ffprobe) run with a
//! timeout, `kill_on_drop`, a cap on concurrent processes, and format and protocol
//! whitelists on every call.

pub mod formats;
pub mod image;
pub mod limits;
pub mod video;
mod webp;

pub use formats::{Format, sniff};
pub use limits::{ImageLimits, VideoLimits};

/// Why processing did not produce media.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum MediaError {
    /// The file is refused; the reason is meant for the person who uploaded it.
    #[error("{0}")]
    Rejected(String),
    /// Something on our side failed (a tool missing or timing out, an encoder error); worth
    /// retrying or fixing, not the uploader's fault.
    #[error("{0}")]
    Internal(String),
}
