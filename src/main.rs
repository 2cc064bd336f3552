use std::process::ExitCode;

use anyhow::Context;
use app_rust::cli::{self, CliSettings, Invocation};
use app_rust::{Application, Config, probe, shutdown_signal, telemetry};

fn main() -> ExitCode {
    match cli::parse() {
        Invocation::Serve(settings) => match serve(&settings) {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                tracing::error!(
                    error = format!("{error:#}"),
                    "app-rust stopped with an error"
                );
                eprintln!("app-rust: {error:#}");
                ExitCode::FAILURE
            }
        },
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

fn serve(settings: &CliSettings) -> anyhow::Result<()> {
    let config = Config::resolve(settings).context("invalid configuration")?;
    telemetry::init(config.log_format, &config.log_level).context("cannot set up logging")?;
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
