//! The effective configuration: every setting from `settings` (flag > environment > config
//! file > default), parsed once into its type and validated. Errors name the setting and
//! where its value came from.

mod settings;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use chrono_tz::Tz;
use serde::{Serialize, Serializer};

use crate::validated::{DnsLabel, DnsName, PeerUrl, PodName};
pub use settings::{CliSettings, FileSettings, LoadedFile, SETTINGS, Setting, SettingsArgs};
use settings::{Given, Picked};

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

/// How this replica finds the others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PeerDiscovery {
    /// No peers: the cluster view is this replica alone.
    Alone,
    /// Explicit base URLs (local runs and tests).
    Listed(Vec<PeerUrl>),
    /// The live members of the StatefulSet: the addresses the headless Service's name
    /// `<service>.<namespace>.svc.<cluster domain>` resolves to at the time of asking.
    HeadlessService {
        service: DnsLabel,
        namespace: DnsLabel,
    },
}

/// The validated configuration `serve` runs with; `check-config` prints it as JSON.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Config {
    pub config_file: Option<PathBuf>,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub pod_name: PodName,
    #[serde(serialize_with = "serialize_tz")]
    pub timezone: Tz,
    pub greeting: String,
    pub log_format: LogFormat,
    pub log_level: String,
    #[serde(rename = "requestTimeoutMs", serialize_with = "serialize_ms")]
    pub request_timeout: Duration,
    #[serde(rename = "headerReadTimeoutMs", serialize_with = "serialize_ms")]
    pub header_read_timeout: Duration,
    pub max_header_bytes: usize,
    pub max_body_bytes: usize,
    #[serde(rename = "shutdownDelayMs", serialize_with = "serialize_ms")]
    pub shutdown_delay: Duration,
    #[serde(rename = "shutdownTimeoutMs", serialize_with = "serialize_ms")]
    pub shutdown_timeout: Duration,
    pub peers: Vec<PeerUrl>,
    pub peer_service: Option<DnsLabel>,
    pub namespace: Option<DnsLabel>,
    pub pod_ip: Option<IpAddr>,
    pub cluster_domain: DnsName,
    #[serde(rename = "peerTimeoutMs", serialize_with = "serialize_ms")]
    pub peer_timeout: Duration,
    #[serde(rename = "clusterDeadlineMs", serialize_with = "serialize_ms")]
    pub cluster_deadline: Duration,
}

fn serialize_tz<S: Serializer>(tz: &Tz, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(tz.name())
}

fn serialize_ms<S: Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_u128(duration.as_millis())
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {cause} (check --config / CONFIG_FILE)")]
    ReadFile {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error(
        "the config file {path} is not valid: {cause} (keys are camelCase, e.g. dataDir; unknown keys are an error)"
    )]
    ParseFile {
        path: PathBuf,
        cause: serde_json::Error,
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
    #[error("conflicting settings: {0}")]
    Conflict(String),
}

impl Config {
    /// The documented defaults with the data directory given, pod name `app-rust-0`, listening
    /// on 127.0.0.1 port 0: what in-process tests start from.
    pub fn for_data_dir(data_dir: impl Into<PathBuf>) -> Config {
        let args = SettingsArgs {
            data_dir: Some(data_dir.into()),
            listen: Some("127.0.0.1:0".into()),
            pod_name: Some("app-rust-0".into()),
            ..SettingsArgs::default()
        };
        let cli = CliSettings {
            args,
            ..CliSettings::default()
        };
        match Config::resolve(&cli) {
            Ok(config) => config,
            Err(error) => panic!("the defaults with data dir are invalid: {error}"),
        }
    }

