//! Logging through `tracing`: text or JSON lines on stdout, filtered by `logLevel`. JSON lines
//! come from our own event format (`json`), which writes what `tracing_subscriber`'s JSON
//! format would, at a fraction of its cost.
//!
//! Lines are formatted on the thread that logs and written by one logging thread (`batch`),
//! which writes every line waiting in one `write`: the request path never waits for stdout,
//! and a busy service makes one syscall per batch instead of one per access-log line. No line
//! is dropped: when `MAX_WAITING_BYTES` are waiting (stdout is slower than the service),
//! logging waits, which bounds the memory too.

mod batch;
mod json;

use std::io::stdout;
use std::time::Duration;

use axum::http::Method;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("invalid log filter {filter:?}: {cause}")]
    Filter {
        filter: String,
        cause: tracing_subscriber::filter::ParseError,
    },
    #[error("a global tracing subscriber is already installed: {0}")]
    AlreadyInstalled(String),
    #[error("cannot start the logging thread: {0}")]
    Thread(std::io::Error),
}

/// Bytes formatted but not yet written, at most: about 4,000 access-log lines.
pub const MAX_WAITING_BYTES: usize = 1024 * 1024;

/// Keeps the logging thread running; dropping it writes every waiting line, then stops it.
#[must_use = "logging stops when the guard is dropped"]
pub struct LogGuard {
    _writer: batch::BatchGuard,
}

/// Installs the global subscriber. Call once, before anything logs, and keep the guard until
/// the process ends.
pub fn init(format: LogFormat, filter: &str) -> Result<LogGuard, TelemetryError> {
    let env_filter =
        EnvFilter::builder()
            .parse(filter)
            .map_err(|cause| TelemetryError::Filter {
                filter: filter.to_owned(),
                cause,
            })?;
    let (writer, guard) =
        batch::start(stdout(), MAX_WAITING_BYTES, batch::GATHER).map_err(TelemetryError::Thread)?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(writer);
    let result = match format {
        LogFormat::Text => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder.event_format(json::JsonLines).try_init(),
    };
    result.map_err(|e| TelemetryError::AlreadyInstalled(e.to_string()))?;
    Ok(LogGuard { _writer: guard })
}

/// The access-log line of one request: one event per request, target `app_rust::access`, so
/// that `APP_LOG_LEVEL=info,app_rust::access=warn` turns it off alone. Written here once, for
/// the service and for the bench that times it (bench/log_line.rs).
pub fn log_access(method: &Method, path: &str, status: u16, latency: Duration, pod: &str) {
    tracing::info!(
        target: "app_rust::access",
        method = %method,
        path = %path,
        status,
        latency_ms = latency.as_secs_f64() * 1000.0,
        pod = %pod,
        "request"
    );
}
