//! Logging through `tracing`: text or JSON lines on stdout, filtered by `logLevel`.

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
}

/// Installs the global subscriber. Call once, before anything logs.
pub fn init(format: LogFormat, filter: &str) -> Result<(), TelemetryError> {
    let env_filter =
        EnvFilter::builder()
            .parse(filter)
            .map_err(|cause| TelemetryError::Filter {
                filter: filter.to_owned(),
                cause,
            })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(env_filter)
        .with_writer(std::io::stdout);
    let result = match format {
        LogFormat::Text => builder.with_ansi(false).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .try_init(),
    };
    result.map_err(|e| TelemetryError::AlreadyInstalled(e.to_string()))
}
