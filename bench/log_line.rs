//! What one access-log line costs in itself, outside the service: logs `LINES` events shaped
//! like the access log's through the service's own subscriber (JSON lines, the logging thread)
//! and prints the mean time per line on stderr. Send stdout to /dev/null, or the terminal's
//! speed is measured instead: `cargo run --release --example log_line > /dev/null`.

use std::time::Instant;

use anyhow::Context;
use app_rust::config::LogFormat;
use axum::http::{Method, Uri};

const LINES: u32 = 1_000_000;

fn main() -> anyhow::Result<()> {
    let guard =
        app_rust::telemetry::init(LogFormat::Json, "info").context("installing the logger")?;
    let method = Method::GET;
    let uri = Uri::from_static("/healthz");
    let started = Instant::now();
    for line in 0..LINES {
        // The fields of the access log's event (src/routes/observe.rs), in its order.
        tracing::info!(
            target: "app_rust::access",
            method = %method,
            path = %uri.path(),
            status = 200u16,
            latency_ms = f64::from(line % 1000) * 0.001,
            pod = %"bench-0",
            "request"
        );
    }
    // Dropping the guard writes every waiting line, so the time includes the last batch.
    drop(guard);
    let elapsed = started.elapsed();
    eprintln!(
        "{:.0} ns per access-log line ({LINES} lines in {:.2} s)",
        elapsed.as_nanos() as f64 / f64::from(LINES),
        elapsed.as_secs_f64()
    );
    Ok(())
}
