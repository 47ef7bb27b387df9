//! Media: storage, delivery, uploads, scanning and processing limits.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::*;

/// Where media objects are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StorageBackend {
    /// Files under `DATA_DIR/media`, served by the app through signed URLs (local use).
    Local,
    /// An S3 bucket (or any S3-compatible server via `S3_ENDPOINT`).
    S3,
}

/// Media storage, uploads and delivery (`up`, `serve`, `worker`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Media settings")]
pub struct MediaSettings {
    /// Where media objects are kept: `local` (refused in production) or `s3`.
    #[arg(long, env = "STORAGE", value_enum, default_value = "local")]
    pub storage: StorageBackend,

    /// The S3 bucket (required with STORAGE=s3).
    #[arg(long, env = "S3_BUCKET")]
    pub s3_bucket: Option<String>,

    /// The bucket's region.
    #[arg(long, env = "S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,

    /// An S3-compatible endpoint instead of AWS (path-style addressing is then used).
    #[arg(long, env = "S3_ENDPOINT")]
    pub s3_endpoint: Option<Url>,

    /// Access key for `S3_ENDPOINT` servers. Unset: the AWS default credential chain
    /// (the ECS task role in production).
    #[arg(long, env = "S3_ACCESS_KEY_ID", hide_env_values = true)]
    pub s3_access_key_id: Option<String>,

    /// Secret key going with `S3_ACCESS_KEY_ID`.
    #[arg(long, env = "S3_SECRET_ACCESS_KEY", value_parser = parse_secret, hide_env_values = true)]
    pub s3_secret_access_key: Option<SecretString>,

    /// The CloudFront distribution's URL (e.g. `https://media.example.com`). Used only with
    /// a CloudFront key, so paid media is cached at the edge and still needs a signature.
    #[arg(long, env = "CDN_BASE_URL")]
    pub cdn_base_url: Option<Url>,

    /// The id of the CloudFront public key (in the distribution's trusted key group).
    #[arg(long, env = "CLOUDFRONT_KEY_PAIR_ID")]
    pub cloudfront_key_pair_id: Option<String>,

    /// The matching private key, PEM (RSA 2048 or, faster, ECDSA P-256).
    #[arg(long, env = "CLOUDFRONT_PRIVATE_KEY", value_parser = parse_secret, hide_env_values = true)]
    pub cloudfront_private_key: Option<SecretString>,

    /// How long a media URL handed to a viewer works (URLs are shared within a minute, so
    /// they work up to one minute longer).
    #[arg(long, env = "MEDIA_URL_TTL", default_value = "5m", value_parser = parse_positive_duration)]
    pub media_url_ttl: HumanDuration,

    /// How long an upload URL works.
    #[arg(long, env = "UPLOAD_URL_TTL", default_value = "15m", value_parser = parse_positive_duration)]
    pub upload_url_ttl: HumanDuration,

    /// Largest image upload, in bytes.
    #[arg(long, env = "MEDIA_MAX_IMAGE_BYTES", default_value = "26214400",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub media_max_image_bytes: u64,

    /// Largest video upload, in bytes.
    #[arg(long, env = "MEDIA_MAX_VIDEO_BYTES", default_value = "2147483648",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub media_max_video_bytes: u64,

    /// Bytes one account may keep in storage: its files and the sizes made from them
    /// (posts, profile images, unfinished uploads at their declared size).
    #[arg(long, env = "MEDIA_STORAGE_QUOTA_BYTES", default_value = "50000000000",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub media_storage_quota_bytes: u64,

