//! Settings: every knob Zinovia reads, typed, validated once at start and passed down. Each
//! group lives in its own file (`config/<group>.rs`: its arguments, checks and how
//! `zinovia config` shows it); this file assembles them, validates for a role and describes.
//!
//! Each setting is an environment variable with a flat name (`DATABASE_URL`, `BIND_ADDR`, ...)
//! and also a CLI flag. Settings come in groups; a subcommand reads only the groups it uses,
//! so its `--help` lists exactly what it reads, and production validation asks each role only
//! for what that role needs. Groups a command does not read keep their defaults. Nothing else
//! in the code reads `std::env`.

mod auth;
mod billing;
mod content;
mod core;
mod database;
mod http;
mod jobs;
mod lifecycle;
mod mail;
mod media;
mod site;
mod values;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, FromArgMatches, ValueEnum};
use secrecy::SecretString;
use url::Url;

pub use self::auth::AuthSettings;
pub use self::billing::BillingSettings;
pub use self::content::{ContentSettings, VerificationMode};
pub use self::core::CoreSettings;
pub use self::database::DatabaseSettings;
pub use self::http::HttpSettings;
pub use self::jobs::JobSettings;
pub use self::lifecycle::LifecycleSettings;
pub use self::mail::MailSettings;
pub use self::media::{MediaSettings, StorageBackend};
pub use self::site::SiteSettings;
pub use self::values::{Environment, HumanDuration, LogFormat, Rate};
use self::values::{parse_duration, parse_origin, parse_positive_duration, parse_secret};

/// Shortest session secret accepted in production (bytes of the secret string).
pub const MIN_SECRET_LEN: usize = 32;

