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
    })
}

fn subcommand_matches<'a>(matches: &'a ArgMatches, name: &str) -> &'a ArgMatches {
    matches.subcommand_matches(name).unwrap_or(matches)
}

fn settings_from(args: SettingsArgs, matches: &ArgMatches) -> CliSettings {
    CliSettings::new(args, matches)
}
