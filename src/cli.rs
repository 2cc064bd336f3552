//! The command line: subcommands, every setting's flag and environment variable, and `--help`.
//!
//! The settings themselves are declared in `config::settings`.

use std::ffi::OsString;

use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

pub use crate::config::{CliSettings, SettingsArgs};

/// A durable, per-replica visit counter: a page with the time in Moscow and a visit count.
#[derive(Debug, Parser)]
#[command(
    name = "app-rust",
    version,
    about,
    long_about = "A durable, per-replica visit counter: a web page with the current time \
                  (Europe/Moscow by default) and this replica's visit count, kept in the file \
                  `visits` in the data directory.\n\n\
                  Without a subcommand, `serve` runs. Every setting has a flag, an environment \
                  variable and a camelCase key in the JSON config file; precedence is \
                  flag > environment > config file > default.",
    args_conflicts_with_subcommands = true,
    subcommand_precedence_over_arg = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    #[command(flatten)]
    pub settings: SettingsArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the service (the default when no subcommand is given).
    Serve(SettingsArgs),
    /// Resolve the configuration exactly as `serve` would, validate it and print it as JSON.
    /// Exits 0 when valid, 2 when invalid.
    CheckConfig(SettingsArgs),
    /// HTTP GET each URL until it answers 2xx or --wait-ms runs out; one line per URL.
    /// Exits 0 when every URL answered 2xx, 1 otherwise.
    Probe(ProbeArgs),
    /// Visit URL REQUESTS times, a new connection each (so a Service balances them), and say
    /// which pod answered how many. Exits 0 when every request got a 2xx, 1 otherwise.
    Load(LoadArgs),
    /// Write COUNT into the data directory's `visits` file as the service would (under the
    /// directory lock, atomically, fsynced): restoring a backup. Refuses while a service holds
    /// the directory. Exits 0 when restored, 1 when refused, 2 on bad input.
    Restore(RestoreArgs),
}

#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    /// Data directory holding the `visits` file.
    #[arg(long, env = "DATA_DIR", value_name = "DIR")]
    pub data_dir: std::path::PathBuf,

    /// The count to write: a decimal integer (what `cat visits` showed), e.g. 21.
    #[arg(value_name = "COUNT", value_parser = parse_count_arg)]
    pub count: u64,

    /// Allow a count lower than the one on disk (the visits counted since are lost).
    #[arg(long)]
    pub allow_lower: bool,
}

/// A count as the `visits` file holds it: digits, optionally the trailing newline of `cat`.
fn parse_count_arg(text: &str) -> Result<u64, String> {
    crate::store::parse_count(text.as_bytes()).ok_or_else(|| {
        format!(
            "{} is not a visit count: expected a decimal integer from 0 to {}",
            crate::validated::quote(text.as_bytes()),
            u64::MAX
        )
    })
}

/// Bounds of `load`: enough for a lab, not a load test.
pub const MAX_LOAD_REQUESTS: u32 = 100_000;

#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// URL to GET (http:// only), e.g. http://app-rust:8080/ (a Service's name).
    #[arg(value_name = "URL")]
    pub url: String,

    /// How many requests to send (1 to 100000).
    #[arg(long, default_value_t = 30, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_LOAD_REQUESTS)))]
    pub requests: u32,

    /// Requests in flight at once (1 to 64).
    #[arg(long, default_value_t = 1, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=64))]
    pub concurrency: u32,

    /// Time one request may take, in milliseconds.
    #[arg(long, default_value_t = 2000, value_name = "MS",
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub timeout_ms: u64,

    /// Time the whole run may take, in milliseconds; what is not done by then fails.
    #[arg(long, default_value_t = 60_000, value_name = "MS",
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub deadline_ms: u64,
}

#[derive(Debug, Clone, Args)]
pub struct ProbeArgs {
    /// URLs to GET (http:// only).
    #[arg(required = true, value_name = "URL")]
    pub urls: Vec<String>,

    /// Keep retrying each URL until it answers 2xx or this many milliseconds have passed
    /// (0 = one try).
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub wait_ms: u64,

    /// Timeout of one try in milliseconds.
    #[arg(long, default_value_t = 2000, value_name = "MS")]
    pub timeout_ms: u64,
}

/// What the process was asked to do.
#[derive(Debug)]
pub enum Invocation {
    Serve(CliSettings),
    CheckConfig(CliSettings),
    Probe(ProbeArgs),
    Load(LoadArgs),
    Restore(RestoreArgs),
}

/// Parses the process's arguments (and environment); exits with clap's message on a usage error.
pub fn parse() -> Invocation {
    match try_parse_from(std::env::args_os()) {
        Ok(invocation) => invocation,
        Err(error) => error.exit(),
    }
}

/// Parses the given arguments (the first is the program name) and the process environment.
pub fn try_parse_from<I, T>(args: I) -> Result<Invocation, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let matches = Cli::command().try_get_matches_from(args)?;
    let cli = Cli::from_arg_matches(&matches)?;
    Ok(match cli.command {
        None => Invocation::Serve(settings_from(cli.settings, &matches)),
        Some(Command::Serve(args)) => {
            Invocation::Serve(settings_from(args, subcommand_matches(&matches, "serve")))
        }
        Some(Command::CheckConfig(args)) => Invocation::CheckConfig(settings_from(
            args,
            subcommand_matches(&matches, "check-config"),
        )),
        Some(Command::Probe(args)) => Invocation::Probe(args),
        Some(Command::Load(args)) => Invocation::Load(args),
        Some(Command::Restore(args)) => Invocation::Restore(args),
    })
}

fn subcommand_matches<'a>(matches: &'a ArgMatches, name: &str) -> &'a ArgMatches {
    matches.subcommand_matches(name).unwrap_or(matches)
}

fn settings_from(args: SettingsArgs, matches: &ArgMatches) -> CliSettings {
    CliSettings::new(args, matches)
}