    /// Unfinished uploads one account may have at a time.
    #[arg(long, env = "MEDIA_MAX_PENDING_UPLOADS", default_value = "20",
          value_parser = clap::value_parser!(u32).range(1..))]
    pub media_max_pending_uploads: u32,

    /// Uploads not completed within this long are deleted, object and record.
    #[arg(long, env = "UPLOAD_ABANDON_AFTER", default_value = "24h", value_parser = parse_positive_duration)]
    pub upload_abandon_after: HumanDuration,

    /// clamd's address (`host:port`) for malware scanning of every upload. Unset: uploads are
    /// not scanned (a warning at start; refused in production).
    #[arg(long, env = "CLAMAV_ADDR")]
    pub clamav_addr: Option<String>,

    /// The ffmpeg program (video posters and transcoding). Missing: videos are rejected with a
    /// clear reason.
    #[arg(long, env = "FFMPEG_PATH", default_value = "ffmpeg")]
    pub ffmpeg_path: PathBuf,

    /// The ffprobe program.
    #[arg(long, env = "FFPROBE_PATH", default_value = "ffprobe")]
    pub ffprobe_path: PathBuf,

    /// Longest any ffmpeg/ffprobe run or malware scan may take.
    #[arg(long, env = "MEDIA_TOOL_TIMEOUT", default_value = "10m", value_parser = parse_positive_duration)]
    pub media_tool_timeout: HumanDuration,

    /// Most pixels an image may have (checked from its header, before decoding).
    #[arg(long, env = "MEDIA_MAX_IMAGE_PIXELS", default_value = "40000000",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub media_max_image_pixels: u64,

    /// Widest and tallest an image may be, in pixels (checked from its header).
    #[arg(long, env = "MEDIA_MAX_IMAGE_SIDE", default_value = "10000",
          value_parser = clap::value_parser!(u32).range(1..=65535))]
    pub media_max_image_side: u32,

    /// Widest and tallest a video may be, in pixels.
    #[arg(long, env = "MEDIA_MAX_VIDEO_SIDE", default_value = "3840",
          value_parser = clap::value_parser!(u32).range(1..=16384))]
    pub media_max_video_side: u32,

    /// Longest video accepted.
    #[arg(long, env = "MEDIA_MAX_VIDEO_DURATION", default_value = "1h", value_parser = parse_positive_duration)]
    pub media_max_video_duration: HumanDuration,

    /// Highest frame rate accepted (phones' slow motion records at 240). Renditions are
    /// made at up to 60 frames a second.
    #[arg(long, env = "MEDIA_MAX_VIDEO_FPS", default_value = "240",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub media_max_video_fps: u32,

    /// Highest bit rate accepted, bits per second (ProRes 4K is about 700 Mbit/s).
    #[arg(long, env = "MEDIA_MAX_VIDEO_BITRATE", default_value = "1000000000",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub media_max_video_bitrate: u64,

    /// The x264 preset for video renditions (ADR 0026: `veryfast` transcodes a 1080p30
    /// ladder faster than real time on two cores).
    #[arg(long, env = "MEDIA_VIDEO_PRESET", default_value = "veryfast",
          value_parser = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow"])]
    pub media_video_preset: String,

    /// A transcode may take this many times the video's length, plus `MEDIA_TOOL_TIMEOUT`,
    /// before it is stopped and retried.
    #[arg(long, env = "MEDIA_TRANSCODE_TIMEOUT_FACTOR", default_value = "4",
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub media_transcode_timeout_factor: u32,
}

impl MediaSettings {
    /// Each setting of this group as `zinovia config` shows it (secrets redacted).
    pub(super) fn values(&self, _s: &Settings) -> Vec<(&'static str, String)> {
        vec![
            ("STORAGE", format!("{:?}", self.storage).to_lowercase()),
            (
                "S3_BUCKET",
                self.s3_bucket.clone().unwrap_or_else(|| "(unset)".into()),
            ),
            ("S3_REGION", self.s3_region.clone()),
            (
                "S3_ENDPOINT",
                self.s3_endpoint
                    .as_ref()
                    .map_or_else(|| "(unset: AWS)".into(), ToString::to_string),
            ),
            (
                "S3_ACCESS_KEY_ID",
                self.s3_access_key_id.as_ref().map_or_else(
                    || "(unset: default credential chain)".into(),
                    |_| "[redacted]".into(),
                ),
            ),
            (
                "S3_SECRET_ACCESS_KEY",
                self.s3_secret_access_key
                    .as_ref()
                    .map_or_else(|| "(unset)".into(), |_| "[redacted]".into()),
            ),
            (
                "CDN_BASE_URL",
                self.cdn_base_url
                    .as_ref()
                    .map_or_else(|| "(unset)".into(), ToString::to_string),
            ),
            (
                "CLOUDFRONT_KEY_PAIR_ID",
                self.cloudfront_key_pair_id
                    .clone()
                    .unwrap_or_else(|| "(unset)".into()),
            ),
            (
                "CLOUDFRONT_PRIVATE_KEY",
                self.cloudfront_private_key
                    .as_ref()
                    .map_or_else(|| "(unset)".into(), |_| "[redacted]".into()),
            ),
            ("MEDIA_URL_TTL", self.media_url_ttl.to_string()),
            ("UPLOAD_URL_TTL", self.upload_url_ttl.to_string()),
            (
                "MEDIA_MAX_IMAGE_BYTES",
                self.media_max_image_bytes.to_string(),
            ),
            (
                "MEDIA_MAX_VIDEO_BYTES",
                self.media_max_video_bytes.to_string(),
            ),
            (
                "MEDIA_STORAGE_QUOTA_BYTES",
                self.media_storage_quota_bytes.to_string(),
            ),
            (
                "MEDIA_MAX_PENDING_UPLOADS",
                self.media_max_pending_uploads.to_string(),
            ),
            (
                "UPLOAD_ABANDON_AFTER",
                self.upload_abandon_after.to_string(),
            ),
            (
                "CLAMAV_ADDR",
                self.clamav_addr
                    .clone()
                    .unwrap_or_else(|| "(unset: uploads not scanned)".into()),
            ),
            ("FFMPEG_PATH", self.ffmpeg_path.display().to_string()),
            ("FFPROBE_PATH", self.ffprobe_path.display().to_string()),
            ("MEDIA_TOOL_TIMEOUT", self.media_tool_timeout.to_string()),
            (
                "MEDIA_MAX_IMAGE_PIXELS",
                self.media_max_image_pixels.to_string(),
            ),
            (
                "MEDIA_MAX_IMAGE_SIDE",
                self.media_max_image_side.to_string(),
            ),
            (
                "MEDIA_MAX_VIDEO_SIDE",
                self.media_max_video_side.to_string(),
            ),
            (
                "MEDIA_MAX_VIDEO_DURATION",
                self.media_max_video_duration.to_string(),
            ),
            ("MEDIA_MAX_VIDEO_FPS", self.media_max_video_fps.to_string()),
            (
                "MEDIA_MAX_VIDEO_BITRATE",
                self.media_max_video_bitrate.to_string(),
            ),
            ("MEDIA_VIDEO_PRESET", self.media_video_preset.clone()),
            (
                "MEDIA_TRANSCODE_TIMEOUT_FACTOR",
                self.media_transcode_timeout_factor.to_string(),
            ),
        ]
    }
}

