//! The job worker: concurrency, leases, polling, retries, retention.

use clap::Args;

use super::*;

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

    /// Fans a mass message is delivered to per transaction (one chunk; a worker killed
    /// mid-chunk loses only that chunk's transaction, redone by the retried job).
    #[arg(long, env = "MASS_MESSAGE_CHUNK", default_value = "1000",
          value_parser = clap::value_parser!(u32).range(1..=10000))]
    pub mass_message_chunk: u32,

    /// How long messages stay unread, with nothing new arriving, before their recipient is
    /// emailed about them (once per quiet spell; people can turn these emails off); 0s: never.
    #[arg(long, env = "UNREAD_EMAIL_AFTER", default_value = "15m")]
    pub unread_email_after: HumanDuration,
}

impl JobSettings {
    /// Each setting of this group as `zinovia config` shows it (secrets redacted).
    pub(super) fn values(&self, _s: &Settings) -> Vec<(&'static str, String)> {
        vec![
            ("WORKER_CONCURRENCY", self.worker_concurrency.to_string()),
            ("JOB_LEASE", self.job_lease.to_string()),
            ("JOB_POLL_INTERVAL", self.job_poll_interval.to_string()),
            ("JOB_RETRY_BASE", self.job_retry_base.to_string()),
            ("JOB_RETENTION", self.job_retention.to_string()),
            ("MASS_MESSAGE_CHUNK", self.mass_message_chunk.to_string()),
            ("UNREAD_EMAIL_AFTER", self.unread_email_after.to_string()),
        ]
    }
}
