//! Settings every command reads: the environment, the data directory, logging.

use std::path::PathBuf;

use clap::Args;

use super::*;

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

impl CoreSettings {
    /// Each setting of this group as `zinovia config` shows it (secrets redacted).
    pub(super) fn values(&self, s: &Settings) -> Vec<(&'static str, String)> {
        vec![
            ("ENVIRONMENT", self.environment.as_str().to_owned()),
            ("DATA_DIR", s.data_dir().display().to_string()),
            (
                "LOG_FORMAT",
                format!("{:?}", self.log_format).to_lowercase(),
            ),
            ("LOG_LEVEL", self.log_level.clone()),
        ]
    }
}
