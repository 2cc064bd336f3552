//! The command line: subcommands, every setting's flag and environment variable, and `--help`.
//!
//! Settings are `Option`s without clap defaults so that `config` can tell "not given" apart from
//! "given" and apply the precedence flag > env > config file > default itself.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

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

/// Every setting of `serve` and `check-config`.
#[derive(Debug, Clone, Default, Args)]
pub struct SettingsArgs {
    /// JSON config file (camelCase keys; unknown keys are an error). A missing file named
    /// here is an error. [default: none]
    #[arg(long, env = "CONFIG_FILE", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Listen address. [file: listen] [default: 0.0.0.0:8080]
    #[arg(long, env = "APP_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,

    /// Data directory holding the `visits` file. [file: dataDir] [default: ./data]
    #[arg(long, env = "DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Replica name shown on the page and in the X-Served-By header. [default: the hostname]
    #[arg(long, env = "POD_NAME", value_name = "NAME")]
    pub pod_name: Option<String>,

    /// IANA time zone of the page clock (bundled tz database). [file: timezone]
    /// [default: Europe/Moscow]
    #[arg(long, env = "APP_TIMEZONE", value_name = "ZONE")]
    pub timezone: Option<String>,

    /// Heading of the page. [file: greeting] [default: "Hello from app-rust"]
    #[arg(long, env = "APP_GREETING", value_name = "TEXT")]
    pub greeting: Option<String>,

    /// Log format: text or json. [file: logFormat] [default: text]
    #[arg(long, env = "APP_LOG_FORMAT", value_name = "FORMAT")]
    pub log_format: Option<String>,

    /// Tracing filter directive, e.g. info or app_rust=debug. [file: logLevel] [default: info]
    #[arg(long, env = "APP_LOG_LEVEL", value_name = "FILTER")]
    pub log_level: Option<String>,

    /// Total time a request may take before it is answered 503. [file: requestTimeoutMs]
    /// [default: 10000]
    #[arg(long, env = "APP_REQUEST_TIMEOUT_MS", value_name = "MS")]
    pub request_timeout_ms: Option<u64>,

    /// Time a client has to send the request head (slowloris bound).
    /// [file: headerReadTimeoutMs] [default: 5000]
    #[arg(long, env = "APP_HEADER_READ_TIMEOUT_MS", value_name = "MS")]
    pub header_read_timeout_ms: Option<u64>,

    /// Bound on the request head size; larger heads get 431. At least 8192.
    /// [file: maxHeaderBytes] [default: 16384]
    #[arg(long, env = "APP_MAX_HEADER_BYTES", value_name = "BYTES")]
    pub max_header_bytes: Option<u64>,

    /// Bound on the request body size; larger bodies get 413. [file: maxBodyBytes]
    /// [default: 16384]
    #[arg(long, env = "APP_MAX_BODY_BYTES", value_name = "BYTES")]
    pub max_body_bytes: Option<u64>,

    /// Bound on draining in-flight requests at shutdown. [file: shutdownTimeoutMs]
    /// [default: 10000]
    #[arg(long, env = "APP_SHUTDOWN_TIMEOUT_MS", value_name = "MS")]
    pub shutdown_timeout_ms: Option<u64>,

    /// Explicit base URLs of every replica, comma-separated. [file: peers (array)]
    /// [default: none]
    #[arg(long, env = "APP_PEERS", value_name = "URLS", value_delimiter = ',')]
    pub peers: Option<Vec<String>>,

    /// Headless Service name; with --namespace and --replicas, peers are derived in
    /// Kubernetes. [file: peerService] [default: none]
    #[arg(long, env = "APP_PEER_SERVICE", value_name = "NAME")]
    pub peer_service: Option<String>,

    /// Namespace of the pods. [file: namespace] [default: none]
    #[arg(long, env = "POD_NAMESPACE", value_name = "NAME")]
    pub namespace: Option<String>,

    /// Replica count of the StatefulSet. [file: replicas] [default: none]
    #[arg(long, env = "APP_REPLICAS", value_name = "N")]
    pub replicas: Option<u32>,

    /// First ordinal of the StatefulSet (spec.ordinals.start). [file: ordinalStart]
    /// [default: 0]
    #[arg(long, env = "APP_ORDINAL_START", value_name = "N")]
    pub ordinal_start: Option<u32>,

    /// Cluster DNS domain. [file: clusterDomain] [default: cluster.local]
    #[arg(long, env = "APP_CLUSTER_DOMAIN", value_name = "DOMAIN")]
    pub cluster_domain: Option<String>,

    /// Timeout of one peer query. [file: peerTimeoutMs] [default: 300]
    #[arg(long, env = "APP_PEER_TIMEOUT_MS", value_name = "MS")]
    pub peer_timeout_ms: Option<u64>,

    /// Deadline of a whole cluster answer. [file: clusterDeadlineMs] [default: 800]
    #[arg(long, env = "APP_CLUSTER_DEADLINE_MS", value_name = "MS")]
    pub cluster_deadline_ms: Option<u64>,
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

/// Settings given on the command line or in the environment, and which of them came from the
/// environment (for error messages that name the source).
#[derive(Debug, Clone, Default)]
pub struct CliSettings {
    pub args: SettingsArgs,
    pub from_env: BTreeSet<String>,
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
    let from_env = matches
        .ids()
        .filter(|id| matches.value_source(id.as_str()) == Some(ValueSource::EnvVariable))
        .map(|id| id.as_str().to_owned())
        .collect();
    CliSettings { args, from_env }
}
