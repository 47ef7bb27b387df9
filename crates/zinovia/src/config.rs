//! Settings: every knob Zinovia reads, typed, validated once at start and passed down.
//!
//! Each setting is an environment variable with a flat name (`DATABASE_URL`, `BIND_ADDR`, ...)
//! and also a CLI flag. Settings come in groups; a subcommand reads only the groups it uses,
//! so its `--help` lists exactly what it reads, and production validation asks each role only
//! for what that role needs. Groups a command does not read keep their defaults. Nothing else
//! in the code reads `std::env`.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, FromArgMatches, ValueEnum};
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use url::Url;

/// Shortest session secret accepted in production (bytes of the secret string).
pub const MIN_SECRET_LEN: usize = 32;

/// Secret values that ship in docs and examples; never valid in production.
const KNOWN_DEFAULT_SECRETS: &[&str] = &["changeme", "change-me", "secret", "dev-secret"];

/// Where the process runs; production refuses embedded defaults and unsafe values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Environment {
    /// A laptop or CI: embedded defaults are fine.
    Local,
    /// A production-like deployment: unsafe settings are reported as warnings.
    Staging,
    /// Real users and money: unsafe settings refuse start-up.
    Production,
}

impl Environment {
    /// The lowercase name, as written in `ENVIRONMENT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Local => "local",
            Environment::Staging => "staging",
            Environment::Production => "production",
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines for a terminal.
    Pretty,
    /// One JSON object per line (CloudWatch Logs Insights).
    Json,
}

/// A duration written as `250ms`, `30s`, `5m`, `2h` or `7d` (a bare number means seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HumanDuration(pub Duration);

impl FromStr for HumanDuration {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let s = raw.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: u64 = num
            .parse()
            .map_err(|_| format!("`{raw}` is not a duration (examples: 250ms, 30s, 5m, 2h, 7d)"))?;
        let d = match unit {
            "ms" => Duration::from_millis(n),
            "" | "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            "d" => Duration::from_secs(n.saturating_mul(86_400)),
            _ => {
                return Err(format!(
                    "`{raw}` has an unknown unit `{unit}` (use ms, s, m, h or d)"
                ));
            }
        };
        Ok(HumanDuration(d))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        let units = [
            (86_400_000, "d"),
            (3_600_000, "h"),
            (60_000, "m"),
            (1000, "s"),
        ];
        for (size, unit) in units {
            if ms > 0 && ms.is_multiple_of(size) {
                return write!(f, "{}{unit}", ms / size);
            }
        }
        if ms == 0 {
            write!(f, "0s")
        } else {
            write!(f, "{ms}ms")
        }
    }
}

/// A rate: at most `limit` events per `period`, written `10/15m`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Events allowed per period (also the burst).
    pub limit: u32,
    /// The period.
    pub period: Duration,
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        let (n, period) = raw
            .split_once('/')
            .ok_or_else(|| format!("`{raw}` is not a rate (examples: 10/15m, 600/1m)"))?;
        let limit: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("`{n}` is not a whole number of events"))?;
        let period: HumanDuration = period.parse()?;
        if limit == 0 || period.0.is_zero() {
            return Err(format!(
                "`{raw}`: both the count and the period must be above zero"
            ));
        }
        Ok(Rate {
            limit,
            period: period.0,
        })
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.limit, HumanDuration(self.period))
    }
}

fn parse_secret(raw: &str) -> Result<SecretString, String> {
    Ok(SecretString::from(raw.to_owned()))
}

fn parse_positive_duration(raw: &str) -> Result<HumanDuration, String> {
    let d: HumanDuration = raw.parse()?;
    if d.0.is_zero() {
        return Err("must be greater than zero".into());
    }
    Ok(d)
}

/// An origin for CORS: `scheme://host[:port]`, nothing else.
fn parse_origin(raw: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw == "*" {
        return Err("`*` is not allowed: list the exact origins (credentials are sent)".into());
    }
    let u = Url::parse(raw)
        .map_err(|_| format!("`{raw}` is not an origin like https://app.example.com"))?;
    if !matches!(u.scheme(), "http" | "https")
        || u.host_str().is_none()
        || u.path() != "/"
        || u.query().is_some()
        || raw.ends_with('/')
    {
        return Err(format!(
            "`{raw}` is not an origin like https://app.example.com (no path or slash)"
        ));
    }
    Ok(u.origin().ascii_serialization())
}

/// Settings every command reads.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Core settings")]
pub struct CoreSettings {
    /// Where this runs: `production` refuses embedded defaults and unsafe values.
    #[arg(long, env = "ENVIRONMENT", value_enum, default_value = "local")]
    pub environment: Environment,

    /// Directory for everything Zinovia keeps on this machine: the embedded database,
    /// local media and mail, the generated local session secret.
    #[arg(long, env = "DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Log line format: `pretty` for a terminal, `json` for CloudWatch.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "pretty")]
    pub log_format: LogFormat,

    /// Log filter, e.g. `info` or `info,zinovia=debug`.
    #[arg(long, env = "LOG_LEVEL", default_value = "info,sqlx=warn")]
    pub log_level: String,
}

/// Settings of every command that talks to PostgreSQL.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Database settings")]
pub struct DatabaseSettings {
    /// PostgreSQL URL. Unset: a private cluster under `DATA_DIR/postgres`, started from the
    /// machine's PostgreSQL server binaries. Set: used as is; the database is created when
    /// missing and the role may create it.
    #[arg(long, env = "DATABASE_URL", value_parser = parse_secret, hide_env_values = true)]
    pub database_url: Option<SecretString>,

    /// Largest number of connections this process keeps to PostgreSQL.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value = "10",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub database_max_connections: u32,

    /// How long a request waits for a database connection before failing with 503.
    #[arg(long, env = "DATABASE_ACQUIRE_TIMEOUT", default_value = "5s", value_parser = parse_positive_duration)]
    pub database_acquire_timeout: HumanDuration,
}

/// Settings of every role that builds links to the site (`up`, `serve`, `worker`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Site settings")]
pub struct SiteSettings {
    /// The URL people use to reach the site (links in emails, HSTS, cookie security).
    /// Unset: the local address the server listens on (local use only).
    #[arg(long, env = "PUBLIC_BASE_URL")]
    pub public_base_url: Option<Url>,
}

/// Settings of the HTTP server (`up`, `serve`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "HTTP settings")]
pub struct HttpSettings {
    /// Address and port the HTTP server listens on.
    #[arg(long, env = "BIND_ADDR", default_value = "127.0.0.1:8080")]
    pub bind_addr: SocketAddr,

    /// Secret that keys session-related signatures such as CSRF tokens (at least 32
    /// characters). Unset outside production: generated once into `DATA_DIR/session-secret`.
    #[arg(long, env = "SESSION_SECRET", value_parser = parse_secret, hide_env_values = true)]
    pub session_secret: Option<SecretString>,

