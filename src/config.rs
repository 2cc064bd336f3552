//! The effective configuration: merges flags/env (from `cli`), the JSON config file and the
//! defaults with precedence flag > env > file > default, then validates every setting.
//! Errors name the setting and where its value came from.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize, Serializer};

use crate::cli::CliSettings;

pub const DEFAULT_LISTEN: &str = "0.0.0.0:8080";
pub const DEFAULT_DATA_DIR: &str = "./data";
pub const DEFAULT_TIMEZONE: &str = "Europe/Moscow";
pub const DEFAULT_GREETING: &str = "Hello from app-rust";
pub const DEFAULT_LOG_LEVEL: &str = "info";
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 10_000;
pub const DEFAULT_HEADER_READ_TIMEOUT_MS: u64 = 5_000;
pub const DEFAULT_MAX_HEADER_BYTES: u64 = 16_384;
pub const DEFAULT_MAX_BODY_BYTES: u64 = 16_384;
pub const DEFAULT_SHUTDOWN_TIMEOUT_MS: u64 = 10_000;
pub const DEFAULT_ORDINAL_START: u32 = 0;
pub const DEFAULT_CLUSTER_DOMAIN: &str = "cluster.local";
pub const DEFAULT_PEER_TIMEOUT_MS: u64 = 300;
pub const DEFAULT_CLUSTER_DEADLINE_MS: u64 = 800;

/// hyper refuses a read buffer smaller than this (it would not fit a normal request head).
pub const MIN_MAX_HEADER_BYTES: u64 = 8_192;
const MAX_MAX_HEADER_BYTES: u64 = 1 << 20;
const MAX_MAX_BODY_BYTES: u64 = 64 << 20;
const MAX_DURATION_MS: u64 = 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

/// The validated configuration `serve` runs with; `check-config` prints it as JSON.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    pub config_file: Option<PathBuf>,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub pod_name: String,
    #[serde(serialize_with = "serialize_tz")]
    pub timezone: Tz,
    pub greeting: String,
    pub log_format: LogFormat,
    pub log_level: String,
    pub request_timeout_ms: u64,
    pub header_read_timeout_ms: u64,
    pub max_header_bytes: u64,
    pub max_body_bytes: u64,
    pub shutdown_timeout_ms: u64,
    pub peers: Vec<String>,
    pub peer_service: Option<String>,
    pub namespace: Option<String>,
    pub replicas: Option<u32>,
    pub ordinal_start: u32,
    pub cluster_domain: String,
    pub peer_timeout_ms: u64,
    pub cluster_deadline_ms: u64,
}

fn serialize_tz<S: Serializer>(tz: &Tz, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(tz.name())
}

