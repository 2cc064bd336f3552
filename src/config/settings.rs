//! Every setting of `serve` and `check-config`, declared once: its flag, environment variable,
//! config-file key, default and help text all come from one line of the `settings!` table
//! below. From that table come the clap arguments (`SettingsArgs`), the config file's shape
//! (`FileSettings`), and `Given::pick`, which applies the precedence
//! flag > environment > config file > default and remembers where each value came from.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use clap::ArgMatches;
use clap::parser::ValueSource;
use serde::Deserialize;

use super::ConfigError;

/// One setting's names in its sources.
#[derive(Debug)]
pub struct Setting {
    /// The clap argument id (the field name).
    pub id: &'static str,
    pub flag: &'static str,
    pub env: &'static str,
    /// The config-file key; `None` for settings that only come from flags or the environment.
    pub key: Option<&'static str>,
}

impl Setting {
    pub fn describe(&self) -> String {
        match self.key {
            Some(key) => format!(
                "{key} ({} / {} / config key \"{key}\")",
                self.flag, self.env
            ),
            None => format!("{} ({} / {})", self.id, self.flag, self.env),
        }
    }
}

/// Where a value came from, for error messages.
#[derive(Debug, Clone)]
pub enum Origin {
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

/// A value and where it came from.
#[derive(Debug, Clone)]
pub struct Picked<T> {
    pub value: T,
    pub origin: Origin,
}

impl<T: fmt::Debug> Picked<T> {
    pub fn invalid(&self, reason: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            setting: self.origin.setting().describe(),
            value: format!("{:?}", self.value),
            reason: reason.into(),
            origin: self.origin.to_string(),
        }
    }

    /// The value turned into its type by `parse`, or an error naming the setting and origin.
    pub fn parse<U>(&self, parse: impl FnOnce(&T) -> Result<U, String>) -> Result<U, ConfigError> {
        parse(&self.value).map_err(|reason| self.invalid(reason))
    }
}

/// Settings given on the command line or in the environment, and which of them came from the
/// environment (for error messages that name the source).
#[derive(Debug, Clone, Default)]
pub struct CliSettings {
    pub args: SettingsArgs,
    pub from_env: BTreeSet<String>,
}

impl CliSettings {
    /// The settings clap parsed into `args`, with the sources `matches` records.
    pub fn new(args: SettingsArgs, matches: &ArgMatches) -> CliSettings {
        let from_env = matches
            .ids()
            .filter(|id| matches.value_source(id.as_str()) == Some(ValueSource::EnvVariable))
            .map(|id| id.as_str().to_owned())
            .collect();
        CliSettings { args, from_env }
    }

    fn origin(&self, setting: &'static Setting) -> Origin {
        if self.from_env.contains(setting.id) {
            Origin::Env(setting)
        } else {
            Origin::Flag(setting)
        }
    }

    fn pick<T>(
        &self,
        setting: &'static Setting,
        given: Option<T>,
        file: Option<(&Path, Option<T>)>,
    ) -> Option<Picked<T>> {
        if let Some(value) = given {
            return Some(Picked {
                value,
                origin: self.origin(setting),
            });
        }
        match file {
            Some((path, Some(value))) => Some(Picked {
                value,
                origin: Origin::File(path.to_owned(), setting),
            }),
            _ => None,
        }
    }
}

/// The config file as read: its path and its settings.
#[derive(Debug, Clone)]
pub struct LoadedFile {
    pub path: PathBuf,
    pub settings: FileSettings,
}

impl LoadedFile {
    pub fn load(path: &Path) -> Result<LoadedFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::ReadFile {
            path: path.to_owned(),
            cause,
        })?;
        let settings = serde_json::from_str(&text).map_err(|cause| ConfigError::ParseFile {
            path: path.to_owned(),
            cause,
        })?;
        Ok(LoadedFile {
            path: path.to_owned(),
            settings,
        })
    }
}

fn default_of<T: FromStr>(setting: &'static Setting, text: &str) -> Result<Picked<T>, ConfigError> {
    match text.parse() {
        Ok(value) => Ok(Picked {
            value,
            origin: Origin::Default(setting),
        }),
        // Only a typo in the table below gets here; a unit test parses every default.
        Err(_) => Err(ConfigError::Invalid {
            setting: setting.describe(),
            value: text.to_owned(),
            reason: "the built-in default does not parse".to_owned(),
            origin: "the default".to_owned(),
        }),
    }
}