    /// Redis URL for rate limits shared by every server process. Unset: limits are kept
    /// per process (refused in production).
    #[arg(long, env = "REDIS_URL", value_parser = parse_secret, hide_env_values = true)]
    pub redis_url: Option<SecretString>,

    /// Longest time a request may take before it is answered with 503.
    #[arg(long, env = "REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_positive_duration)]
    pub request_timeout: HumanDuration,

    /// Largest request body accepted, in bytes (media bytes go straight to storage).
    #[arg(long, env = "REQUEST_BODY_LIMIT", default_value = "2097152",
          value_parser = clap::value_parser!(u64).range(1024..))]
    pub request_body_limit: u64,

    /// Other origins whose pages may call the API with credentials, comma-separated
    /// (e.g. `https://app.example.com`). Empty: same-origin only.
    #[arg(long, env = "CORS_ORIGINS", value_delimiter = ',', value_parser = parse_origin)]
    pub cors_origins: Vec<String>,

    /// Proxies whose `X-Forwarded-For` is believed (the load balancer's subnets),
    /// comma-separated CIDRs. Empty: the connecting address is the client.
    #[arg(long, env = "TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<IpNet>,
}

/// Sessions and rate limits (`up`, `serve`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Session and rate-limit settings")]
pub struct AuthSettings {
    /// A session not used for this long ends.
    #[arg(long, env = "SESSION_IDLE_TIMEOUT", default_value = "30d", value_parser = parse_positive_duration)]
    pub session_idle_timeout: HumanDuration,

    /// A session ends this long after log-in, however much it is used.
    #[arg(long, env = "SESSION_LIFETIME", default_value = "90d", value_parser = parse_positive_duration)]
    pub session_lifetime: HumanDuration,

    /// Requests per client IP to the whole site (health checks and static assets aside).
    #[arg(long, env = "RATE_LIMIT_API", default_value = "1200/1m")]
    pub rate_limit_api: Rate,

    /// Log-in attempts per account from one IP (the account's owner elsewhere is not
    /// affected).
    #[arg(long, env = "RATE_LIMIT_LOGIN", default_value = "10/15m")]
    pub rate_limit_login: Rate,

    /// Log-in attempts per IP, whatever the account (credential stuffing).
    #[arg(long, env = "RATE_LIMIT_LOGIN_IP", default_value = "50/15m")]
    pub rate_limit_login_ip: Rate,

    /// Sign-ups per IP.
    #[arg(long, env = "RATE_LIMIT_SIGNUP", default_value = "10/1h")]
    pub rate_limit_signup: Rate,

    /// Password-reset and verification emails requested per IP, and per account.
    #[arg(long, env = "RATE_LIMIT_EMAIL", default_value = "5/1h")]
    pub rate_limit_email: Rate,

    /// Password-reset confirmations, password changes and account deletions per IP, and
    /// per account (each checks or sets a password with Argon2).
    #[arg(long, env = "RATE_LIMIT_PASSWORD", default_value = "10/15m")]
    pub rate_limit_password: Rate,
}

/// Settings of the roles that send email (`up`, `worker`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Mail settings")]
pub struct MailSettings {
    /// SMTP server, e.g. `smtps://user:pass@smtp.example.com:465` or
    /// `smtp://smtp.example.com:587?tls=required`. Unset: mail is written to
    /// `DATA_DIR/mail/` and logged (refused in production).
    #[arg(long, env = "SMTP_URL", value_parser = parse_secret, hide_env_values = true)]
    pub smtp_url: Option<SecretString>,

    /// The sender of every email.
    #[arg(
        long,
        env = "MAIL_FROM",
        default_value = "Zinovia <no-reply@zinovia.localhost>"
    )]
    pub mail_from: String,
}

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

    /// The ffmpeg program (video posters and remuxing). Missing: videos are rejected with a
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
}

/// Creators, posts and the paywall (`up`, `serve`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Content settings")]
pub struct ContentSettings {
    /// Lowest monthly subscription price a creator may set, in minor units (cents).
    #[arg(long, env = "CREATOR_PRICE_MIN", default_value = "300",
          value_parser = clap::value_parser!(u32).range(1..=100_000_000))]
    pub creator_price_min: u32,

    /// Highest monthly subscription price, in minor units.
    #[arg(long, env = "CREATOR_PRICE_MAX", default_value = "50000",
          value_parser = clap::value_parser!(u32).range(1..=100_000_000))]
    pub creator_price_max: u32,

    /// Lowest pay-per-view price of a post, in minor units.
    #[arg(long, env = "PPV_PRICE_MIN", default_value = "300",
          value_parser = clap::value_parser!(u32).range(1..=100_000_000))]
    pub ppv_price_min: u32,

    /// Highest pay-per-view price of a post, in minor units.
    #[arg(long, env = "PPV_PRICE_MAX", default_value = "100000",
          value_parser = clap::value_parser!(u32).range(1..=100_000_000))]
    pub ppv_price_max: u32,

    /// Currencies creators may price in (ISO 4217 codes).
    #[arg(
        long,
        env = "CURRENCIES",
        value_delimiter = ',',
        default_value = "USD,EUR,GBP"
    )]
    pub currencies: Vec<String>,

    /// How long a past-due subscription (a failed renewal) keeps its access.
    #[arg(long, env = "SUBSCRIPTION_GRACE", default_value = "3d", value_parser = parse_positive_duration)]
    pub subscription_grace: HumanDuration,

    /// How long a creator's previous handle keeps redirecting (and stays reserved).
    #[arg(long, env = "HANDLE_REDIRECT_FOR", default_value = "30d", value_parser = parse_positive_duration)]
    pub handle_redirect_for: HumanDuration,

    /// How long a creator page's rows may be served from this process's memory. Any write
    /// to the creator's posts drops them at once in every process (PostgreSQL
    /// LISTEN/NOTIFY); `0s` turns the cache off.
    #[arg(long, env = "POSTS_CACHE_TTL", default_value = "30s")]
    pub posts_cache_ttl: HumanDuration,
}