impl Config {
    /// The documented defaults, with the data directory given (tests use a temp dir) and the
    /// listen address on 127.0.0.1, port 0.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Config {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.into(),
            ..Config::default()
        }
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_millis(self.header_read_timeout_ms)
    }
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_millis(self.shutdown_timeout_ms)
    }

    /// Resolves flags/env, the config file and the defaults, and validates the result.
    pub fn resolve(cli: &CliSettings) -> Result<Config, ConfigError> {
        let file = match &cli.args.config {
            Some(path) => Some((path.clone(), FileSettings::load(path)?)),
            None => None,
        };
        let r = Resolver {
            cli,
            file: file.as_ref(),
        };
        let a = &cli.args;
        let f = file
            .as_ref()
            .map(|(_, settings)| settings.clone())
            .unwrap_or_default();

        let listen = r.pick(&LISTEN, a.listen.clone(), f.listen, || {
            DEFAULT_LISTEN.into()
        });
        let listen = listen.parse_with(|s| {
            s.parse::<SocketAddr>()
                .map_err(|e| format!("expected an address like 0.0.0.0:8080 ({e})"))
        })?;

        let data_dir = r.pick(&DATA_DIR, a.data_dir.clone(), f.data_dir, || {
            DEFAULT_DATA_DIR.into()
        });
        data_dir.check(|d| !d.as_os_str().is_empty(), "must not be empty")?;

        let pod_name = match &a.pod_name {
            Some(name) => Picked {
                value: name.clone(),
                origin: r.cli_origin(&POD_NAME),
            },
            None => Picked {
                value: hostname(),
                origin: Origin::Default(&POD_NAME),
            },
        };
        pod_name.check(
            |n| is_valid_pod_name(n),
            "must be 1 to 253 visible ASCII characters",
        )?;

        let timezone = r.pick(&TIMEZONE, a.timezone.clone(), f.timezone, || {
            DEFAULT_TIMEZONE.into()
        });
        let timezone = timezone.parse_with(|s| {
            s.parse::<Tz>().map_err(|_| {
                "not an IANA time zone name from the tz database (e.g. Europe/Moscow, UTC)".into()
            })
        })?;

        let greeting = r.pick(&GREETING, a.greeting.clone(), f.greeting, || {
            DEFAULT_GREETING.into()
        });
        greeting.check(
            |g| !g.trim().is_empty() && g.chars().count() <= 200,
            "must be 1 to 200 characters",
        )?;

        let log_format = r.pick(&LOG_FORMAT, a.log_format.clone(), f.log_format, || {
            "text".into()
        });
        let log_format = log_format.parse_with(|s| match s.as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err("expected text or json".into()),
        })?;

        let log_level = r.pick(&LOG_LEVEL, a.log_level.clone(), f.log_level, || {
            DEFAULT_LOG_LEVEL.into()
        });
        log_level.check_with(|s| {
            tracing_subscriber::EnvFilter::builder()
                .parse(s)
                .map(|_| ())
                .map_err(|e| format!("not a tracing filter directive ({e})"))
        })?;

        let ms = |setting: &'static Setting, cli: Option<u64>, file: Option<u64>, default: u64| {
            let picked = r.pick(setting, cli, file, || default);
            picked.check(
                |v| (1..=MAX_DURATION_MS).contains(v),
                "must be between 1 and 3600000 milliseconds",
            )?;
            Ok::<u64, ConfigError>(picked.value)
        };
        let request_timeout_ms = ms(
            &REQUEST_TIMEOUT_MS,
            a.request_timeout_ms,
            f.request_timeout_ms,
            DEFAULT_REQUEST_TIMEOUT_MS,
        )?;
        let header_read_timeout_ms = ms(
            &HEADER_READ_TIMEOUT_MS,
            a.header_read_timeout_ms,
            f.header_read_timeout_ms,
            DEFAULT_HEADER_READ_TIMEOUT_MS,
        )?;
        let shutdown_timeout_ms = ms(
            &SHUTDOWN_TIMEOUT_MS,
            a.shutdown_timeout_ms,
            f.shutdown_timeout_ms,
            DEFAULT_SHUTDOWN_TIMEOUT_MS,
        )?;
        let peer_timeout_ms = ms(
            &PEER_TIMEOUT_MS,
            a.peer_timeout_ms,
            f.peer_timeout_ms,
            DEFAULT_PEER_TIMEOUT_MS,
        )?;
        let cluster_deadline_ms = ms(
            &CLUSTER_DEADLINE_MS,
            a.cluster_deadline_ms,
            f.cluster_deadline_ms,
            DEFAULT_CLUSTER_DEADLINE_MS,
        )?;

        let max_header_bytes = r.pick(
            &MAX_HEADER_BYTES,
            a.max_header_bytes,
            f.max_header_bytes,
            || DEFAULT_MAX_HEADER_BYTES,
        );
        max_header_bytes.check(
            |v| (MIN_MAX_HEADER_BYTES..=MAX_MAX_HEADER_BYTES).contains(v),
            "must be between 8192 and 1048576 bytes",
        )?;
        let max_body_bytes = r.pick(&MAX_BODY_BYTES, a.max_body_bytes, f.max_body_bytes, || {
            DEFAULT_MAX_BODY_BYTES
        });
        max_body_bytes.check(
            |v| *v <= MAX_MAX_BODY_BYTES,
            "must be at most 67108864 bytes",
        )?;

        let peers = r.pick(&PEERS, a.peers.clone(), f.peers, Vec::new);
        peers.check_with(|list| {
            for peer in list {
                validate_peer_url(peer)?;
            }
            Ok(())
        })?;

        let peer_service = r.pick_optional(&PEER_SERVICE, a.peer_service.clone(), f.peer_service);
        let namespace = r.pick_optional(&NAMESPACE, a.namespace.clone(), f.namespace);
        let replicas = r.pick_optional(&REPLICAS, a.replicas, f.replicas);
        let ordinal_start = r.pick(&ORDINAL_START, a.ordinal_start, f.ordinal_start, || {
            DEFAULT_ORDINAL_START
        });
        let cluster_domain = r.pick(
            &CLUSTER_DOMAIN,
            a.cluster_domain.clone(),
            f.cluster_domain,
            || DEFAULT_CLUSTER_DOMAIN.into(),
        );
        cluster_domain.check(|d| is_dns_name(d), "must be a DNS name like cluster.local")?;
        if let Some(service) = &peer_service {
            service.check(
                |s| is_dns_label(s),
                "must be a DNS label (lowercase letters, digits, '-')",
            )?;
            if !peers.value.is_empty() {
                return Err(ConfigError::Conflict {
                    message: format!(
                        "peers ({}) and peerService ({}) are both set; set only one way of finding peers",
                        peers.origin, service.origin
                    ),
                });
            }
            if namespace.is_none() {
                return Err(ConfigError::Missing {
                    setting: NAMESPACE.describe(),
                    because: format!("peerService is set ({})", service.origin),
                });
            }
            if replicas.is_none() {
                return Err(ConfigError::Missing {
                    setting: REPLICAS.describe(),
                    because: format!("peerService is set ({})", service.origin),
                });
            }
            pod_name.check_with(|name| {
                crate::cluster::split_ordinal(name).map(|_| ()).map_err(|_| {
                    "does not end in -<ordinal> like app-rust-0, so the peers cannot be derived \
                     from it (set POD_NAME from the pod's metadata.name, or list the peers with \
                     --peers / APP_PEERS instead)"
                        .into()
                })
            })?;
        }
        if let Some(namespace) = &namespace {
            namespace.check(
                |s| is_dns_label(s),
                "must be a DNS label (lowercase letters, digits, '-')",
            )?;
        }
        if let Some(replicas) = &replicas {
            replicas.check(|n| (1..=10_000).contains(n), "must be between 1 and 10000")?;
        }

        Ok(Config {
            config_file: cli.args.config.clone(),
            listen,
            data_dir: data_dir.value,
            pod_name: pod_name.value,
            timezone,
            greeting: greeting.value,
            log_format,
            log_level: log_level.value,
            request_timeout_ms,
            header_read_timeout_ms,
            max_header_bytes: max_header_bytes.value,
            max_body_bytes: max_body_bytes.value,
            shutdown_timeout_ms,
            peers: peers.value,
            peer_service: peer_service.map(|p| p.value),
            namespace: namespace.map(|p| p.value),
            replicas: replicas.map(|p| p.value),
            ordinal_start: ordinal_start.value,
            cluster_domain: cluster_domain.value,
            peer_timeout_ms,
            cluster_deadline_ms,
        })
    }
}