macro_rules! settings {
    (
        defaulted {
            $( $(#[doc = $doc:literal])+
               $field:ident: $raw:ty = $default:literal,
               flag $long:literal, env $env:literal, key $key:literal, value $value_name:literal; )*
        }
        optional {
            $( $(#[doc = $odoc:literal])+
               $ofield:ident: $oraw:ty,
               flag $olong:literal, env $oenv:literal, key $okey:literal, value $ovalue_name:literal
               $(, delimiter $delimiter:literal)?; )*
        }
    ) => {
        /// Every setting of `serve` and `check-config` as given by flags or the environment
        /// (`None`: not given; the config file or the default decides).
        #[derive(Debug, Clone, Default, clap::Args)]
        pub struct SettingsArgs {
            /// JSON config file (camelCase keys; unknown keys are an error). A missing file
            /// named here is an error. [default: none]
            #[arg(long, env = "CONFIG_FILE", value_name = "FILE")]
            pub config: Option<PathBuf>,

            /// Replica name shown on the page and in the X-Served-By header.
            /// [default: the hostname]
            #[arg(long, env = "POD_NAME", value_name = "NAME")]
            pub pod_name: Option<String>,

            $(
                #[arg(long = $long, env = $env, value_name = $value_name,
                      help = concat!($($doc, )+ " [file: ", $key, "] [default: ", $default, "]"))]
                pub $field: Option<$raw>,
            )*
            $(
                #[arg(long = $olong, env = $oenv, value_name = $ovalue_name,
                      help = concat!($($odoc, )+ " [file: ", $okey, "] [default: none]")
                      $(, value_delimiter = $delimiter)?)]
                pub $ofield: Option<$oraw>,
            )*
        }

        /// The config file: every key optional, unknown keys rejected.
        #[derive(Debug, Clone, Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct FileSettings {
            $( #[serde(rename = $key)] pub $field: Option<$raw>, )*
            $( #[serde(rename = $okey)] pub $ofield: Option<$oraw>, )*
        }

        /// The names of every setting, for messages.
        #[derive(Debug)]
        pub struct Settings {
            pub pod_name: Setting,
            $( pub $field: Setting, )*
            $( pub $ofield: Setting, )*
        }

        pub static SETTINGS: Settings = Settings {
            pod_name: Setting { id: "pod_name", flag: "--pod-name", env: "POD_NAME", key: None },
            $( $field: Setting {
                id: stringify!($field), flag: concat!("--", $long), env: $env, key: Some($key),
            }, )*
            $( $ofield: Setting {
                id: stringify!($ofield), flag: concat!("--", $olong), env: $oenv, key: Some($okey),
            }, )*
        };

        /// Every setting's value after precedence, with its origin. `pod_name` is `None` when
        /// not given (the hostname is the default).
        #[derive(Debug)]
        pub struct Given {
            pub pod_name: Option<Picked<String>>,
            $( pub $field: Picked<$raw>, )*
            $( pub $ofield: Option<Picked<$oraw>>, )*
        }

        impl Given {
            /// Applies flag > environment > config file > default to every setting.
            pub fn pick(cli: &CliSettings, file: Option<&LoadedFile>) -> Result<Given, ConfigError> {
                Ok(Given {
                    pod_name: cli.pick(&SETTINGS.pod_name, cli.args.pod_name.clone(), None),
                    $( $field: match cli.pick(
                        &SETTINGS.$field,
                        cli.args.$field.clone(),
                        file.map(|f| (f.path.as_path(), f.settings.$field.clone())),
                    ) {
                        Some(picked) => picked,
                        None => default_of(&SETTINGS.$field, $default)?,
                    }, )*
                    $( $ofield: cli.pick(
                        &SETTINGS.$ofield,
                        cli.args.$ofield.clone(),
                        file.map(|f| (f.path.as_path(), f.settings.$ofield.clone())),
                    ), )*
                })
            }
        }

        #[cfg(test)]
        pub const DEFAULTS: &[(&str, &str)] = &[$( ($key, $default), )*];
    };
}