/// Payments (`up`, `serve`, `worker`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Payment settings")]
pub struct BillingSettings {
    /// Which payment rail takes fans' money: `simulated` (local checkout pages that pay or
    /// fail on a click; refused in production) or `stripe`.
    #[arg(
        long,
        env = "PAYMENT_PROVIDER",
        value_enum,
        default_value_t = crate::billing::Provider::Simulated
    )]
    pub payment_provider: crate::billing::Provider,

    /// Stripe's secret API key (`sk_live_…`, `rk_live_…`; `sk_test_…` outside production).
    #[arg(long, env = "STRIPE_SECRET_KEY", value_parser = parse_secret, hide_env_values = true)]
    pub stripe_secret_key: Option<SecretString>,

    /// The signing secret of Stripe's webhook endpoint (`whsec_…`).
    #[arg(long, env = "STRIPE_WEBHOOK_SECRET", value_parser = parse_secret, hide_env_values = true)]
    pub stripe_webhook_secret: Option<SecretString>,

    /// Stripe's API (a local fake in tests).
    #[arg(
        long,
        env = "STRIPE_API_BASE",
        default_value = "https://api.stripe.com"
    )]
    pub stripe_api_base: Url,

    /// The platform's share of every payment, in percent (the rest is the creator's).
    #[arg(long, env = "PLATFORM_FEE_PERCENT", default_value = "20",
          value_parser = clap::value_parser!(u8).range(0..=100))]
    pub platform_fee_percent: u8,

    /// Smallest tip, in minor units.
    #[arg(long, env = "TIP_MIN", default_value = "100",
          value_parser = clap::value_parser!(u32).range(1..=100_000_000))]
    pub tip_min: u32,

    /// Largest tip, in minor units.
    #[arg(long, env = "TIP_MAX", default_value = "50000",
          value_parser = clap::value_parser!(u32).range(1..=100_000_000))]
    pub tip_max: u32,
}

/// Settings of every long-running command (`up`, `serve`, `worker`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Lifecycle settings")]
pub struct LifecycleSettings {
    /// After SIGTERM/SIGINT, how long in-flight requests and jobs get to finish; jobs still
    /// running then are released back to the queue. A second signal stops at once.
    #[arg(long, env = "SHUTDOWN_TIMEOUT", default_value = "20s")]
    pub shutdown_timeout: HumanDuration,
}

/// Settings of the job worker (`up`, `worker`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Worker settings")]
pub struct JobSettings {
    /// Jobs this process runs at the same time.
    #[arg(long, env = "WORKER_CONCURRENCY", default_value = "4",
          value_parser = clap::value_parser!(u32).range(1..=256))]
    pub worker_concurrency: u32,

    /// How long a claimed job stays leased without a heartbeat; a worker that dies
    /// loses its jobs to others after this long.
    #[arg(long, env = "JOB_LEASE", default_value = "60s", value_parser = parse_positive_duration)]
    pub job_lease: HumanDuration,

    /// How often the worker looks for due jobs when no notification arrives.
    #[arg(long, env = "JOB_POLL_INTERVAL", default_value = "5s", value_parser = parse_positive_duration)]
    pub job_poll_interval: HumanDuration,

    /// First retry delay of a failed job; doubles with every attempt (capped at 1h).
    #[arg(long, env = "JOB_RETRY_BASE", default_value = "10s")]
    pub job_retry_base: HumanDuration,

    /// How long finished (succeeded) jobs stay visible before they are pruned.
    #[arg(long, env = "JOB_RETENTION", default_value = "7d")]
    pub job_retention: HumanDuration,
}

/// Builds a settings group from its defaults alone, ignoring the environment: used for
/// the groups a command does not read.
fn defaults_of<T: Args + FromArgMatches>() -> T {
    let cmd = T::augment_args(clap::Command::new("defaults").no_binary_name(true))
        .mut_args(|a| a.env(None::<&str>));
    // Every setting has a default or is optional, so this cannot fail; if a future
    // setting breaks that rule, the first test run says so.
    match cmd
        .try_get_matches_from(Vec::<String>::new())
        .and_then(|m| T::from_arg_matches(&m))
    {
        Ok(v) => v,
        Err(e) => panic!("a settings group has a setting without a default: {e}"),
    }
}

macro_rules! defaults_from_clap {
    ($($t:ty),*) => {$(
        impl Default for $t {
            fn default() -> Self {
                defaults_of()
            }
        }
    )*};
}
defaults_from_clap!(
    CoreSettings,
    DatabaseSettings,
    SiteSettings,
    HttpSettings,
    AuthSettings,
    MailSettings,
    MediaSettings,
    ContentSettings,
    BillingSettings,
    LifecycleSettings,
    JobSettings
);

/// The optional settings groups a command read; `None` = not read (defaults apply).
#[derive(Debug, Clone, Default)]
pub struct ReadGroups {
    /// PostgreSQL settings.
    pub database: Option<DatabaseSettings>,
    /// Public URL.
    pub site: Option<SiteSettings>,
    /// HTTP server settings.
    pub http: Option<HttpSettings>,
    /// Sessions and rate limits.
    pub auth: Option<AuthSettings>,
    /// Email.
    pub mail: Option<MailSettings>,
    /// Media storage and delivery.
    pub media: Option<MediaSettings>,
    /// Creators, posts and the paywall.
    pub content: Option<ContentSettings>,
    /// Payments.
    pub billing: Option<BillingSettings>,
    /// Worker settings.
    pub jobs: Option<JobSettings>,
    /// Shutdown settings.
    pub lifecycle: Option<LifecycleSettings>,
}

/// Which process role the settings are validated for: each role needs different settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Role {
    /// `zinovia up`: everything in one process.
    Up,
    /// `zinovia serve`: web pages and JSON API.
    Serve,
    /// `zinovia worker`: background jobs.
    Worker,
    /// `zinovia migrate` and the operator commands.
    Migrate,
}

impl Role {
    fn uses_http(self) -> bool {
        matches!(self, Role::Up | Role::Serve)
    }
    fn uses_jobs(self) -> bool {
        matches!(self, Role::Up | Role::Worker)
    }
    fn uses_site(self) -> bool {
        self != Role::Migrate
    }
}

/// All settings, typed. Built once at start and shared through `AppState`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Environment, data directory, logging.
    pub core: CoreSettings,
    /// PostgreSQL.
    pub database: DatabaseSettings,
    /// The public URL.
    pub site: SiteSettings,
    /// The HTTP server.
    pub http: HttpSettings,
    /// Sessions and rate limits.
    pub auth: AuthSettings,
    /// Email.
    pub mail: MailSettings,
    /// Media storage and delivery.
    pub media: MediaSettings,
    /// Creators, posts and the paywall.
    pub content: ContentSettings,
    /// Payments.
    pub billing: BillingSettings,
    /// The job worker.
    pub jobs: JobSettings,
    /// Shutdown of long-running commands.
    pub lifecycle: LifecycleSettings,
    /// Where each setting's value came from, by env name (for `zinovia config`).
    sources: Vec<(String, Source)>,
}

/// Where a setting's effective value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Its built-in default.
    Default,
    /// The environment variable.
    Env,
    /// The command-line flag.
    Flag,
    /// Not read by this command: the built-in default applies.
    NotRead,
}

impl Source {
    fn label(self) -> &'static str {
        match self {
            Source::Default => "default",
            Source::Env => "env",
            Source::Flag => "flag",
            Source::NotRead => "not read",
        }
    }
}

/// One problem with the settings, naming the setting it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The environment variable the problem is about.
    pub setting: &'static str,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.setting, self.message)
    }
}

/// The settings problems found for one role.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Problems that refuse start-up (in production) or fail `zinovia config`.
    pub problems: Vec<Problem>,
    /// Things worth knowing that do not stop anything.
    pub warnings: Vec<Problem>,
}

