//! Shutdown of long-running commands.

use clap::Args;

use super::*;

/// Settings of every long-running command (`up`, `serve`, `worker`).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Lifecycle settings")]
pub struct LifecycleSettings {
    /// After SIGTERM/SIGINT, how long in-flight requests and jobs get to finish; jobs still
    /// running then are released back to the queue. A second signal stops at once.
    #[arg(long, env = "SHUTDOWN_TIMEOUT", default_value = "20s")]
    pub shutdown_timeout: HumanDuration,
}

impl LifecycleSettings {
    /// Each setting of this group as `zinovia config` shows it (secrets redacted).
    pub(super) fn values(&self, _s: &Settings) -> Vec<(&'static str, String)> {
        vec![("SHUTDOWN_TIMEOUT", self.shutdown_timeout.to_string())]
    }
}
