use std::process::ExitCode;

use anyhow::Context;
use app_rust::cli::{self, CliSettings, Invocation, LoadArgs, ProbeArgs, RestoreArgs};
use app_rust::store::{self, Replaced};
use app_rust::{Application, Config, StopRequests, load, probe, telemetry};

fn main() -> ExitCode {
    match cli::parse() {
        Invocation::Serve(settings) => serve(&settings),
        Invocation::CheckConfig(settings) => check_config(&settings),
        Invocation::Load(args) => load(&args),
        Invocation::Restore(args) => restore(&args),
        Invocation::Probe(args) => probe(&args),
    }
}

/// The single-threaded runtime of a client subcommand.
fn small_runtime(subcommand: &str) -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => Some(runtime),
        Err(error) => {
            eprintln!("app-rust {subcommand}: cannot start the async runtime: {error}");
            None
        }
    }
}

fn probe(args: &ProbeArgs) -> ExitCode {
    let Some(runtime) = small_runtime("probe") else {
        return ExitCode::FAILURE;
    };
    let outcomes = runtime.block_on(probe::run(args));
    for outcome in &outcomes {
        println!("{}", outcome.line());
    }
    if outcomes.iter().all(probe::ProbeOutcome::is_success) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn load(args: &LoadArgs) -> ExitCode {
    let Some(runtime) = small_runtime("load") else {
        return ExitCode::FAILURE;
    };
    match runtime.block_on(load::run(args)) {
        Ok(report) => {
            print!("{}", report.summary());
            if report.succeeded() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(error) => {
            eprintln!("app-rust load: {error}");
            ExitCode::from(2)
        }
    }
}

fn restore(args: &RestoreArgs) -> ExitCode {
    match store::restore(&args.data_dir, args.count, args.allow_lower) {
        Ok(replaced) => {
            let before = match replaced {
                Replaced::Count(count) => count.to_string(),
                Replaced::Corrupt(found) => format!("not a count ({found})"),
            };
            println!(
                "restored {}: {before} -> {}",
                args.data_dir.join(store::VISITS_FILE).display(),
                args.count
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("app-rust restore: {error}");
            ExitCode::FAILURE
        }
    }
}

fn check_config(settings: &CliSettings) -> ExitCode {
    match Config::resolve(settings) {
        Ok(config) => match serde_json::to_string_pretty(&config) {
            Ok(json) => {
                println!("{json}");
                ExitCode::SUCCESS
            }
            Err(error) => {
                eprintln!("app-rust check-config: cannot print the configuration: {error}");
                ExitCode::FAILURE
            }
        },
        Err(error) => {
            eprintln!("app-rust: invalid configuration: {error}");
            ExitCode::from(2)
        }
    }
}

/// Runs the service. An error that stops it is reported once, on stderr, with its whole chain
/// (not also as a log line: `kubectl logs` shows both streams together).
fn serve(settings: &CliSettings) -> ExitCode {
    let config = match Config::resolve(settings) {
        Ok(config) => config,
        Err(error) => {
            eprintln!("app-rust: invalid configuration: {error}");
            return ExitCode::FAILURE;
        }
    };
    let _log_guard = match telemetry::init(config.log_format, &config.log_level) {
        Ok(guard) => guard,
        Err(error) => {
            eprintln!("app-rust: cannot set up logging: {error}");
            return ExitCode::FAILURE;
        }
    };
    match run(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("app-rust: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(config: Config) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let application = Application::build(config).await.context("startup failed")?;
        let stop = StopRequests::os_signals().context("cannot listen for SIGTERM and SIGINT")?;
        application.run(stop).await.context("shutdown failed")?;
        Ok(())
    })
}