impl Report {
    /// One message that lists every problem, for refusing start-up.
    pub fn refusal(&self, env: Environment) -> String {
        let mut s = format!(
            "refusing to start with ENVIRONMENT={}: {} setting problem(s):",
            env.as_str(),
            self.problems.len()
        );
        for p in &self.problems {
            s.push_str("\n  - ");
            s.push_str(&p.to_string());
        }
        s
    }
}

/// Records, for every setting of group `T`, where its value came from (`matches` is
/// `None` when the command did not read the group).
fn sources_of<T: Args>(matches: Option<&ArgMatches>, out: &mut Vec<(String, Source)>) {
    let cmd = T::augment_args(clap::Command::new("group"));
    for arg in cmd.get_arguments() {
        let Some(env) = arg.get_env().and_then(|e| e.to_str()) else {
            continue;
        };
        let src = match matches {
            None => Source::NotRead,
            Some(m) => match m.value_source(arg.get_id().as_str()) {
                Some(ValueSource::EnvVariable) => Source::Env,
                Some(ValueSource::CommandLine) => Source::Flag,
                _ => Source::Default,
            },
        };
        out.push((env.to_owned(), src));
    }
}

impl Settings {
    /// Assembles settings from the groups a command read (unread groups keep their
    /// defaults), recording where each value came from.
    pub fn assemble(matches: &ArgMatches, core: CoreSettings, read: ReadGroups) -> Settings {
        let mut sources = Vec::new();
        let m = |read: bool| read.then_some(matches);
        sources_of::<CoreSettings>(Some(matches), &mut sources);
        sources_of::<DatabaseSettings>(m(read.database.is_some()), &mut sources);
        sources_of::<SiteSettings>(m(read.site.is_some()), &mut sources);
        sources_of::<HttpSettings>(m(read.http.is_some()), &mut sources);
        sources_of::<AuthSettings>(m(read.auth.is_some()), &mut sources);
        sources_of::<MailSettings>(m(read.mail.is_some()), &mut sources);
        sources_of::<MediaSettings>(m(read.media.is_some()), &mut sources);
        sources_of::<ContentSettings>(m(read.content.is_some()), &mut sources);
        sources_of::<BillingSettings>(m(read.billing.is_some()), &mut sources);
        sources_of::<JobSettings>(m(read.jobs.is_some()), &mut sources);
        sources_of::<LifecycleSettings>(m(read.lifecycle.is_some()), &mut sources);
        Settings {
            core,
            database: read.database.unwrap_or_default(),
            site: read.site.unwrap_or_default(),
            http: read.http.unwrap_or_default(),
            auth: read.auth.unwrap_or_default(),
            mail: read.mail.unwrap_or_default(),
            media: read.media.unwrap_or_default(),
            content: read.content.unwrap_or_default(),
            billing: read.billing.unwrap_or_default(),
            jobs: read.jobs.unwrap_or_default(),
            lifecycle: read.lifecycle.unwrap_or_default(),
            sources,
        }
    }

    /// Settings with every default (tests adjust fields from here).
    pub fn defaults() -> Settings {
        Settings {
            core: CoreSettings::default(),
            database: DatabaseSettings::default(),
            site: SiteSettings::default(),
            http: HttpSettings::default(),
            auth: AuthSettings::default(),
            mail: MailSettings::default(),
            media: MediaSettings::default(),
            content: ContentSettings::default(),
            billing: BillingSettings::default(),
            jobs: JobSettings::default(),
            lifecycle: LifecycleSettings::default(),
            sources: Vec::new(),
        }
    }

    /// The URL people reach the site at: `PUBLIC_BASE_URL`, or one derived from
    /// `BIND_ADDR`. Always ends with `/`.
    pub fn public_base_url(&self) -> Url {
        if let Some(u) = &self.site.public_base_url {
            let mut u = u.clone();
            if !u.path().ends_with('/') {
                let path = format!("{}/", u.path());
                u.set_path(&path);
            }
            return u;
        }
        let addr = self.http.bind_addr;
        let host = if addr.ip().is_unspecified() {
            "localhost".to_owned()
        } else if addr.is_ipv6() {
            format!("[{}]", addr.ip())
        } else {
            addr.ip().to_string()
        };
        Url::parse(&format!("http://{host}:{}/", addr.port())).unwrap_or_else(|_| fallback_url())
    }

    /// An absolute link to `path` (which starts with `/`) on the public site.
    pub fn link(&self, path: &str) -> String {
        let base = self.public_base_url();
        format!("{}{}", base.as_str().trim_end_matches('/'), path)
    }

    /// True when people reach the server over https (HSTS, `Secure` cookies).
    pub fn served_over_https(&self) -> bool {
        self.public_base_url().scheme() == "https"
    }

    /// The data directory as an absolute path.
    pub fn data_dir(&self) -> PathBuf {
        absolute(&self.core.data_dir)
    }

    /// Every problem with these settings for a role, all at once.
    pub fn validate(&self, role: Role) -> Report {
        let mut hard = Vec::new(); // wrong anywhere
        let mut unsafe_ = Vec::new(); // embedded defaults or insecure values
        let mut warnings = Vec::new();
        let env = self.core.environment;

        if tracing_subscriber::EnvFilter::try_new(&self.core.log_level).is_err() {
            hard.push(problem(
                "LOG_LEVEL",
                format!("`{}` is not a valid log filter", self.core.log_level),
            ));
        }
        if env != Environment::Local && self.core.log_format == LogFormat::Pretty {
            warnings.push(problem(
                "LOG_FORMAT",
                "use `json` outside local so logs can be queried",
            ));
        }

        self.check_database(&mut hard, &mut unsafe_);
        if role.uses_site() {
            self.check_site(&mut hard, &mut unsafe_);
        }
        if role.uses_http() {
            self.check_http(&mut hard, &mut unsafe_);
            self.check_content(&mut hard);
        }
        if role != Role::Migrate {
            self.check_media(role, &mut hard, &mut unsafe_, &mut warnings);
            self.check_billing(role, &mut hard, &mut unsafe_);
        }
        if role.uses_jobs() {
            self.check_mail(&mut hard, &mut unsafe_);
            self.check_scanner(&mut hard, &mut unsafe_);
            if self.jobs.job_poll_interval.0 > self.jobs.job_lease.0 {
                hard.push(problem(
                    "JOB_POLL_INTERVAL",
                    "must not be longer than JOB_LEASE",
                ));
            }
        }
        if role != Role::Migrate && self.lifecycle.shutdown_timeout.0 > Duration::from_secs(120) {
            warnings.push(problem(
                "SHUTDOWN_TIMEOUT",
                "is over 2 minutes; ECS kills tasks 30 s after SIGTERM by default",
            ));
        }

        let mut report = Report {
            problems: hard,
            warnings,
        };
        match env {
            Environment::Production => report.problems.extend(unsafe_),
            Environment::Staging => report.warnings.extend(unsafe_),
            // Locally the embedded defaults are the point; only real mistakes count.
            Environment::Local => {}
        }
        report
    }

