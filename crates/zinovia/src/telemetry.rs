//! Logging: `tracing` to stderr, human-readable or JSON (one object per line, with the
//! request id of the current request on every line).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::{CoreSettings, LogFormat};

/// Installs the global log subscriber. Call once, first thing.
pub fn init(core: &CoreSettings) {
    let filter = EnvFilter::try_new(&core.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_span_events(FmtSpan::NONE);
    let result = match core.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
    // Already installed (tests start several apps in one process): keep the first one.
    let _ = result;
}
