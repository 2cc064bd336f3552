use std::process::ExitCode;

use anyhow::Context;
use app_rust::cli::{self, CliSettings, Invocation};
use app_rust::{Application, Config, probe, shutdown_signal, telemetry};

fn main() -> ExitCode {
    match cli::parse() {
        Invocation::Serve(settings) => serve(&settings),
        Invocation::CheckConfig(settings) => check_config(&settings),
        Invocation::Probe(args) => {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    eprintln!("app-rust probe: cannot start the async runtime: {error}");
                    return ExitCode::FAILURE;
                }
            };
            let outcomes = runtime.block_on(probe::run(&args));
            for outcome in &outcomes {
                println!("{}", outcome.line());
            }
            if outcomes.iter().all(probe::ProbeOutcome::is_success) {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
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
    if let Err(error) = telemetry::init(config.log_format, &config.log_level) {
        eprintln!("app-rust: cannot set up logging: {error}");
        return ExitCode::FAILURE;
    }
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
        application
            .run_until_stopped(shutdown_signal())
            .await
            .context("shutdown failed")?;
        Ok(())
    })
}