    fn check_database(&self, hard: &mut Vec<Problem>, unsafe_: &mut Vec<Problem>) {
        let Some(url) = &self.database.database_url else {
            unsafe_.push(problem(
                "DATABASE_URL",
                "is not set: the embedded PostgreSQL cluster is for local use only",
            ));
            return;
        };
        match Url::parse(url.expose_secret()) {
            Err(_) => hard.push(problem("DATABASE_URL", "is not a valid URL")),
            Ok(u) if !matches!(u.scheme(), "postgres" | "postgresql") => hard.push(problem(
                "DATABASE_URL",
                "must start with postgres:// or postgresql://",
            )),
            Ok(u) => {
                let ssl = u
                    .query_pairs()
                    .find(|(k, _)| k == "sslmode")
                    .map(|(_, v)| v.into_owned());
                let socket = u.host_str().is_none_or(str::is_empty)
                    || u.query_pairs().any(|(k, _)| k == "host");
                if !socket
                    && !matches!(
                        ssl.as_deref(),
                        Some("require" | "verify-ca" | "verify-full")
                    )
                {
                    unsafe_.push(problem(
                        "DATABASE_URL",
                        "must set sslmode=require, verify-ca or verify-full: the connection carries passwords and private data",
                    ));
                }
            }
        }
    }

    fn check_site(&self, hard: &mut Vec<Problem>, unsafe_: &mut Vec<Problem>) {
        match &self.site.public_base_url {
            None => unsafe_.push(problem(
                "PUBLIC_BASE_URL",
                "is not set: the https URL people use to reach the site is required",
            )),
            Some(u) if !matches!(u.scheme(), "http" | "https") || u.host_str().is_none() => {
                hard.push(problem(
                    "PUBLIC_BASE_URL",
                    "must be an http(s) URL with a host",
                ));
            }
            Some(u) if u.scheme() != "https" => unsafe_.push(problem(
                "PUBLIC_BASE_URL",
                "must be an https URL: sessions and payments need TLS",
            )),
            Some(_) => {}
        }
    }

    fn check_http(&self, hard: &mut Vec<Problem>, unsafe_: &mut Vec<Problem>) {
        match &self.http.session_secret {
            None => unsafe_.push(problem(
                "SESSION_SECRET",
                format!(
                    "is not set: generate one with `openssl rand -base64 48` (at least {MIN_SECRET_LEN} characters)"
                ),
            )),
            Some(s) => {
                let s = s.expose_secret();
                if s.len() < MIN_SECRET_LEN {
                    unsafe_.push(problem(
                        "SESSION_SECRET",
                        format!("is shorter than {MIN_SECRET_LEN} characters"),
                    ));
                } else if KNOWN_DEFAULT_SECRETS.iter().any(|d| s.eq_ignore_ascii_case(d))
                    || s.chars().all(|c| c == s.chars().next().unwrap_or(c))
                {
                    unsafe_.push(problem("SESSION_SECRET", "is a well-known or trivial value"));
                }
            }
        }
        match &self.http.redis_url {
            None => unsafe_.push(problem(
                "REDIS_URL",
                "is not set: rate limits would be per process, not shared by every server",
            )),
            Some(r) => match Url::parse(r.expose_secret()) {
                Ok(u) if matches!(u.scheme(), "redis" | "rediss") => {}
                _ => hard.push(problem("REDIS_URL", "must be a redis:// or rediss:// URL")),
            },
        }
        if self.auth.session_idle_timeout.0 > self.auth.session_lifetime.0 {
            hard.push(problem(
                "SESSION_IDLE_TIMEOUT",
                "must not be longer than SESSION_LIFETIME",
            ));
        }
    }

