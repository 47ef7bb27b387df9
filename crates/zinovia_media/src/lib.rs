//! Pure media processing for Zinovia: recognising formats from bytes, limits checked from
//! headers, photo variants and blurhashes, video probing, poster frames and transcoding.
//!
//! Bytes and files in, bytes and metadata out: no database, HTTP or object storage here
//! (the `zinovia` crate glues this to those). External tools (ffmpeg, ffprobe) run with a
//! timeout, `kill_on_drop`, a cap on concurrent processes, and format and protocol
//! whitelists on every call.

pub mod formats;
#[cfg(feature = "heif")]
pub mod heif;
pub mod image;
pub mod limits;
pub mod placeholder;
pub mod transcode;
pub mod video;
mod webp;

pub use formats::{Format, sniff};
pub use limits::{ImageLimits, VideoLimits};
pub use placeholder::placeholder_png;

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

/// Keeps freed image buffers in the process for the next photo instead of handing them back
/// to the kernel at once (glibc returns every large buffer with `munmap`, and touching fresh
/// pages again costs page faults: about a tenth of the CPU time per photo, measured with
/// `zinovia-media-bench`). Up to 64 MiB of free memory per allocator arena stays reserved.
/// Call once, early, in processes that make variants; a no-op outside glibc.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[expect(unsafe_code, reason = "glibc's mallopt has no safe wrapper")]
pub fn keep_freed_image_memory() {
    const LIMIT: nix::libc::c_int = 64 << 20;
    // SAFETY: mallopt only changes allocator tunables; it is safe to call at any time.
    unsafe {
        nix::libc::mallopt(nix::libc::M_MMAP_THRESHOLD, LIMIT);
        nix::libc::mallopt(nix::libc::M_TRIM_THRESHOLD, LIMIT);
    }
}

/// (Other allocators need no tuning.)
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn keep_freed_image_memory() {}
