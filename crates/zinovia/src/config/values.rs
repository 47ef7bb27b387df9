//! The value types settings are written in: the environment, the log format, durations
//! (`30s`, `5m`, `7d`), rates (`10/15m`), and the parsers clap uses for them.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use clap::ValueEnum;
use secrecy::SecretString;
use url::Url;

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

pub(super) fn parse_secret(raw: &str) -> Result<SecretString, String> {
    Ok(SecretString::from(raw.to_owned()))
}

pub(super) fn parse_duration(raw: &str) -> Result<HumanDuration, String> {
    raw.parse()
}

pub(super) fn parse_positive_duration(raw: &str) -> Result<HumanDuration, String> {
    let d: HumanDuration = raw.parse()?;
    if d.0.is_zero() {
        return Err("must be greater than zero".into());
    }
    Ok(d)
}

/// An origin for CORS: `scheme://host[:port]`, nothing else.
pub(super) fn parse_origin(raw: &str) -> Result<String, String> {
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