    fn check_media(
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

    fn check_content(&self, hard: &mut Vec<Problem>) {
        let c = &self.content;
        if c.creator_price_min > c.creator_price_max {
            hard.push(problem(
                "CREATOR_PRICE_MIN",
                "must not be above CREATOR_PRICE_MAX",
            ));
        }
        if c.ppv_price_min > c.ppv_price_max {
            hard.push(problem("PPV_PRICE_MIN", "must not be above PPV_PRICE_MAX"));
        }
        if c.currencies.is_empty()
            || c.currencies
                .iter()
                .any(|x| x.len() != 3 || !x.bytes().all(|b| b.is_ascii_uppercase()))
        {
            hard.push(problem(
                "CURRENCIES",
                "must be ISO 4217 codes in capitals, e.g. USD,EUR",
            ));
        }
    }

    fn check_billing(&self, role: Role, hard: &mut Vec<Problem>, unsafe_: &mut Vec<Problem>) {
        let b = &self.billing;
        if b.tip_min > b.tip_max {
            hard.push(problem("TIP_MIN", "must not be above TIP_MAX"));
        }
        match b.payment_provider {
            crate::billing::Provider::Simulated => unsafe_.push(problem(
                "PAYMENT_PROVIDER",
                "is `simulated`: nobody is charged; set `stripe` (and its keys) to take payments",
            )),
            crate::billing::Provider::Stripe => {
                match &b.stripe_secret_key {
                    None => hard.push(problem(
                        "STRIPE_SECRET_KEY",
                        "is required with PAYMENT_PROVIDER=stripe",
                    )),
                    Some(k)
                        if !["sk_", "rk_"]
                            .iter()
                            .any(|p| k.expose_secret().starts_with(p)) =>
                    {
                        hard.push(problem(
                            "STRIPE_SECRET_KEY",
                            "is not a Stripe secret or restricted key (sk_… or rk_…)",
                        ));
                    }
                    Some(k) if k.expose_secret().contains("_test_") => unsafe_.push(problem(
                        "STRIPE_SECRET_KEY",
                        "is a test-mode key: nobody is charged",
                    )),
                    Some(_) => {}
                }
                match &b.stripe_webhook_secret {
                    // Only the servers receive webhooks.
                    None if !role.uses_http() => {}
                    None => hard.push(problem(
                        "STRIPE_WEBHOOK_SECRET",
                        "is required with PAYMENT_PROVIDER=stripe: webhooks cannot be verified without it",
                    )),
                    Some(s) if !s.expose_secret().starts_with("whsec_") => hard.push(problem(
                        "STRIPE_WEBHOOK_SECRET",
                        "is not a webhook signing secret (whsec_…)",
                    )),
                    Some(_) => {}
                }
            }
        }
    }

    fn check_scanner(&self, hard: &mut Vec<Problem>, unsafe_: &mut Vec<Problem>) {
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

    fn check_mail(&self, hard: &mut Vec<Problem>, unsafe_: &mut Vec<Problem>) {
        match &self.mail.smtp_url {
            None => unsafe_.push(problem(
                "SMTP_URL",
                "is not set: mail would be written to files instead of being sent",
            )),
            Some(u) => match Url::parse(u.expose_secret()) {
                Ok(u) if matches!(u.scheme(), "smtp" | "smtps") && u.host_str().is_some() => {
                    let tls = u
                        .query_pairs()
                        .find(|(k, _)| k == "tls")
                        .map(|(_, v)| v.into_owned());
                    if u.scheme() == "smtp" && tls.as_deref() != Some("required") {
                        unsafe_.push(problem(
                            "SMTP_URL",
                            "must use TLS: smtps://... or smtp://...?tls=required (mail carries sign-in links)",
                        ));
                    }
                }
                _ => hard.push(problem(
                    "SMTP_URL",
                    "must be an smtp:// or smtps:// URL with a host",
                )),
            },
        }
        if self
            .mail
            .mail_from
            .parse::<lettre::message::Mailbox>()
            .is_err()
        {
            hard.push(problem(
                "MAIL_FROM",
                "is not a mailbox like `Zinovia <no-reply@example.com>`",
            ));
        }
    }

    /// The effective settings as `(name, value, source)` rows, secrets redacted.
    pub fn describe(&self) -> Vec<(&'static str, String, &'static str)> {
        let c = &self.core;
        let d = &self.database;
        let h = &self.http;
        let a = &self.auth;
        let j = &self.jobs;
        let ct = &self.content;
        let list = |v: Vec<String>| {
            if v.is_empty() {
                "(none)".to_owned()
            } else {
                v.join(",")
            }
        };
        let values: Vec<(&'static str, String)> = vec![
            ("ENVIRONMENT", c.environment.as_str().to_owned()),
            ("DATA_DIR", self.data_dir().display().to_string()),
            ("LOG_FORMAT", format!("{:?}", c.log_format).to_lowercase()),
            ("LOG_LEVEL", c.log_level.clone()),
            (
                "DATABASE_URL",
                match &d.database_url {
                    None => format!(
                        "(unset: embedded cluster in {})",
                        crate::database::embedded::cluster_dir(&self.data_dir()).display()
                    ),
                    Some(u) => redact_url(u.expose_secret()),
                },
            ),
            (
                "DATABASE_MAX_CONNECTIONS",
                d.database_max_connections.to_string(),
            ),
            (
                "DATABASE_ACQUIRE_TIMEOUT",
                d.database_acquire_timeout.to_string(),
            ),
            (
                "PUBLIC_BASE_URL",
                match &self.site.public_base_url {
                    Some(u) => u.to_string(),
                    None => format!("(unset: {})", self.public_base_url()),
                },
            ),
            ("BIND_ADDR", h.bind_addr.to_string()),
            (
                "SESSION_SECRET",
                match &h.session_secret {
                    None => format!(
                        "(unset: generated in {})",
                        self.data_dir().join(SESSION_SECRET_FILE).display()
                    ),
                    Some(_) => "[redacted]".to_owned(),
                },
            ),
            (
                "REDIS_URL",
                match &h.redis_url {
                    None => "(unset: limits kept in-process)".to_owned(),
                    Some(u) => redact_url(u.expose_secret()),
                },
            ),
            ("REQUEST_TIMEOUT", h.request_timeout.to_string()),
            ("REQUEST_BODY_LIMIT", h.request_body_limit.to_string()),
            ("CORS_ORIGINS", list(h.cors_origins.clone())),
            (
                "TRUSTED_PROXIES",
                list(h.trusted_proxies.iter().map(ToString::to_string).collect()),
            ),
            ("SESSION_IDLE_TIMEOUT", a.session_idle_timeout.to_string()),
            ("SESSION_LIFETIME", a.session_lifetime.to_string()),
            ("RATE_LIMIT_API", a.rate_limit_api.to_string()),
            ("RATE_LIMIT_LOGIN", a.rate_limit_login.to_string()),
            ("RATE_LIMIT_LOGIN_IP", a.rate_limit_login_ip.to_string()),
            ("RATE_LIMIT_SIGNUP", a.rate_limit_signup.to_string()),
            ("RATE_LIMIT_EMAIL", a.rate_limit_email.to_string()),
            ("RATE_LIMIT_PASSWORD", a.rate_limit_password.to_string()),
            (
                "SMTP_URL",
                match &self.mail.smtp_url {
                    None => format!(
                        "(unset: mail written to {})",
                        self.data_dir().join("mail").display()
                    ),
                    Some(u) => redact_url(u.expose_secret()),
                },
            ),
            ("MAIL_FROM", self.mail.mail_from.clone()),
            (
                "STORAGE",
                format!("{:?}", self.media.storage).to_lowercase(),
            ),
            (
                "S3_BUCKET",
                self.media
                    .s3_bucket
                    .clone()
                    .unwrap_or_else(|| "(unset)".into()),
            ),
            ("S3_REGION", self.media.s3_region.clone()),
            (
                "S3_ENDPOINT",
                self.media
                    .s3_endpoint
                    .as_ref()
                    .map_or_else(|| "(unset: AWS)".into(), ToString::to_string),
            ),
            (
                "S3_ACCESS_KEY_ID",
                self.media.s3_access_key_id.as_ref().map_or_else(
                    || "(unset: default credential chain)".into(),
                    |_| "[redacted]".into(),
                ),
            ),
            (
                "S3_SECRET_ACCESS_KEY",
                self.media
                    .s3_secret_access_key
                    .as_ref()
                    .map_or_else(|| "(unset)".into(), |_| "[redacted]".into()),
            ),
            (
                "CDN_BASE_URL",
                self.media
                    .cdn_base_url
                    .as_ref()
                    .map_or_else(|| "(unset)".into(), ToString::to_string),
            ),
            (
                "CLOUDFRONT_KEY_PAIR_ID",
                self.media
                    .cloudfront_key_pair_id
                    .clone()
                    .unwrap_or_else(|| "(unset)".into()),
            ),
            (
                "CLOUDFRONT_PRIVATE_KEY",
                self.media
                    .cloudfront_private_key
                    .as_ref()
                    .map_or_else(|| "(unset)".into(), |_| "[redacted]".into()),
            ),
            ("MEDIA_URL_TTL", self.media.media_url_ttl.to_string()),
            ("UPLOAD_URL_TTL", self.media.upload_url_ttl.to_string()),
            (
                "MEDIA_MAX_IMAGE_BYTES",
                self.media.media_max_image_bytes.to_string(),
            ),
            (
                "MEDIA_MAX_VIDEO_BYTES",
                self.media.media_max_video_bytes.to_string(),
            ),
            (
                "MEDIA_STORAGE_QUOTA_BYTES",
                self.media.media_storage_quota_bytes.to_string(),
            ),
            (
                "MEDIA_MAX_PENDING_UPLOADS",
                self.media.media_max_pending_uploads.to_string(),
            ),
            (
                "UPLOAD_ABANDON_AFTER",
                self.media.upload_abandon_after.to_string(),
            ),
            (
                "CLAMAV_ADDR",
                self.media
                    .clamav_addr
                    .clone()
                    .unwrap_or_else(|| "(unset: uploads not scanned)".into()),
            ),
            ("FFMPEG_PATH", self.media.ffmpeg_path.display().to_string()),
            (
                "FFPROBE_PATH",
                self.media.ffprobe_path.display().to_string(),
            ),
            (
                "MEDIA_TOOL_TIMEOUT",
                self.media.media_tool_timeout.to_string(),
            ),
            (
                "MEDIA_MAX_IMAGE_PIXELS",
                self.media.media_max_image_pixels.to_string(),
            ),
            (
                "MEDIA_MAX_IMAGE_SIDE",
                self.media.media_max_image_side.to_string(),
            ),
            (
                "MEDIA_MAX_VIDEO_SIDE",
                self.media.media_max_video_side.to_string(),
            ),
            (
                "MEDIA_MAX_VIDEO_DURATION",
                self.media.media_max_video_duration.to_string(),
            ),
            ("CREATOR_PRICE_MIN", ct.creator_price_min.to_string()),
            ("CREATOR_PRICE_MAX", ct.creator_price_max.to_string()),
            ("PPV_PRICE_MIN", ct.ppv_price_min.to_string()),
            ("PPV_PRICE_MAX", ct.ppv_price_max.to_string()),
            ("CURRENCIES", list(ct.currencies.clone())),
            ("SUBSCRIPTION_GRACE", ct.subscription_grace.to_string()),
            ("HANDLE_REDIRECT_FOR", ct.handle_redirect_for.to_string()),
            ("POSTS_CACHE_TTL", ct.posts_cache_ttl.to_string()),
            (
                "PAYMENT_PROVIDER",
                self.billing.payment_provider.as_str().to_owned(),
            ),
            (
                "STRIPE_SECRET_KEY",
                redacted(self.billing.stripe_secret_key.as_ref()),
            ),
            (
                "STRIPE_WEBHOOK_SECRET",
                redacted(self.billing.stripe_webhook_secret.as_ref()),
            ),
            (
                "PLATFORM_FEE_PERCENT",
                self.billing.platform_fee_percent.to_string(),
            ),
            ("STRIPE_API_BASE", self.billing.stripe_api_base.to_string()),
            ("TIP_MIN", self.billing.tip_min.to_string()),
            ("TIP_MAX", self.billing.tip_max.to_string()),
            (
                "SHUTDOWN_TIMEOUT",
                self.lifecycle.shutdown_timeout.to_string(),
            ),
            ("WORKER_CONCURRENCY", j.worker_concurrency.to_string()),
            ("JOB_LEASE", j.job_lease.to_string()),
            ("JOB_POLL_INTERVAL", j.job_poll_interval.to_string()),
            ("JOB_RETRY_BASE", j.job_retry_base.to_string()),
            ("JOB_RETENTION", j.job_retention.to_string()),
        ];
        values
            .into_iter()
            .map(|(name, value)| {
                let src = self
                    .sources
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or(Source::Default, |(_, s)| *s);
                (name, value, src.label())
            })
            .collect()
    }
}

/// File in `DATA_DIR` holding the generated local session secret.
pub const SESSION_SECRET_FILE: &str = "session-secret";

fn problem(setting: &'static str, message: impl Into<String>) -> Problem {
    Problem {
        setting,
        message: message.into(),
    }
}

fn fallback_url() -> Url {
    // `Url::parse` of a literal cannot fail; this keeps the code free of `expect`.
    match Url::parse("http://localhost/") {
        Ok(u) => u,
        Err(_) => unreachable!("literal URL parses"),
    }
}

/// A URL with its password (and any `password=`-like query value) replaced by `[redacted]`.
pub fn redacted(secret: Option<&SecretString>) -> String {
    match secret {
        Some(_) => "[redacted]".to_owned(),
        None => "(unset)".to_owned(),
    }
}

fn redact_url(raw: &str) -> String {
    match Url::parse(raw) {
        Ok(mut u) => {
            if u.password().is_some() {
                let _ = u.set_password(Some("[redacted]"));
            }
            let pairs: Vec<(String, String)> = u
                .query_pairs()
                .map(|(k, v)| {
                    let secretish =
                        k.contains("password") || k.contains("token") || k.contains("key");
                    (
                        k.into_owned(),
                        if secretish {
                            "[redacted]".into()
                        } else {
                            v.into_owned()
                        },
                    )
                })
                .collect();
            if !pairs.is_empty() {
                u.query_pairs_mut().clear().extend_pairs(pairs);
            }
            u.to_string()
        }
        Err(_) => "[redacted: not a valid URL]".to_owned(),
    }
}

/// `path` made absolute against the current directory (without touching the filesystem).
pub fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(s: &Settings, role: Role) -> Vec<&'static str> {
        s.validate(role)
            .problems
            .iter()
            .map(|p| p.setting)
            .collect()
    }