impl Default for Config {
    /// The documented defaults (pod name: the hostname).
    fn default() -> Config {
        Config {
            config_file: None,
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            data_dir: PathBuf::from(DEFAULT_DATA_DIR),
            pod_name: hostname(),
            timezone: chrono_tz::Europe::Moscow,
            greeting: DEFAULT_GREETING.into(),
            log_format: LogFormat::Text,
            log_level: DEFAULT_LOG_LEVEL.into(),
            request_timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS,
            header_read_timeout_ms: DEFAULT_HEADER_READ_TIMEOUT_MS,
            max_header_bytes: DEFAULT_MAX_HEADER_BYTES,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            shutdown_timeout_ms: DEFAULT_SHUTDOWN_TIMEOUT_MS,
            peers: Vec::new(),
            peer_service: None,
            namespace: None,
            replicas: None,
            ordinal_start: DEFAULT_ORDINAL_START,
            cluster_domain: DEFAULT_CLUSTER_DOMAIN.into(),
            peer_timeout_ms: DEFAULT_PEER_TIMEOUT_MS,
            cluster_deadline_ms: DEFAULT_CLUSTER_DEADLINE_MS,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source} (check --config / CONFIG_FILE)")]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the config file {path} is not valid: {source} (keys are camelCase, e.g. dataDir; unknown keys are an error)"
    )]
    ParseFile {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("invalid {setting} = {value} (from {origin}): {reason}")]
    Invalid {
        setting: String,
        value: String,
        reason: String,
        origin: String,
    },
    #[error("missing {setting}: required because {because}")]
    Missing { setting: String, because: String },
    #[error("conflicting settings: {message}")]
    Conflict { message: String },
}

