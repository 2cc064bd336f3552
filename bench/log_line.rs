//! What one access-log line costs in itself, outside the service: writes `LINES` access-log
//! lines (`telemetry::log_access`, as the service does per request) through the service's own
//! subscriber (JSON lines, the logging thread) and prints the mean time per line on stderr.
//! Send stdout to /dev/null, or the terminal's speed is measured instead:
//! `cargo run --release --example log_line > /dev/null`.

use std::time::{Duration, Instant};

use anyhow::Context;
use app_rust::config::LogFormat;
use app_rust::telemetry;
use axum::http::Method;

const LINES: u32 = 1_000_000;

fn main() -> anyhow::Result<()> {
    let guard = telemetry::init(LogFormat::Json, "info").context("installing the logger")?;
    let started = Instant::now();
    for line in 0..LINES {
        let latency = Duration::from_micros(u64::from(line % 1000));
        telemetry::log_access(&Method::GET, "/healthz", 200, latency, "bench-0");
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