settings! {
    defaulted {
        /// Listen address.
        listen: String = "0.0.0.0:8080",
            flag "listen", env "APP_LISTEN", key "listen", value "ADDR";
        /// Data directory holding the `visits` file.
        data_dir: PathBuf = "./data",
            flag "data-dir", env "DATA_DIR", key "dataDir", value "DIR";
        /// IANA time zone of the page clock (bundled tz database).
        timezone: String = "Europe/Moscow",
            flag "timezone", env "APP_TIMEZONE", key "timezone", value "ZONE";
        /// Heading of the page.
        greeting: String = "Hello from app-rust",
            flag "greeting", env "APP_GREETING", key "greeting", value "TEXT";
        /// Log format: text or json.
        log_format: String = "text",
            flag "log-format", env "APP_LOG_FORMAT", key "logFormat", value "FORMAT";
        /// Tracing filter directive, e.g. info or app_rust=debug.
        log_level: String = "info",
            flag "log-level", env "APP_LOG_LEVEL", key "logLevel", value "FILTER";
        /// Total time a request may take before it is answered 503.
        request_timeout_ms: u64 = "10000",
            flag "request-timeout-ms", env "APP_REQUEST_TIMEOUT_MS", key "requestTimeoutMs", value "MS";
        /// Time a client has to send the request head (slowloris bound).
        header_read_timeout_ms: u64 = "5000",
            flag "header-read-timeout-ms", env "APP_HEADER_READ_TIMEOUT_MS", key "headerReadTimeoutMs", value "MS";
        /// Bound on the request head size; larger heads get 431. At least 8192.
        max_header_bytes: u64 = "16384",
            flag "max-header-bytes", env "APP_MAX_HEADER_BYTES", key "maxHeaderBytes", value "BYTES";
        /// Bound on the request body size; larger bodies get 413.
        max_body_bytes: u64 = "16384",
            flag "max-body-bytes", env "APP_MAX_BODY_BYTES", key "maxBodyBytes", value "BYTES";
        /// Time to keep serving after a stop request, while not ready, before the listener closes (lame duck: endpoint removal reaches kube-proxy and proxies meanwhile). 0 closes at once.
        shutdown_delay_ms: u64 = "0",
            flag "shutdown-delay-ms", env "APP_SHUTDOWN_DELAY_MS", key "shutdownDelayMs", value "MS";
        /// Bound on draining in-flight requests at shutdown.
        shutdown_timeout_ms: u64 = "10000",
            flag "shutdown-timeout-ms", env "APP_SHUTDOWN_TIMEOUT_MS", key "shutdownTimeoutMs", value "MS";
        /// Cluster DNS domain.
        cluster_domain: String = "cluster.local",
            flag "cluster-domain", env "APP_CLUSTER_DOMAIN", key "clusterDomain", value "DOMAIN";
        /// Timeout of one peer query.
        peer_timeout_ms: u64 = "300",
            flag "peer-timeout-ms", env "APP_PEER_TIMEOUT_MS", key "peerTimeoutMs", value "MS";
        /// Deadline of a whole cluster answer.
        cluster_deadline_ms: u64 = "800",
            flag "cluster-deadline-ms", env "APP_CLUSTER_DEADLINE_MS", key "clusterDeadlineMs", value "MS";
    }
    optional {
        /// Explicit base URLs of every replica, comma-separated.
        peers: Vec<String>,
            flag "peers", env "APP_PEERS", key "peers", value "URLS", delimiter ',';
        /// Headless Service of the StatefulSet; with --namespace, the peers are the addresses
        /// its DNS name resolves to, looked up at every cluster view (Kubernetes).
        peer_service: String,
            flag "peer-service", env "APP_PEER_SERVICE", key "peerService", value "NAME";
        /// Namespace of the pods.
        namespace: String,
            flag "namespace", env "POD_NAMESPACE", key "namespace", value "NAME";
        /// This pod's IP (downward API status.podIP): recognizes this replica among the
        /// addresses of the headless Service.
        pod_ip: String,
            flag "pod-ip", env "POD_IP", key "podIp", value "IP";
    }
}