/// The config file: every key optional, unknown keys rejected.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct FileSettings {
    pub listen: Option<String>,
    pub data_dir: Option<PathBuf>,
    pub timezone: Option<String>,
    pub greeting: Option<String>,
    pub log_format: Option<String>,
    pub log_level: Option<String>,
    pub request_timeout_ms: Option<u64>,
    pub header_read_timeout_ms: Option<u64>,
    pub max_header_bytes: Option<u64>,
    pub max_body_bytes: Option<u64>,
    pub shutdown_timeout_ms: Option<u64>,
    pub peers: Option<Vec<String>>,
    pub peer_service: Option<String>,
    pub namespace: Option<String>,
    pub replicas: Option<u32>,
    pub ordinal_start: Option<u32>,
    pub cluster_domain: Option<String>,
    pub peer_timeout_ms: Option<u64>,
    pub cluster_deadline_ms: Option<u64>,
}

impl FileSettings {
    pub fn load(path: &Path) -> Result<FileSettings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
            path: path.to_owned(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| ConfigError::ParseFile {
            path: path.to_owned(),
            source,
        })
    }
}

/// One setting's names in its three sources.
#[derive(Debug)]
pub struct Setting {
    /// The clap argument id (the field name in `SettingsArgs`).
    id: &'static str,
    flag: &'static str,
    env: &'static str,
    key: Option<&'static str>,
}

impl Setting {
    fn describe(&self) -> String {
        match self.key {
            Some(key) => format!(
                "{key} ({} / {} / config key \"{key}\")",
                self.flag, self.env
            ),
            None => format!("{} ({} / {})", self.id, self.flag, self.env),
        }
    }
}

macro_rules! settings {
    ($($name:ident = $id:literal, $flag:literal, $env:literal, $key:expr;)*) => {
        $(pub static $name: Setting = Setting { id: $id, flag: $flag, env: $env, key: $key };)*
    };
}