impl Settings {
    pub(super) fn check_media(
        &self,
        role: Role,
        hard: &mut Vec<Problem>,
        unsafe_: &mut Vec<Problem>,
        warnings: &mut Vec<Problem>,
    ) {
        let m = &self.media;
        match m.storage {
            StorageBackend::Local => unsafe_.push(problem(
                "STORAGE",
                "is `local`: media on one machine's disk is for local use only; use `s3`",
            )),
            StorageBackend::S3 => {
                if m.s3_bucket.as_deref().is_none_or(str::is_empty) {
                    hard.push(problem("S3_BUCKET", "is required with STORAGE=s3"));
                }
            }
        }
        if m.s3_access_key_id.is_some() != m.s3_secret_access_key.is_some() {
            hard.push(problem(
                "S3_ACCESS_KEY_ID",
                "and S3_SECRET_ACCESS_KEY must be set together",
            ));
        }
        if m.cloudfront_key_pair_id.is_some() != m.cloudfront_private_key.is_some() {
            hard.push(problem(
                "CLOUDFRONT_KEY_PAIR_ID",
                "and CLOUDFRONT_PRIVATE_KEY must be set together",
            ));
        }
        if let Some(key) = &m.cloudfront_private_key
            && crate::storage::cloudfront::SigningKey::from_pem(key.expose_secret()).is_err()
        {
            hard.push(problem(
                "CLOUDFRONT_PRIVATE_KEY",
                "is not an RSA or ECDSA P-256 private key in PEM",
            ));
        }
        let has_key = m.cloudfront_private_key.is_some();
        match (&m.cdn_base_url, has_key) {
            // A CDN URL without a signing key would hand out links to media nobody can
            // open (or, worse, to unsigned paid media): refuse the half setup.
            (Some(_), false) => hard.push(problem(
                "CDN_BASE_URL",
                "needs CLOUDFRONT_KEY_PAIR_ID and CLOUDFRONT_PRIVATE_KEY: paid media must be signed",
            )),
            (None, true) => hard.push(problem(
                "CLOUDFRONT_KEY_PAIR_ID",
                "is set but CDN_BASE_URL is not: which distribution should the URLs point at?",
            )),
            (Some(u), true) if u.scheme() != "https" || u.host_str().is_none() => {
                hard.push(problem("CDN_BASE_URL", "must be an https URL with a host"));
            }
            (None, false) if role.uses_http() && m.storage == StorageBackend::S3 => warnings.push(problem(
                "CDN_BASE_URL",
                "is not set: media is served by S3 presigned URLs, without the CDN",
            )),
            _ => {}
        }
        if m.media_url_ttl.0 > Duration::from_secs(24 * 3600) {
            warnings.push(problem(
                "MEDIA_URL_TTL",
                "is over a day: a shared URL keeps working that long",
            ));
        }
    }

    pub(super) fn check_scanner(&self, hard: &mut Vec<Problem>, unsafe_: &mut Vec<Problem>) {
        match &self.media.clamav_addr {
            None => unsafe_.push(problem(
                "CLAMAV_ADDR",
                "is not set: uploads would not be scanned for malware",
            )),
            Some(a)
                if a.rsplit_once(':')
                    .is_none_or(|(h, p)| h.is_empty() || p.parse::<u16>().is_err()) =>
            {
                hard.push(problem(
                    "CLAMAV_ADDR",
                    "must be host:port, e.g. clamd.internal:3310",
                ));
            }
            Some(_) => {}
        }
    }
}