    /// Resolves flags/env, the config file and the defaults, and validates the result.
    pub fn resolve(cli: &CliSettings) -> Result<Config, ConfigError> {
        let file = cli
            .args
            .config
            .as_deref()
            .map(LoadedFile::load)
            .transpose()?;
        let given = Given::pick(cli, file.as_ref())?;
        let pod_name = match &given.pod_name {
            Some(name) => name.parse(|n| PodName::parse(n))?,
            None => {
                let hostname = hostname();
                PodName::parse(&hostname).map_err(|reason| ConfigError::Invalid {
                    setting: SETTINGS.pod_name.describe(),
                    value: format!("{hostname:?}"),
                    reason,
                    origin: "the hostname (the default)".to_owned(),
                })?
            }
        };
        let config = Config {
            config_file: cli.args.config.clone(),
            listen: given.listen.parse(|s| {
                s.parse()
                    .map_err(|e| format!("expected an address like 0.0.0.0:8080 ({e})"))
            })?,
            data_dir: given.data_dir.parse(|d| match d.as_os_str().is_empty() {
                true => Err("must not be empty".to_owned()),
                false => Ok(d.clone()),
            })?,
            pod_name,
            timezone: given.timezone.parse(|s| {
                s.parse::<Tz>().map_err(|_| {
                    "not an IANA time zone name from the tz database (e.g. Europe/Moscow, UTC)"
                        .to_owned()
                })
            })?,
            greeting: given.greeting.parse(|g| {
                match !g.trim().is_empty() && g.chars().count() <= 200 {
                    true => Ok(g.clone()),
                    false => Err("must be 1 to 200 characters".to_owned()),
                }
            })?,
            log_format: given.log_format.parse(|s| match s.as_str() {
                "text" => Ok(LogFormat::Text),
                "json" => Ok(LogFormat::Json),
                _ => Err("expected text or json".to_owned()),
            })?,
            log_level: given.log_level.parse(|s| {
                tracing_subscriber::EnvFilter::builder()
                    .parse(s)
                    .map(|_| s.clone())
                    .map_err(|e| format!("not a tracing filter directive ({e})"))
            })?,
            request_timeout: given.request_timeout_ms.parse(millis)?,
            header_read_timeout: given.header_read_timeout_ms.parse(millis)?,
            max_header_bytes: given
                .max_header_bytes
                .parse(|v| in_range(*v, MIN_MAX_HEADER_BYTES, MAX_MAX_HEADER_BYTES, "bytes"))?,
            max_body_bytes: given
                .max_body_bytes
                .parse(|v| in_range(*v, 0, MAX_MAX_BODY_BYTES, "bytes"))?,
            shutdown_delay: given.shutdown_delay_ms.parse(millis_or_zero)?,
            shutdown_timeout: given.shutdown_timeout_ms.parse(millis)?,
            peers: parse_optional(&given.peers, |urls| {
                urls.iter().map(|url| PeerUrl::parse(url)).collect()
            })?
            .unwrap_or_default(),
            peer_service: parse_optional(&given.peer_service, |s| DnsLabel::parse(s))?,
            namespace: parse_optional(&given.namespace, |s| DnsLabel::parse(s))?,
            pod_ip: parse_optional(&given.pod_ip, |ip| {
                ip.parse()
                    .map_err(|e| format!("expected an IP address like 10.244.0.7 ({e})"))
            })?,
            cluster_domain: given.cluster_domain.parse(|d| DnsName::parse(d))?,
            peer_timeout: given.peer_timeout_ms.parse(millis)?,
            cluster_deadline: given.cluster_deadline_ms.parse(millis)?,
        };
        config.peer_discovery()?;
        Ok(config)
    }