settings! {
    LISTEN = "listen", "--listen", "APP_LISTEN", Some("listen");
    DATA_DIR = "data_dir", "--data-dir", "DATA_DIR", Some("dataDir");
    POD_NAME = "pod_name", "--pod-name", "POD_NAME", None;
    TIMEZONE = "timezone", "--timezone", "APP_TIMEZONE", Some("timezone");
    GREETING = "greeting", "--greeting", "APP_GREETING", Some("greeting");
    LOG_FORMAT = "log_format", "--log-format", "APP_LOG_FORMAT", Some("logFormat");
    LOG_LEVEL = "log_level", "--log-level", "APP_LOG_LEVEL", Some("logLevel");
    REQUEST_TIMEOUT_MS = "request_timeout_ms", "--request-timeout-ms", "APP_REQUEST_TIMEOUT_MS", Some("requestTimeoutMs");
    HEADER_READ_TIMEOUT_MS = "header_read_timeout_ms", "--header-read-timeout-ms", "APP_HEADER_READ_TIMEOUT_MS", Some("headerReadTimeoutMs");
    MAX_HEADER_BYTES = "max_header_bytes", "--max-header-bytes", "APP_MAX_HEADER_BYTES", Some("maxHeaderBytes");
    MAX_BODY_BYTES = "max_body_bytes", "--max-body-bytes", "APP_MAX_BODY_BYTES", Some("maxBodyBytes");
    SHUTDOWN_TIMEOUT_MS = "shutdown_timeout_ms", "--shutdown-timeout-ms", "APP_SHUTDOWN_TIMEOUT_MS", Some("shutdownTimeoutMs");
    PEERS = "peers", "--peers", "APP_PEERS", Some("peers");
    PEER_SERVICE = "peer_service", "--peer-service", "APP_PEER_SERVICE", Some("peerService");
    NAMESPACE = "namespace", "--namespace", "POD_NAMESPACE", Some("namespace");
    REPLICAS = "replicas", "--replicas", "APP_REPLICAS", Some("replicas");
    ORDINAL_START = "ordinal_start", "--ordinal-start", "APP_ORDINAL_START", Some("ordinalStart");
    CLUSTER_DOMAIN = "cluster_domain", "--cluster-domain", "APP_CLUSTER_DOMAIN", Some("clusterDomain");
    PEER_TIMEOUT_MS = "peer_timeout_ms", "--peer-timeout-ms", "APP_PEER_TIMEOUT_MS", Some("peerTimeoutMs");
    CLUSTER_DEADLINE_MS = "cluster_deadline_ms", "--cluster-deadline-ms", "APP_CLUSTER_DEADLINE_MS", Some("clusterDeadlineMs");
}

/// Where a value came from, for error messages.
#[derive(Debug, Clone)]
enum Origin {
    Flag(&'static Setting),
    Env(&'static Setting),
    File(PathBuf, &'static Setting),
    Default(&'static Setting),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Flag(s) => write!(f, "flag {}", s.flag),
            Origin::Env(s) => write!(f, "environment variable {}", s.env),
            Origin::File(path, s) => write!(
                f,
                "config file {} key \"{}\"",
                path.display(),
                s.key.unwrap_or(s.id)
            ),
            Origin::Default(_) => write!(f, "the default"),
        }
    }
}

impl Origin {
    fn setting(&self) -> &'static Setting {
        match self {
            Origin::Flag(s) | Origin::Env(s) | Origin::File(_, s) | Origin::Default(s) => s,
        }
    }
}

struct Picked<T> {
    value: T,
    origin: Origin,
}

impl<T: fmt::Debug> Picked<T> {
    fn invalid(&self, reason: impl Into<String>) -> ConfigError {
        let setting = self.origin.setting();
        ConfigError::Invalid {
            setting: setting.describe(),
            value: format!("{:?}", self.value),
            reason: reason.into(),
            origin: self.origin.to_string(),
        }
    }

    fn check(&self, valid: impl FnOnce(&T) -> bool, reason: &str) -> Result<(), ConfigError> {
        if valid(&self.value) {
            Ok(())
        } else {
            Err(self.invalid(reason))
        }
    }

    fn check_with(&self, valid: impl FnOnce(&T) -> Result<(), String>) -> Result<(), ConfigError> {
        valid(&self.value).map_err(|reason| self.invalid(reason))
    }

    fn parse_with<U>(&self, parse: impl FnOnce(&T) -> Result<U, String>) -> Result<U, ConfigError> {
        parse(&self.value).map_err(|reason| self.invalid(reason))
    }
}

struct Resolver<'a> {
    cli: &'a CliSettings,
    file: Option<&'a (PathBuf, FileSettings)>,
}