    #[test]
    fn durations_parse_and_print() {
        for (raw, d) in [
            ("250ms", Duration::from_millis(250)),
            ("30s", Duration::from_secs(30)),
            ("30", Duration::from_secs(30)),
            ("5m", Duration::from_secs(300)),
            ("2h", Duration::from_secs(7200)),
            ("7d", Duration::from_secs(7 * 86_400)),
        ] {
            assert_eq!(raw.parse::<HumanDuration>().map(|h| h.0), Ok(d), "{raw}");
        }
        assert!("5 parsecs".parse::<HumanDuration>().is_err());
        assert!("s".parse::<HumanDuration>().is_err());
        assert!("-1s".parse::<HumanDuration>().is_err());
        assert_eq!(
            HumanDuration(Duration::from_millis(1500)).to_string(),
            "1500ms"
        );
        assert_eq!(HumanDuration(Duration::from_secs(120)).to_string(), "2m");
        assert_eq!(HumanDuration(Duration::ZERO).to_string(), "0s");
    }

    #[test]
    fn rates_parse_and_print() {
        let r: Rate = "10/15m".parse().unwrap();
        assert_eq!((r.limit, r.period), (10, Duration::from_secs(900)));
        assert_eq!(r.to_string(), "10/15m");
        for bad in ["10", "0/1m", "10/0s", "x/1m", "10/1 fortnight"] {
            assert!(bad.parse::<Rate>().is_err(), "{bad}");
        }
    }