    /// How the peers are found. Errors when peers are both listed and looked up, or when the
    /// lookup lacks what it needs: the one place these rules are written.
    pub fn peer_discovery(&self) -> Result<PeerDiscovery, ConfigError> {
        let Some(service) = &self.peer_service else {
            return Ok(match self.peers.is_empty() {
                true => PeerDiscovery::Alone,
                false => PeerDiscovery::Listed(self.peers.clone()),
            });
        };
        let because = || "peerService is set (--peer-service / APP_PEER_SERVICE)".to_owned();
        if !self.peers.is_empty() {
            return Err(ConfigError::Conflict(
                "peers (--peers / APP_PEERS) and peerService (--peer-service / APP_PEER_SERVICE) \
                 are both set; set only one way of finding peers"
                    .to_owned(),
            ));
        }
        let namespace = self.namespace.clone().ok_or_else(|| ConfigError::Missing {
            setting: SETTINGS.namespace.describe(),
            because: because(),
        })?;
        Ok(PeerDiscovery::HeadlessService {
            service: service.clone(),
            namespace,
        })
    }
}

fn parse_optional<T: std::fmt::Debug, U>(
    picked: &Option<Picked<T>>,
    parse: impl FnOnce(&T) -> Result<U, String>,
) -> Result<Option<U>, ConfigError> {
    picked.as_ref().map(|p| p.parse(parse)).transpose()
}

fn in_range(value: u64, min: u64, max: u64, unit: &str) -> Result<usize, String> {
    match (min..=max).contains(&value) {
        true => usize::try_from(value).map_err(|_| format!("must be at most {max} {unit}")),
        false if min == 0 => Err(format!("must be at most {max} {unit}")),
        false => Err(format!("must be between {min} and {max} {unit}")),
    }
}

fn millis(ms: &u64) -> Result<Duration, String> {
    in_range(*ms, 1, MAX_DURATION_MS, "milliseconds").map(|_| Duration::from_millis(*ms))
}

/// A duration where 0 means "none" (the shutdown delay).
fn millis_or_zero(ms: &u64) -> Result<Duration, String> {
    in_range(*ms, 0, MAX_DURATION_MS, "milliseconds").map(|_| Duration::from_millis(*ms))
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
    fn every_default_is_valid_and_is_what_check_config_prints() {
        let config = resolve(&["--pod-name", "p-0"]).expect("the defaults are valid");
        let printed = serde_json::to_value(&config).expect("config serializes");
        for (key, default) in settings::DEFAULTS {
            let shown = match &printed[*key] {
                serde_json::Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            assert_eq!(
                shown, *default,
                "{key}: the table's default is not the effective one"
            );
        }
        assert_eq!(config.request_timeout, Duration::from_millis(10_000));
        assert_eq!(config.listen, "0.0.0.0:8080".parse().expect("address"));
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
    fn peer_service_needs_a_namespace() {
        let err = resolve(&["--peer-service", "app-rust-headless"])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("namespace") && err.contains("peerService"),
            "{err}"
        );
        let config = resolve(&[
            "--peer-service",
            "app-rust-headless",
            "--namespace",
            "shop",
            "--pod-ip",
            "10.244.0.7",
        ])
        .expect("a headless Service");
        assert!(matches!(
            config.peer_discovery(),
            Ok(PeerDiscovery::HeadlessService { service, namespace })
                if service.as_str() == "app-rust-headless" && namespace.as_str() == "shop"
        ));
        assert_eq!(config.pod_ip, Some("10.244.0.7".parse().expect("ip")));
        let err = resolve(&["--pod-ip", "ten"]).unwrap_err().to_string();
        assert!(err.contains("POD_IP") && err.contains("\"ten\""), "{err}");
    }

    #[test]
    fn peers_are_either_listed_or_looked_up() {
        let err = resolve(&[
            "--peer-service",
            "app-rust-headless",
            "--namespace",
            "shop",
            "--peers",
            "http://a:8080",
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("both set"), "{err}");
    }

    #[test]
    fn splits_peers_on_commas() {
        let config = resolve(&["--peers", "http://a:8080,http://b:8080"]).expect("valid");
        let peers: Vec<&str> = config.peers.iter().map(PeerUrl::as_str).collect();
        assert_eq!(peers, vec!["http://a:8080", "http://b:8080"]);
    }
}