/// Secret values that ship in docs and examples; never valid in production.
const KNOWN_DEFAULT_SECRETS: &[&str] = &["changeme", "change-me", "secret", "dev-secret"];

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
    pub(super) fn uses_http(self) -> bool {
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
            self.check_content(&mut hard, &mut unsafe_);
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

    /// The effective settings as `(name, value, source)` rows, secrets redacted: every
    /// setting each group's clap arguments declare, in their order, with the value its group
    /// shows (`NOT_DESCRIBED` for one a group forgot, which a test refuses).
    pub fn describe(&self) -> Vec<(String, String, &'static str)> {
        let mut rows = Vec::new();
        self.describe_group::<CoreSettings>(self.core.values(self), &mut rows);
        self.describe_group::<DatabaseSettings>(self.database.values(self), &mut rows);
        self.describe_group::<SiteSettings>(self.site.values(self), &mut rows);
        self.describe_group::<HttpSettings>(self.http.values(self), &mut rows);
        self.describe_group::<AuthSettings>(self.auth.values(self), &mut rows);
        self.describe_group::<MailSettings>(self.mail.values(self), &mut rows);
        self.describe_group::<MediaSettings>(self.media.values(self), &mut rows);
        self.describe_group::<ContentSettings>(self.content.values(self), &mut rows);
        self.describe_group::<BillingSettings>(self.billing.values(self), &mut rows);
        self.describe_group::<LifecycleSettings>(self.lifecycle.values(self), &mut rows);
        self.describe_group::<JobSettings>(self.jobs.values(self), &mut rows);
        rows
    }

    fn describe_group<T: Args>(
        &self,
        values: Vec<(&'static str, String)>,
        rows: &mut Vec<(String, String, &'static str)>,
    ) {
        for env in env_names::<T>() {
            let value = values
                .iter()
                .find(|(name, _)| *name == env)
                .map_or_else(|| NOT_DESCRIBED.to_owned(), |(_, v)| v.clone());
            let source = self
                .sources
                .iter()
                .find(|(n, _)| *n == env)
                .map_or(Source::Default, |(_, s)| *s);
            rows.push((env, value, source.label()));
        }
    }
}

/// What `describe` shows for a setting its group does not describe (a test refuses it).
pub const NOT_DESCRIBED: &str = "(not described)";

/// The environment variables a settings group declares, in order.
pub fn env_names<T: Args>() -> Vec<String> {
    T::augment_args(clap::Command::new("group"))
        .get_arguments()
        .filter_map(|a| a.get_env().and_then(|e| e.to_str()).map(str::to_owned))
        .collect()
}

/// A list setting as `zinovia config` shows it.
fn list(values: Vec<String>) -> String {
    if values.is_empty() {
        "(none)".to_owned()
    } else {
        values.join(",")
    }
}

/// File in `DATA_DIR` holding the generated local session secret.
pub const SESSION_SECRET_FILE: &str = "session-secret";
/// Where a local data encryption key is generated when `DATA_ENCRYPTION_KEY` is unset.
pub const DATA_KEY_FILE: &str = "data-encryption-key";

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

    /// Each group's own list of what it shows, for comparing with clap's.
    fn described(s: &Settings) -> Vec<(&'static str, Vec<String>, Vec<&'static str>)> {
        fn names(values: Vec<(&'static str, String)>) -> Vec<&'static str> {
            values.into_iter().map(|(n, _)| n).collect()
        }
        vec![
            ("core", env_names::<CoreSettings>(), names(s.core.values(s))),
            (
                "database",
                env_names::<DatabaseSettings>(),
                names(s.database.values(s)),
            ),
            ("site", env_names::<SiteSettings>(), names(s.site.values(s))),
            ("http", env_names::<HttpSettings>(), names(s.http.values(s))),
            ("auth", env_names::<AuthSettings>(), names(s.auth.values(s))),
            ("mail", env_names::<MailSettings>(), names(s.mail.values(s))),
            (
                "media",
                env_names::<MediaSettings>(),
                names(s.media.values(s)),
            ),
            (
                "content",
                env_names::<ContentSettings>(),
                names(s.content.values(s)),
            ),
            (
                "billing",
                env_names::<BillingSettings>(),
                names(s.billing.values(s)),
            ),
            (
                "lifecycle",
                env_names::<LifecycleSettings>(),
                names(s.lifecycle.values(s)),
            ),
            ("jobs", env_names::<JobSettings>(), names(s.jobs.values(s))),
        ]
    }

    #[test]
    fn every_setting_clap_reads_is_described_once_and_nothing_else_is() {
        let s = Settings::defaults();
        let rows = s.describe();
        let undescribed: Vec<&String> = rows
            .iter()
            .filter(|(_, v, _)| v == NOT_DESCRIBED)
            .map(|(n, _, _)| n)
            .collect();
        assert!(
            undescribed.is_empty(),
            "settings without a description: {undescribed:?}"
        );
        for (group, clap_names, shown) in described(&s) {
            for name in &shown {
                assert!(
                    clap_names.iter().any(|n| n == name),
                    "{group} describes {name}, which it does not read"
                );
            }
            assert_eq!(
                clap_names.len(),
                shown.len(),
                "{group}: {clap_names:?} vs {shown:?}"
            );
        }
        let mut all: Vec<&String> = rows.iter().map(|(n, _, _)| n).collect();
        let count = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), count, "a setting is read by two groups");
        assert!(count >= 70, "{count}");
    }

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
                "DATA_ENCRYPTION_KEY",
                "REDIS_URL",
                "STORAGE",
                "PAYMENT_PROVIDERS"
            ]
        );
        // The worker serves no HTTP but sends mail with links to the site.
        assert_eq!(
            problems(&s, Role::Worker),
            [
                "DATABASE_URL",
                "PUBLIC_BASE_URL",
                "STORAGE",
                "PAYMENT_PROVIDERS",
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
                "DATA_ENCRYPTION_KEY",
                "REDIS_URL",
                "STORAGE",
                "PAYMENT_PROVIDERS",
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
        s.http.data_encryption_key = Some("Zp4w9Qe7Rt2Yu8Io3Pa6Sd1Fg5Hj0Kl7Xc".into());
        s.media.storage = StorageBackend::S3;
        s.media.s3_bucket = Some("zinovia-media".into());
        s.billing.payment_providers = vec![crate::billing::Provider::Stripe];
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
        s.http.data_encryption_key = Some("sealing-key-never-shown-0123456789".into());
        s.http.redis_url = Some("rediss://:tok3n@cache:6379".into());
        s.mail.smtp_url = Some("smtps://mailer:m4ilpass@smtp.example.com".into());
        let text: String = s
            .describe()
            .iter()
            .map(|(n, v, _)| format!("{n}={v}\n"))
            .collect();
        for secret in [
            "hunter2",
            "x2",
            "super-secret",
            "sealing-key",
            "tok3n",
            "m4ilpass",
        ] {
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
            Some(include_str!("../../tests/fixtures/cloudfront-test-ecdsa.pem").into());
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