    #[test]
    fn cors_origins_must_be_exact_origins() {
        assert_eq!(
            parse_origin("https://app.example.com").unwrap(),
            "https://app.example.com"
        );
        assert_eq!(
            parse_origin("http://localhost:3000").unwrap(),
            "http://localhost:3000"
        );
        for bad in [
            "*",
            "https://app.example.com/",
            "https://app.example.com/x",
            "app.example.com",
            "ftp://x.y",
        ] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn defaults_are_local_and_valid() {
        let s = Settings::defaults();
        assert_eq!(s.core.environment, Environment::Local);
        assert_eq!(s.http.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(s.public_base_url().as_str(), "http://127.0.0.1:8080/");
        assert_eq!(
            s.link("/verify-email?token=x"),
            "http://127.0.0.1:8080/verify-email?token=x"
        );
        for role in [Role::Up, Role::Serve, Role::Worker, Role::Migrate] {
            assert!(s.validate(role).problems.is_empty(), "{role:?}");
        }
    }

    #[test]
    fn production_lists_every_unsafe_setting_of_each_role() {
        let mut s = Settings::defaults();
        s.core.environment = Environment::Production;
        assert_eq!(
            problems(&s, Role::Serve),
            [
                "DATABASE_URL",
                "PUBLIC_BASE_URL",
                "SESSION_SECRET",
                "REDIS_URL",
                "STORAGE",
                "PAYMENT_PROVIDER"
            ]
        );
        // The worker serves no HTTP but sends mail with links to the site.
        assert_eq!(
            problems(&s, Role::Worker),
            [
                "DATABASE_URL",
                "PUBLIC_BASE_URL",
                "STORAGE",
                "PAYMENT_PROVIDER",
                "SMTP_URL",
                "CLAMAV_ADDR"
            ]
        );
        assert_eq!(problems(&s, Role::Migrate), ["DATABASE_URL"]);
        assert_eq!(
            problems(&s, Role::Up),
            [
                "DATABASE_URL",
                "PUBLIC_BASE_URL",
                "SESSION_SECRET",
                "REDIS_URL",
                "STORAGE",
                "PAYMENT_PROVIDER",
                "SMTP_URL",
                "CLAMAV_ADDR"
            ]
        );
    }

    #[test]
    fn production_refuses_short_trivial_secrets_and_plain_http() {
        let mut s = Settings::defaults();
        s.core.environment = Environment::Production;
        s.database.database_url = Some("postgres://u:p@db.internal/zinovia".into());
        s.site.public_base_url = Url::parse("http://example.com").ok();
        s.http.redis_url = Some("rediss://cache:6379".into());
        s.http.session_secret = Some("short".into());
        s.media.storage = StorageBackend::S3;
        s.media.s3_bucket = Some("zinovia-media".into());
        s.billing.payment_provider = crate::billing::Provider::Stripe;
        s.billing.stripe_secret_key = Some("sk_live_key".into());
        s.billing.stripe_webhook_secret = Some("whsec_secret".into());
        let msgs: Vec<String> = s
            .validate(Role::Serve)
            .problems
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(msgs.len(), 3, "{msgs:?}");
        assert!(msgs[0].starts_with("DATABASE_URL: must set sslmode"));
        assert!(msgs[1].starts_with("PUBLIC_BASE_URL: must be an https URL"));
        assert!(msgs[2].contains("shorter than 32"));

        s.http.session_secret = Some("a".repeat(40).into());
        assert!(
            s.validate(Role::Serve)
                .problems
                .iter()
                .any(|p| p.message.contains("trivial"))
        );

        s.database.database_url =
            Some("postgres://u:p@db.internal/zinovia?sslmode=verify-full".into());
        s.site.public_base_url = Url::parse("https://example.com").ok();
        s.http.session_secret = Some("kq8R2vYc0pLr5Xw9eTt1uZm3Nb7Hs4Ad6Fg".into());
        assert!(s.validate(Role::Serve).problems.is_empty());
        s.media.clamav_addr = Some("clamd.internal:3310".into());
        s.mail.smtp_url = Some("http://not-smtp".into());
        assert_eq!(problems(&s, Role::Worker), ["SMTP_URL"]);
        s.mail.smtp_url = Some("smtps://user:pass@smtp.example.com:465".into());
        s.mail.mail_from = "not a mailbox".into();
        assert_eq!(problems(&s, Role::Worker), ["MAIL_FROM"]);
    }

    #[test]
    fn staging_reports_unsafe_settings_as_warnings() {
        let mut s = Settings::defaults();
        s.core.environment = Environment::Staging;
        let r = s.validate(Role::Serve);
        assert!(r.problems.is_empty());
        assert!(r.warnings.iter().any(|p| p.setting == "DATABASE_URL"));
    }

    #[test]
    fn secrets_are_redacted_in_the_description() {
        let mut s = Settings::defaults();
        s.database.database_url = Some("postgres://app:hunter2@db/zinovia?password=x2".into());
        s.http.session_secret = Some("super-secret-session-value-0123456789".into());
        s.http.redis_url = Some("rediss://:tok3n@cache:6379".into());
        s.mail.smtp_url = Some("smtps://mailer:m4ilpass@smtp.example.com".into());
        let text: String = s
            .describe()
            .iter()
            .map(|(n, v, _)| format!("{n}={v}\n"))
            .collect();
        for secret in ["hunter2", "x2", "super-secret", "tok3n", "m4ilpass"] {
            assert!(!text.contains(secret), "{secret} leaked in:\n{text}");
        }
        assert!(text.contains("smtp.example.com"));
    }
}

#[cfg(test)]
mod media_tests {
    use super::*;

    fn problems(s: &Settings, role: Role) -> Vec<String> {
        s.validate(role)
            .problems
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn production_refuses_local_storage_and_half_cdn_setups() {
        let mut s = Settings::defaults();
        s.core.environment = Environment::Production;
        assert!(
            problems(&s, Role::Serve)
                .iter()
                .any(|p| p.starts_with("STORAGE: is `local`"))
        );
        s.media.storage = StorageBackend::S3;
        assert!(
            problems(&s, Role::Serve)
                .iter()
                .any(|p| p.starts_with("S3_BUCKET: is required"))
        );
        s.media.s3_bucket = Some("media".into());
        s.media.cdn_base_url = Url::parse("https://media.example.com").ok();
        assert!(
            problems(&s, Role::Serve)
                .iter()
                .any(|p| p.starts_with("CDN_BASE_URL: needs CLOUDFRONT_KEY_PAIR_ID"))
        );
        s.media.cloudfront_key_pair_id = Some("K1".into());
        s.media.cloudfront_private_key = Some("not a pem".into());
        assert!(
            problems(&s, Role::Serve)
                .iter()
                .any(|p| p.starts_with("CLOUDFRONT_PRIVATE_KEY"))
        );
        s.media.cloudfront_private_key =
            Some(include_str!("../tests/fixtures/cloudfront-test-ecdsa.pem").into());
        assert!(
            !problems(&s, Role::Serve)
                .iter()
                .any(|p| p.contains("CLOUDFRONT") || p.contains("CDN"))
        );
        // Locally, local storage is the point.
        let local = Settings::defaults();
        assert!(local.validate(Role::Serve).problems.is_empty());
    }
}