impl Resolver<'_> {
    fn cli_origin(&self, setting: &'static Setting) -> Origin {
        if self.cli.from_env.contains(setting.id) {
            Origin::Env(setting)
        } else {
            Origin::Flag(setting)
        }
    }

    fn pick_optional<T>(
        &self,
        setting: &'static Setting,
        cli: Option<T>,
        file: Option<T>,
    ) -> Option<Picked<T>> {
        if let Some(value) = cli {
            return Some(Picked {
                value,
                origin: self.cli_origin(setting),
            });
        }
        match (file, self.file) {
            (Some(value), Some((path, _))) => Some(Picked {
                value,
                origin: Origin::File(path.clone(), setting),
            }),
            _ => None,
        }
    }

    fn pick<T>(
        &self,
        setting: &'static Setting,
        cli: Option<T>,
        file: Option<T>,
        default: impl FnOnce() -> T,
    ) -> Picked<T> {
        self.pick_optional(setting, cli, file)
            .unwrap_or_else(|| Picked {
                value: default(),
                origin: Origin::Default(setting),
            })
    }
}

fn validate_peer_url(peer: &str) -> Result<(), String> {
    let url = url::Url::parse(peer).map_err(|e| format!("has {peer:?}, not a URL ({e})"))?;
    if url.scheme() != "http" {
        return Err(format!("has {peer:?}: peers are reached over http://"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("has {peer:?}: a peer URL needs a host"));
    }
    Ok(())
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn is_dns_name(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_dns_label)
}

fn is_valid_pod_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 253 && name.bytes().all(|b| b.is_ascii_graphic())
}

/// This machine's hostname (the pod name in Kubernetes), or "unknown" when it cannot be read.
pub fn hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .map(|s| s.trim().to_owned())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{Invocation, try_parse_from};

    fn resolve(args: &[&str]) -> Result<Config, ConfigError> {
        let mut full = vec!["app-rust", "check-config"];
        full.extend_from_slice(args);
        match try_parse_from(full).expect("arguments parse") {
            Invocation::CheckConfig(cli) => Config::resolve(&cli),
            other => panic!("unexpected invocation {other:?}"),
        }
    }

    #[test]
    fn rejects_bad_timezone_naming_the_setting_and_source() {
        let err = resolve(&["--timezone", "Mars/Olympus"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("timezone"), "{err}");
        assert!(err.contains("flag --timezone"), "{err}");
    }

    #[test]
    fn rejects_small_max_header_bytes() {
        let err = resolve(&["--max-header-bytes", "100"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("maxHeaderBytes"), "{err}");
    }

    #[test]
    fn rejects_bad_peer_urls() {
        let err = resolve(&["--peers", "http://a:8080,ftp://b"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("peers") && err.contains("ftp://b"), "{err}");
    }

    #[test]
    fn peer_service_needs_namespace_and_replicas() {
        let err = resolve(&[
            "--peer-service",
            "app-rust-headless",
            "--pod-name",
            "app-rust-0",
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("namespace"), "{err}");
    }

    #[test]
    fn peer_service_needs_a_pod_name_with_an_ordinal() {
        let derived = [
            "--peer-service",
            "app-rust-headless",
            "--namespace",
            "default",
            "--replicas",
            "3",
        ];
        let mut args = derived.to_vec();
        args.extend(["--pod-name", "laptop"]);
        let err = resolve(&args).unwrap_err().to_string();
        assert!(
            err.contains("--pod-name") && err.contains("\"laptop\"") && err.contains("-<ordinal>"),
            "{err}"
        );
        let mut args = derived.to_vec();
        args.extend(["--pod-name", "my-app-rust-2"]);
        let config = resolve(&args).expect("a StatefulSet pod name");
        assert_eq!(config.replicas, Some(3));
    }

    #[test]
    fn splits_peers_on_commas() {
        let config = resolve(&["--peers", "http://a:8080,http://b:8080"]).expect("valid");
        assert_eq!(config.peers, vec!["http://a:8080", "http://b:8080"]);
    }
}
