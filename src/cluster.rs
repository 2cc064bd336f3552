//! The cluster view: any replica answers for the whole StatefulSet by asking every other
//! replica for its local count at read time.
//!
//! Peers are either listed explicitly (`--peers`, local runs and tests) or derived from the
//! StatefulSet's stable network identity: the pod name `<sts>-<ordinal>`, the headless
//! Service, the namespace and the replica count give every replica's DNS name. Each peer is
//! asked only for its local count (`GET /visits`, JSON), never for `scope=cluster`, so a
//! cluster answer never fans out further. Peers are asked in parallel, each bounded by the
//! per-peer timeout (DNS, connect and response together) and all of them by the cluster
//! deadline; a peer that is missing, slow or answers garbage is reported as unreachable and
//! the answer is marked incomplete. This replica's own count is always read locally, and
//! counted exactly once.

use std::collections::HashSet;
use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::header::{ACCEPT, CONTENT_TYPE, USER_AGENT};
use hyper::{Request, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, Semaphore};
use tokio::task::JoinSet;

/// A peer's answer is `{"visits":N,"pod":"..."}`: a few dozen bytes. Anything much larger is
/// not a peer of ours.
pub const MAX_ANSWER_BYTES: usize = 4 * 1024;

/// How long the page reuses the other replicas' counts before asking them again, so that
/// page traffic does not multiply into peer traffic. `/visits?scope=cluster` never uses it.
pub const PAGE_PEERS_MAX_AGE: Duration = Duration::from_secs(1);

/// Peer queries in flight at once from this replica, across all concurrent cluster answers:
/// bounds sockets and tasks however many replicas are listed and however many clients ask.
/// A query waiting for a slot counts against the cluster deadline like any other delay.
pub const MAX_PEER_QUERIES_IN_FLIGHT: usize = 64;

/// Kubernetes pod names are DNS subdomains: at most 253 characters.
const MAX_POD_NAME_LEN: usize = 253;

/// DNS answers about pods change when a pod is rescheduled (new IP) or created (scale-up):
/// keep them briefly so a new replica is found within seconds, not after a long negative TTL.
const DNS_POSITIVE_MAX_TTL: Duration = Duration::from_secs(5);
const DNS_NEGATIVE_MAX_TTL: Duration = Duration::from_secs(2);

const PEER_USER_AGENT: &str = concat!(
    env!("CARGO_PKG_NAME"),
    "/",
    env!("CARGO_PKG_VERSION"),
    " (cluster view)"
);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClusterError {
    #[error(
        "cannot derive the peers from the pod name {pod:?}: it does not end in -<ordinal> like \
         app-rust-0. Peers are derived only for StatefulSet pods: set POD_NAME from the downward \
         API (metadata.name), or list the peers with --peers / APP_PEERS instead of --peer-service"
    )]
    NoOrdinal { pod: String },
    #[error(
        "cannot derive the peers: {setting} is required with --peer-service / APP_PEER_SERVICE"
    )]
    MissingSetting { setting: &'static str },
    #[error(
        "the ordinals {start}..{start}+{replicas} of the StatefulSet overflow (check --ordinal-start \
         / APP_ORDINAL_START and --replicas / APP_REPLICAS)"
    )]
    OrdinalOverflow { start: u32, replicas: u32 },
    #[error("invalid peer URL {url:?} (from --peers / APP_PEERS): {reason}")]
    PeerUrl { url: String, reason: String },
}

/// What the cluster view needs from the configuration.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    /// This replica's pod name.
    pub pod_name: String,
    /// The address actually listened on (port resolved when the configured port was 0).
    pub listen: SocketAddr,
    pub peers: Vec<String>,
    pub peer_service: Option<String>,
    pub namespace: Option<String>,
    pub replicas: Option<u32>,
    pub ordinal_start: u32,
    pub cluster_domain: String,
    pub peer_timeout: Duration,
    pub cluster_deadline: Duration,
    pub dns: DnsSource,
}

/// Where peer host names are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsSource {
    /// /etc/resolv.conf and /etc/hosts, like every other program in the pod.
    System,
    /// One name server over UDP, no hosts file (tests use a fake server on 127.0.0.1).
    NameServer(SocketAddr),
}

impl ClusterSettings {
    /// The cluster settings of `config`, for a service listening on `listening_on` (the bound
    /// address: the configured port may be 0).
    pub fn from_config(config: &crate::config::Config, listening_on: SocketAddr) -> Self {
        ClusterSettings {
            pod_name: config.pod_name.clone(),
            listen: listening_on,
            peers: config.peers.clone(),
            peer_service: config.peer_service.clone(),
            namespace: config.namespace.clone(),
            replicas: config.replicas,
            ordinal_start: config.ordinal_start,
            cluster_domain: config.cluster_domain.clone(),
            peer_timeout: Duration::from_millis(config.peer_timeout_ms),
            cluster_deadline: Duration::from_millis(config.cluster_deadline_ms),
            dns: DnsSource::System,
        }
    }
}

/// One replica of the set, as this replica knows it before asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// Base URL, as configured or derived, without a trailing slash.
    pub url: String,
    /// The pod name the peer must answer with, when it is known in advance (derived peers).
    pub expected_pod: Option<String>,
    /// This replica itself: its count is read locally, never over HTTP.
    pub is_self: bool,
    visits_uri: Uri,
}

impl Peer {
    fn new(url: &str, expected_pod: Option<String>, is_self: bool) -> Result<Peer, ClusterError> {
        let invalid = |reason: String| ClusterError::PeerUrl {
            url: url.to_owned(),
            reason,
        };
        let parsed = url::Url::parse(url).map_err(|e| invalid(format!("not a URL ({e})")))?;
        if parsed.scheme() != "http" {
            return Err(invalid("peers are reached over http://".into()));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(invalid("a peer URL needs a host".into()));
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(invalid(
                "a peer URL is a base URL, without ?query or #fragment".into(),
            ));
        }
        let base = url.trim_end_matches('/').to_owned();
        let mut visits = parsed.clone();
        visits.set_path(&format!("{}/visits", parsed.path().trim_end_matches('/')));
        let visits_uri = visits
            .as_str()
            .parse::<Uri>()
            .map_err(|e| invalid(format!("not usable as an HTTP URI ({e})")))?;
        Ok(Peer {
            url: base,
            expected_pod,
            is_self,
            visits_uri,
        })
    }

    fn has_ip_host(&self) -> bool {
        self.visits_uri
            .host()
            .is_some_and(|host| host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok())
    }

    /// The URL this replica asks: `<base>/visits`.
    pub fn visits_url(&self) -> String {
        self.visits_uri.to_string()
    }
}

/// Splits a StatefulSet pod name `<sts>-<ordinal>` into the set's name and the ordinal.
pub fn split_ordinal(pod: &str) -> Result<(&str, u32), ClusterError> {
    let no_ordinal = || ClusterError::NoOrdinal {
        pod: pod.to_owned(),
    };
    let (sts, ordinal) = pod.rsplit_once('-').ok_or_else(no_ordinal)?;
    let canonical = !ordinal.is_empty()
        && ordinal.bytes().all(|b| b.is_ascii_digit())
        && (ordinal == "0" || !ordinal.starts_with('0'));
    if sts.is_empty() || !canonical {
        return Err(no_ordinal());
    }
    let ordinal = ordinal.parse::<u32>().map_err(|_| no_ordinal())?;
    Ok((sts, ordinal))
}

/// The StatefulSet's replicas as `(pod name, base URL)`, from this pod's own name:
/// `http://<sts>-<i>.<service>.<namespace>.svc.<domain>.:<port>` for every ordinal. The host
/// ends in a dot (a fully qualified name), so the resolver does not first try every
/// resolv.conf search domain (Kubernetes sets `ndots:5`).
pub fn derive_peers(
    pod: &str,
    service: &str,
    namespace: &str,
    replicas: u32,
    ordinal_start: u32,
    cluster_domain: &str,
    port: u16,
) -> Result<Vec<(String, String)>, ClusterError> {
    let (sts, _) = split_ordinal(pod)?;
    let end = ordinal_start
        .checked_add(replicas)
        .ok_or(ClusterError::OrdinalOverflow {
            start: ordinal_start,
            replicas,
        })?;
    let domain = cluster_domain.trim_end_matches('.');
    Ok((ordinal_start..end)
        .map(|ordinal| {
            let name = format!("{sts}-{ordinal}");
            let url = format!("http://{name}.{service}.{namespace}.svc.{domain}.:{port}");
            (name, url)
        })
        .collect())
}

/// Whether an explicitly listed peer URL designates this process: same port, and a host that
/// reaches our listen address (loopback or the listen IP itself, `localhost`, or our pod name).
/// Peers that are us under another name are still recognized at query time by the pod name
/// they answer with.
fn is_own_url(url: &str, listen: SocketAddr, pod: &str) -> bool {
    let Ok(parsed) = url::Url::parse(url) else {
        return false;
    };
    if parsed.port_or_known_default() != Some(listen.port()) {
        return false;
    }
    let listen_ip = listen.ip();
    let listens_on_loopback = listen_ip.is_unspecified() || listen_ip.is_loopback();
    match parsed.host() {
        Some(url::Host::Ipv4(ip)) => {
            let ip = IpAddr::V4(ip);
            ip == listen_ip || (ip.is_loopback() && listens_on_loopback)
        }
        Some(url::Host::Ipv6(ip)) => {
            let ip = IpAddr::V6(ip);
            ip == listen_ip || (ip.is_loopback() && listens_on_loopback)
        }
        Some(url::Host::Domain(host)) => {
            let host = host.trim_end_matches('.').to_ascii_lowercase();
            let pod = pod.to_ascii_lowercase();
            (host == "localhost" && listens_on_loopback)
                || host == pod
                || host
                    .strip_prefix(&pod)
                    .is_some_and(|rest| rest.starts_with('.'))
        }
        None => false,
    }
}

/// The replicas of the set, this one included, from explicit URLs or derived from the pod
/// name. Empty when no peers are configured (a lone replica).
pub fn discover(settings: &ClusterSettings) -> Result<Vec<Peer>, ClusterError> {
    if let Some(service) = &settings.peer_service {
        let namespace = settings
            .namespace
            .as_deref()
            .ok_or(ClusterError::MissingSetting {
                setting: "--namespace / POD_NAMESPACE",
            })?;
        let replicas = settings.replicas.ok_or(ClusterError::MissingSetting {
            setting: "--replicas / APP_REPLICAS",
        })?;
        let derived = derive_peers(
            &settings.pod_name,
            service,
            namespace,
            replicas,
            settings.ordinal_start,
            &settings.cluster_domain,
            settings.listen.port(),
        )?;
        if !derived.iter().any(|(pod, _)| *pod == settings.pod_name) {
            tracing::warn!(
                pod = %settings.pod_name,
                ordinal_start = settings.ordinal_start,
                replicas,
                "this pod's ordinal is outside the configured replicas; it still counts itself"
            );
        }
        return derived
            .into_iter()
            .map(|(pod, url)| {
                let is_self = pod == settings.pod_name;
                Peer::new(&url, Some(pod), is_self)
            })
            .collect();
    }
    let mut seen_self = false;
    settings
        .peers
        .iter()
        .map(|url| {
            // Listing ourselves twice must not make two self entries.
            let is_self = !seen_self && is_own_url(url, settings.listen, &settings.pod_name);
            seen_self |= is_self;
            Peer::new(url, None, is_self)
        })
        .collect()
}

/// A peer's validated answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PeerAnswer {
    pub visits: u64,
    pub pod: String,
}

/// Why a peer is reported as unreachable. `reason()` is the metric label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    #[error("timeout after {} ms", .0.as_millis())]
    Timeout(Duration),
    #[error("cluster deadline of {} ms reached", .0.as_millis())]
    Deadline(Duration),
    #[error("DNS lookup failed: {0}")]
    Dns(String),
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("HTTP exchange failed: {0}")]
    Http(String),
    #[error("answered HTTP {0} instead of 200")]
    Status(u16),
    #[error("answer larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
    #[error("invalid answer: {0}")]
    Invalid(String),
    #[error("answered as pod {answered:?}, expected {expected:?}")]
    WrongPod { expected: String, answered: String },
    #[error("answered as pod {0:?}, which another peer URL already answered for")]
    Duplicate(String),
}

impl PeerError {
    pub fn reason(&self) -> &'static str {
        match self {
            PeerError::Timeout(_) => "timeout",
            PeerError::Deadline(_) => "deadline",
            PeerError::Dns(_) => "dns",
            PeerError::Connect(_) => "connect",
            PeerError::Http(_) => "http",
            PeerError::Status(_) => "status",
            PeerError::TooLarge => "too_large",
            PeerError::Invalid(_) => "invalid_answer",
            PeerError::WrongPod { .. } => "wrong_pod",
            PeerError::Duplicate(_) => "duplicate",
        }
    }
}

/// Parses and validates a peer's JSON answer body: exactly a non-negative integer `visits` and a
/// non-empty pod name of visible ASCII (other keys are ignored, for newer peers).
pub fn parse_answer(body: &[u8]) -> Result<PeerAnswer, PeerError> {
    if body.len() > MAX_ANSWER_BYTES {
        return Err(PeerError::TooLarge);
    }
    let answer: PeerAnswer = serde_json::from_slice(body).map_err(|e| {
        let quoted: String = String::from_utf8_lossy(&body[..body.len().min(48)])
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        PeerError::Invalid(format!(
            "expected {{\"visits\":N,\"pod\":\"...\"}} ({e}); got {quoted:?}"
        ))
    })?;
    let pod_ok = !answer.pod.is_empty()
        && answer.pod.len() <= MAX_POD_NAME_LEN
        && answer.pod.bytes().all(|b| b.is_ascii_graphic());
    if !pod_ok {
        return Err(PeerError::Invalid(format!(
            "pod {:?} is not a pod name (1 to 253 visible ASCII characters)",
            answer.pod
        )));
    }
    Ok(answer)
}

/// One replica's count in a cluster answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodCount {
    pub pod: String,
    pub visits: u64,
    /// The peer URL it was reached at; absent for this replica when it is not in the list.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub url: Option<String>,
}

/// A replica that could not be counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unreachable {
    pub url: String,
    /// The pod name expected at that URL (derived peers only).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pod: Option<String>,
    pub error: String,
}

/// The answer of `GET /visits?scope=cluster`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterView {
    pub scope: String,
    /// The replica that answered.
    pub pod: String,
    /// Sum of `pods[].visits`.
    pub total: u64,
    /// True when every listed replica was counted.
    pub complete: bool,
    pub pods: Vec<PodCount>,
    pub unreachable: Vec<Unreachable>,
}

impl ClusterView {
    /// The plain-text form (`Accept: text/plain`): a summary line, one line per counted
    /// replica (`pod visits url`), one per unreachable one.
    pub fn text(&self) -> String {
        let mut out = format!(
            "total {} ({}: {} of {} replicas counted)\n",
            self.total,
            if self.complete { "complete" } else { "partial" },
            self.pods.len(),
            self.pods.len() + self.unreachable.len()
        );
        for pod in &self.pods {
            let url = pod.url.as_deref().unwrap_or("-");
            out.push_str(&format!("{} {} {url}\n", pod.pod, pod.visits));
        }
        for peer in &self.unreachable {
            let pod = peer.pod.as_deref().unwrap_or("?");
            out.push_str(&format!("unreachable {pod} {}: {}\n", peer.url, peer.error));
        }
        out
    }
}

/// What asking one peer gave.
#[derive(Debug, Clone)]
pub struct PeerOutcome {
    pub peer: Peer,
    pub result: Result<PeerAnswer, PeerError>,
}

/// Builds the cluster answer from this replica's own count and the peers' outcomes.
///
/// This replica counts exactly once, with its local count: where it appears in the peer list
/// (recognized by URL, or by a peer answering with our pod name), or first when it is not
/// listed. A pod name answered by two URLs is counted once; the second is reported.
pub fn assemble(
    self_pod: &str,
    local_visits: u64,
    peers: &[Peer],
    outcomes: &[PeerOutcome],
) -> ClusterView {
    let mut pods = Vec::with_capacity(peers.len() + 1);
    let mut unreachable = Vec::new();
    let mut counted: HashSet<&str> = HashSet::new();
    let mut self_counted = false;
    let count_self = |pods: &mut Vec<PodCount>, url: Option<&str>| {
        pods.push(PodCount {
            pod: self_pod.to_owned(),
            visits: local_visits,
            url: url.map(str::to_owned),
        });
    };
    let mut outcomes_iter = outcomes.iter();
    for peer in peers {
        if peer.is_self {
            if !self_counted {
                count_self(&mut pods, Some(&peer.url));
                self_counted = true;
                counted.insert(self_pod);
            }
            continue;
        }
        // Outcomes come in the order of the non-self peers.
        let Some(outcome) = outcomes_iter.next() else {
            break;
        };
        debug_assert_eq!(outcome.peer.url, peer.url, "outcomes out of peer order");
        let checked = match &outcome.result {
            Ok(answer) => match &peer.expected_pod {
                Some(expected) if *expected != answer.pod => Err(PeerError::WrongPod {
                    expected: expected.clone(),
                    answered: answer.pod.clone(),
                }),
                _ => Ok(answer),
            },
            Err(error) => Err(error.clone()),
        };
        match checked {
            Ok(answer) if answer.pod == self_pod => {
                // Ourselves under another address: our local count, once.
                if !self_counted {
                    count_self(&mut pods, Some(&peer.url));
                    self_counted = true;
                    counted.insert(self_pod);
                }
            }
            Ok(answer) if counted.contains(answer.pod.as_str()) => unreachable.push(Unreachable {
                url: peer.url.clone(),
                pod: peer.expected_pod.clone(),
                error: PeerError::Duplicate(answer.pod.clone()).to_string(),
            }),
            Ok(answer) => {
                counted.insert(&answer.pod);
                pods.push(PodCount {
                    pod: answer.pod.clone(),
                    visits: answer.visits,
                    url: Some(peer.url.clone()),
                });
            }
            Err(error) => unreachable.push(Unreachable {
                url: peer.url.clone(),
                pod: peer.expected_pod.clone(),
                error: error.to_string(),
            }),
        }
    }
    if !self_counted {
        count_self(&mut pods, None);
        pods.rotate_right(1);
    }
    let total = pods
        .iter()
        .map(|p| p.visits)
        .fold(0u64, u64::saturating_add);
    ClusterView {
        scope: "cluster".to_owned(),
        pod: self_pod.to_owned(),
        total,
        complete: unreachable.is_empty(),
        pods,
        unreachable,
    }
}

/// The cluster total the page shows next to the local count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageCluster {
    pub total: u64,
    pub complete: bool,
    /// Replicas counted, out of `listed`.
    pub counted: usize,
    pub listed: usize,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `ok`, `timeout` or `error`.
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabels {
    pub reason: &'static str,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn peer_latency_histogram() -> Histogram {
    // 0.5 ms .. ~1 s: a peer in the same cluster answers in about a millisecond; the timeout
    // defaults to 300 ms.
    Histogram::new(exponential_buckets(0.0005, 2.0, 12))
}

/// `app_peer_request_duration_seconds{outcome}` and `app_peer_errors_total{reason}`.
#[derive(Debug, Clone)]
pub struct PeerMetrics {
    durations: HistogramFamily<OutcomeLabels>,
    errors: Family<ReasonLabels, Counter>,
}

impl Default for PeerMetrics {
    fn default() -> Self {
        PeerMetrics {
            durations: Family::new_with_constructor(peer_latency_histogram),
            errors: Family::default(),
        }
    }
}

impl PeerMetrics {
    pub fn register(&self, registry: &mut Registry) {
        registry.register_with_unit(
            "app_peer_request_duration",
            "Time to ask one peer replica for its count (DNS, connect, answer), by outcome",
            Unit::Seconds,
            self.durations.clone(),
        );
        registry.register(
            "app_peer_errors",
            "Peer replicas that could not be counted, by reason",
            self.errors.clone(),
        );
    }

    fn observe(&self, elapsed: Duration, result: &Result<PeerAnswer, PeerError>) {
        let outcome = match result {
            Ok(_) => "ok",
            Err(PeerError::Timeout(_) | PeerError::Deadline(_)) => "timeout",
            Err(_) => "error",
        };
        self.durations
            .get_or_create(&OutcomeLabels { outcome })
            .observe(elapsed.as_secs_f64());
        if let Err(error) = result {
            self.errors
                .get_or_create(&ReasonLabels {
                    reason: error.reason(),
                })
                .inc();
        }
    }

    fn count_error(&self, error: &PeerError) {
        self.errors
            .get_or_create(&ReasonLabels {
                reason: error.reason(),
            })
            .inc();
    }
}

/// A DNS failure, recognizable in the client's error chain.
#[derive(Debug)]
struct DnsError(String);

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DnsError {}

/// Resolves peer host names asynchronously with hickory (reads /etc/resolv.conf and
/// /etc/hosts itself; no blocking getaddrinfo, which is fragile in the static binary). The
/// caller's timeout bounds every lookup.
#[derive(Clone)]
struct PeerResolver {
    resolver: Result<Arc<TokioResolver>, Arc<str>>,
}

impl PeerResolver {
    /// For peer lists of IP addresses only: the connector never calls a resolver for those,
    /// so the system DNS configuration is not even read.
    fn unused() -> PeerResolver {
        PeerResolver {
            resolver: Err(Arc::from("no DNS configured: every peer is an IP address")),
        }
    }

    fn new(source: DnsSource, lookup_timeout: Duration) -> PeerResolver {
        let builder = match source {
            DnsSource::System => TokioResolver::builder_tokio(),
            DnsSource::NameServer(server) => {
                let mut connection = ConnectionConfig::udp();
                connection.port = server.port();
                let config = ResolverConfig::from_parts(
                    None,
                    Vec::new(),
                    vec![NameServerConfig::new(server.ip(), true, vec![connection])],
                );
                Ok(TokioResolver::builder_with_config(
                    config,
                    TokioRuntimeProvider::default(),
                ))
            }
        };
        let built = builder.and_then(|mut builder| {
            let options = builder.options_mut();
            options.timeout = lookup_timeout;
            options.attempts = 1;
            options.use_hosts_file = match source {
                DnsSource::System => ResolveHosts::Always,
                DnsSource::NameServer(_) => ResolveHosts::Never,
            };
            options.positive_max_ttl = Some(DNS_POSITIVE_MAX_TTL);
            options.negative_max_ttl = Some(DNS_NEGATIVE_MAX_TTL);
            builder.build()
        });
        let resolver = match built {
            Ok(resolver) => Ok(Arc::new(resolver)),
            Err(error) => {
                tracing::warn!(
                    %error,
                    "cannot read the system DNS configuration (/etc/resolv.conf); only peers given \
                     as IP addresses can be reached"
                );
                Err(Arc::from(format!("no DNS configuration ({error})")))
            }
        };
        PeerResolver { resolver }
    }
}

impl tower::Service<Name> for PeerResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = DnsError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, DnsError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), DnsError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let host = name.as_str().to_owned();
        let resolver = self.resolver.clone();
        Box::pin(async move {
            let resolver = resolver.map_err(|e| DnsError(format!("{host}: {e}")))?;
            let lookup = resolver.lookup_ip(host.as_str()).await.map_err(|e| {
                // The common cases in words: a pod not created yet, or stopped.
                if e.is_nx_domain() {
                    DnsError(format!("{host}: no such name (NXDOMAIN)"))
                } else if e.is_no_records_found() {
                    DnsError(format!("{host}: no address records"))
                } else {
                    DnsError(format!("{host}: {e}"))
                }
            })?;
            // The connector fills in the port from the URL.
            let addrs: Vec<SocketAddr> = lookup.iter().map(|ip| SocketAddr::new(ip, 0)).collect();
            if addrs.is_empty() {
                return Err(DnsError(format!("{host}: no addresses")));
            }
            Ok(addrs.into_iter())
        })
    }
}

type PeerClient = Client<HttpConnector<PeerResolver>, Empty<Bytes>>;

/// The other replicas' outcomes at one moment, reused by the page for a short while.
struct PeersSnapshot {
    taken: Instant,
    outcomes: Arc<Vec<PeerOutcome>>,
}

/// Asks the peers and assembles cluster answers. Created once; cheap to share.
pub struct Cluster {
    pod: String,
    peers: Vec<Peer>,
    client: PeerClient,
    peer_timeout: Duration,
    deadline: Duration,
    metrics: PeerMetrics,
    page_snapshot: Mutex<Option<PeersSnapshot>>,
    in_flight: Arc<Semaphore>,
}

impl fmt::Debug for Cluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cluster")
            .field("pod", &self.pod)
            .field("peers", &self.peers)
            .field("peer_timeout", &self.peer_timeout)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Discovers the peers and creates the one HTTP client (with its connection pool) used for
    /// every peer query. Must be called inside the Tokio runtime.
    pub fn new(settings: &ClusterSettings, metrics: PeerMetrics) -> Result<Cluster, ClusterError> {
        let peers = discover(settings)?;
        let per_peer = settings.peer_timeout.min(settings.cluster_deadline);
        // The per-peer timeout around each query bounds lookups and connects; their own
        // timeouts are longer so that a silent name server or a black-holed address reads as
        // "timeout after N ms" like any other slow peer.
        let needs_dns = peers
            .iter()
            .any(|peer| !peer.is_self && !peer.has_ip_host());
        let resolver = if needs_dns {
            PeerResolver::new(settings.dns, per_peer * 2)
        } else {
            PeerResolver::unused()
        };
        let mut connector = HttpConnector::new_with_resolver(resolver);
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(per_peer * 2));
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(4)
            .http1_max_buf_size(16 * 1024)
            .build(connector);
        if !peers.is_empty() {
            tracing::info!(
                peers = ?peers.iter().map(|p| p.url.as_str()).collect::<Vec<_>>(),
                this_pod = %settings.pod_name,
                recognized_self = peers.iter().any(|p| p.is_self),
                "cluster view: peers configured"
            );
        }
        Ok(Cluster {
            pod: settings.pod_name.clone(),
            peers,
            client,
            peer_timeout: settings.peer_timeout,
            deadline: settings.cluster_deadline,
            metrics,
            page_snapshot: Mutex::new(None),
            in_flight: Arc::new(Semaphore::new(MAX_PEER_QUERIES_IN_FLIGHT)),
        })
    }

    /// Whether peers are configured (the page shows a cluster total only then).
    pub fn has_peers(&self) -> bool {
        !self.peers.is_empty()
    }

    pub fn peers(&self) -> &[Peer] {
        &self.peers
    }

    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// The full cluster answer, asking every other replica now. `local_visits` is this
    /// replica's own count. Returns within the cluster deadline.
    pub async fn view(&self, local_visits: u64) -> ClusterView {
        let outcomes = self.ask_peers().await;
        assemble(&self.pod, local_visits, &self.peers, &outcomes)
    }

    /// The cluster total for the page: this replica's fresh count plus the others' counts,
    /// asked at most every `PAGE_PEERS_MAX_AGE` (concurrent pages share one round of
    /// questions). `None` without peers.
    pub async fn page_total(&self, local_visits: u64) -> Option<PageCluster> {
        if !self.has_peers() {
            return None;
        }
        let outcomes = {
            let mut snapshot = self.page_snapshot.lock().await;
            match snapshot.as_ref() {
                Some(s) if s.taken.elapsed() < PAGE_PEERS_MAX_AGE => Arc::clone(&s.outcomes),
                _ => {
                    let outcomes = Arc::new(self.ask_peers().await);
                    *snapshot = Some(PeersSnapshot {
                        taken: Instant::now(),
                        outcomes: Arc::clone(&outcomes),
                    });
                    outcomes
                }
            }
        };
        let view = assemble(&self.pod, local_visits, &self.peers, &outcomes);
        Some(PageCluster {
            total: view.total,
            complete: view.complete,
            counted: view.pods.len(),
            listed: view.pods.len() + view.unreachable.len(),
        })
    }

    /// Asks every peer that is not this replica, in parallel; the outcomes are in the order of
    /// those peers. Bounded by the cluster deadline whatever the peers do.
    async fn ask_peers(&self) -> Vec<PeerOutcome> {
        let others: Vec<&Peer> = self.peers.iter().filter(|p| !p.is_self).collect();
        let mut results: Vec<Option<Result<PeerAnswer, PeerError>>> = vec![None; others.len()];
        let per_peer = self.peer_timeout.min(self.deadline);
        let mut tasks = JoinSet::new();
        for (index, peer) in others.iter().enumerate() {
            let client = self.client.clone();
            let uri = peer.visits_uri.clone();
            let metrics = self.metrics.clone();
            let in_flight = Arc::clone(&self.in_flight);
            tasks.spawn(async move {
                // The semaphore is never closed; if it were, asking without a slot is still
                // bounded by the timeout.
                let _slot = in_flight.acquire_owned().await.ok();
                let started = Instant::now();
                let result =
                    match tokio::time::timeout(per_peer, ask_peer_twice(&client, uri)).await {
                        Ok(result) => result,
                        Err(_) => Err(PeerError::Timeout(per_peer)),
                    };
                metrics.observe(started.elapsed(), &result);
                (index, result)
            });
        }
        let deadline = tokio::time::Instant::now() + self.deadline;
        loop {
            match tokio::time::timeout_at(deadline, tasks.join_next()).await {
                Ok(Some(Ok((index, result)))) => results[index] = Some(result),
                Ok(Some(Err(join_error))) => {
                    tracing::error!(error = %join_error, "a peer query task failed");
                }
                Ok(None) => break,
                Err(_) => {
                    tasks.abort_all();
                    break;
                }
            }
        }
        others
            .into_iter()
            .zip(results)
            .map(|(peer, result)| {
                let result = result.unwrap_or_else(|| {
                    let error = PeerError::Deadline(self.deadline);
                    self.metrics.count_error(&error);
                    Err(error)
                });
                if let Err(error) = &result {
                    tracing::debug!(peer = %peer.url, %error, "peer not counted");
                }
                PeerOutcome {
                    peer: peer.clone(),
                    result,
                }
            })
            .collect()
    }
}

/// A pooled keep-alive connection may have been closed by a peer that restarted since; the
/// request then fails mid-exchange. `GET /visits` is idempotent, so such a failure is retried
/// once (on a new connection, the broken one is gone from the pool), within the same timeout.
async fn ask_peer_twice(client: &PeerClient, uri: Uri) -> Result<PeerAnswer, PeerError> {
    match ask_peer(client, uri.clone()).await {
        Err(PeerError::Http(_)) => ask_peer(client, uri).await,
        other => other,
    }
}

/// One `GET <peer>/visits` with `Accept: application/json`, validated.
async fn ask_peer(client: &PeerClient, uri: Uri) -> Result<PeerAnswer, PeerError> {
    let request = Request::get(uri)
        .header(ACCEPT, "application/json")
        .header(USER_AGENT, PEER_USER_AGENT)
        .body(Empty::<Bytes>::new())
        .map_err(|e| PeerError::Http(e.to_string()))?;
    let response = client
        .request(request)
        .await
        .map_err(classify_client_error)?;
    if response.status() != StatusCode::OK {
        return Err(PeerError::Status(response.status().as_u16()));
    }
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    if !content_type.starts_with("application/json") {
        return Err(PeerError::Invalid(format!(
            "content type {content_type:?} is not application/json"
        )));
    }
    let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                PeerError::TooLarge
            } else {
                PeerError::Http(format!("reading the answer: {e}"))
            }
        })?
        .to_bytes();
    parse_answer(&body)
}

fn classify_client_error(error: hyper_util::client::legacy::Error) -> PeerError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    let mut innermost = error.to_string();
    while let Some(current) = source {
        if let Some(dns) = current.downcast_ref::<DnsError>() {
            return PeerError::Dns(dns.to_string());
        }
        innermost = current.to_string();
        source = current.source();
    }
    if error.is_connect() {
        PeerError::Connect(innermost)
    } else {
        PeerError::Http(innermost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pod: &str) -> ClusterSettings {
        ClusterSettings {
            pod_name: pod.to_owned(),
            listen: "0.0.0.0:8080".parse().expect("address"),
            peers: Vec::new(),
            peer_service: None,
            namespace: None,
            replicas: None,
            ordinal_start: 0,
            cluster_domain: "cluster.local".to_owned(),
            peer_timeout: Duration::from_millis(300),
            cluster_deadline: Duration::from_millis(800),
            dns: DnsSource::System,
        }
    }

    fn derived(pod: &str, replicas: u32, start: u32) -> ClusterSettings {
        ClusterSettings {
            peer_service: Some("app-rust-headless".into()),
            namespace: Some("shop".into()),
            replicas: Some(replicas),
            ordinal_start: start,
            ..settings(pod)
        }
    }

    #[test]
    fn splits_the_ordinal_off_names_with_dashes() {
        assert_eq!(split_ordinal("app-rust-0"), Ok(("app-rust", 0)));
        assert_eq!(
            split_ordinal("my-shop-app-rust-12"),
            Ok(("my-shop-app-rust", 12))
        );
        assert_eq!(split_ordinal("web-4294967295"), Ok(("web", u32::MAX)));
    }

    #[test]
    fn a_pod_name_without_an_ordinal_is_a_clear_error() {
        for pod in [
            "app-rust",
            "app-rust-",
            "-3",
            "apprust7",
            "app-rust-01",
            "app-rust-x1",
            "web-4294967296",
        ] {
            let error = split_ordinal(pod).expect_err(pod);
            assert_eq!(error, ClusterError::NoOrdinal { pod: pod.into() });
            let message = error.to_string();
            assert!(
                message.contains(pod) && message.contains("--peers"),
                "{message}"
            );
        }
        let error = discover(&derived("laptop", 3, 0)).expect_err("no ordinal");
        assert!(error.to_string().contains("POD_NAME"), "{error}");
    }

    #[test]
    fn derives_every_replica_as_a_fully_qualified_name() {
        let peers = discover(&derived("my-app-rust-1", 3, 0)).expect("derived");
        let urls: Vec<&str> = peers.iter().map(|p| p.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "http://my-app-rust-0.app-rust-headless.shop.svc.cluster.local.:8080",
                "http://my-app-rust-1.app-rust-headless.shop.svc.cluster.local.:8080",
                "http://my-app-rust-2.app-rust-headless.shop.svc.cluster.local.:8080",
            ]
        );
        let expected: Vec<Option<&str>> = peers.iter().map(|p| p.expected_pod.as_deref()).collect();
        assert_eq!(
            expected,
            [
                Some("my-app-rust-0"),
                Some("my-app-rust-1"),
                Some("my-app-rust-2")
            ]
        );
        let selves: Vec<bool> = peers.iter().map(|p| p.is_self).collect();
        assert_eq!(selves, [false, true, false]);
        assert_eq!(
            peers[0].visits_url(),
            "http://my-app-rust-0.app-rust-headless.shop.svc.cluster.local.:8080/visits"
        );
    }

    #[test]
    fn derivation_honours_ordinal_start_and_cluster_domain() {
        let mut s = derived("app-rust-5", 2, 5);
        s.cluster_domain = "k8s.example.".into();
        s.listen = "0.0.0.0:9090".parse().expect("address");
        let peers = discover(&s).expect("derived");
        let urls: Vec<&str> = peers.iter().map(|p| p.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "http://app-rust-5.app-rust-headless.shop.svc.k8s.example.:9090",
                "http://app-rust-6.app-rust-headless.shop.svc.k8s.example.:9090",
            ]
        );
        assert!(peers[0].is_self && !peers[1].is_self);
        assert_eq!(
            derive_peers("a-1", "s", "n", u32::MAX, 1, "cluster.local", 80),
            Err(ClusterError::OrdinalOverflow {
                start: 1,
                replicas: u32::MAX
            })
        );
    }

    #[test]
    fn derivation_needs_namespace_and_replicas() {
        let mut s = derived("app-rust-0", 3, 0);
        s.namespace = None;
        assert!(matches!(
            discover(&s),
            Err(ClusterError::MissingSetting { .. })
        ));
        let mut s = derived("app-rust-0", 3, 0);
        s.replicas = None;
        assert!(matches!(
            discover(&s),
            Err(ClusterError::MissingSetting { .. })
        ));
    }

    #[test]
    fn recognizes_its_own_url_in_an_explicit_list() {
        let any: SocketAddr = "0.0.0.0:8081".parse().expect("address");
        let lo: SocketAddr = "127.0.0.1:8081".parse().expect("address");
        let ip: SocketAddr = "10.0.0.7:8081".parse().expect("address");
        assert!(is_own_url("http://127.0.0.1:8081", any, "p-1"));
        assert!(is_own_url("http://127.0.0.1:8081/", lo, "p-1"));
        assert!(is_own_url("http://localhost:8081", lo, "p-1"));
        assert!(is_own_url("http://[::1]:8081", any, "p-1"));
        assert!(is_own_url("http://10.0.0.7:8081", ip, "p-1"));
        assert!(is_own_url("http://p-1:8081", ip, "p-1"));
        assert!(is_own_url("http://p-1.svc.local.:8081", ip, "p-1"));
        assert!(!is_own_url("http://127.0.0.1:8082", lo, "p-1"));
        assert!(!is_own_url("http://127.0.0.1:8081", ip, "p-1"));
        assert!(!is_own_url("http://p-10:8081", ip, "p-1"));
        assert!(!is_own_url("http://10.0.0.8:8081", any, "p-1"));
        assert!(is_own_url(
            "http://p-1",
            "0.0.0.0:80".parse().expect("address"),
            "p-1"
        ));

        let mut s = settings("p-1");
        s.listen = lo;
        s.peers = vec![
            "http://127.0.0.1:8080".into(),
            "http://127.0.0.1:8081".into(),
            "http://localhost:8081".into(),
        ];
        let peers = discover(&s).expect("explicit");
        let selves: Vec<bool> = peers.iter().map(|p| p.is_self).collect();
        assert_eq!(
            selves,
            [false, true, false],
            "listed twice, recognized once"
        );
    }

    #[test]
    fn rejects_unusable_peer_urls() {
        let mut s = settings("p-1");
        for bad in ["ftp://a:1", "http://a:1/?x=1", "not a url"] {
            s.peers = vec![bad.into()];
            assert!(
                matches!(discover(&s), Err(ClusterError::PeerUrl { .. })),
                "{bad}"
            );
        }
        s.peers = vec!["http://a:1/base/".into()];
        let peers = discover(&s).expect("base path");
        assert_eq!(peers[0].url, "http://a:1/base");
        assert_eq!(peers[0].visits_url(), "http://a:1/base/visits");
    }

    #[test]
    fn knows_which_peers_need_dns() {
        let peer = |url: &str| Peer::new(url, None, false).expect("peer");
        assert!(peer("http://127.0.0.1:8080").has_ip_host());
        assert!(peer("http://[::1]:8080/").has_ip_host());
        assert!(
            !peer("http://app-rust-0.app-rust-headless.default.svc.cluster.local.:8080")
                .has_ip_host()
        );
        assert!(!peer("http://localhost:8080").has_ip_host());
    }

    #[test]
    fn parses_valid_answers() {
        assert_eq!(
            parse_answer(br#"{"visits":12,"pod":"app-rust-0"}"#),
            Ok(PeerAnswer {
                visits: 12,
                pod: "app-rust-0".into()
            })
        );
        assert_eq!(
            parse_answer(br#" {"pod":"p","visits":18446744073709551615,"extra":true} "#),
            Ok(PeerAnswer {
                visits: u64::MAX,
                pod: "p".into()
            })
        );
    }

    #[test]
    fn rejects_garbage_answers() {
        let garbage: [&[u8]; 14] = [
            b"",
            b"12\n",
            b"<html>hi</html>",
            br#"{"visits":-1,"pod":"p"}"#,
            br#"{"visits":1.5,"pod":"p"}"#,
            br#"{"visits":1e3,"pod":"p"}"#,
            br#"{"visits":"12","pod":"p"}"#,
            br#"{"visits":18446744073709551616,"pod":"p"}"#,
            br#"{"visits":12}"#,
            br#"{"pod":"p"}"#,
            br#"{"visits":12,"pod":""}"#,
            br#"{"visits":12,"pod":"a b"}"#,
            br#"{"visits":12,"pod":7}"#,
            b"{\"visits\":12,\"pod\":\"p\"} trailing",
        ];
        for body in garbage {
            let error = parse_answer(body).expect_err(&String::from_utf8_lossy(body));
            assert_eq!(error.reason(), "invalid_answer", "{error}");
        }
        let huge = vec![b' '; MAX_ANSWER_BYTES + 1];
        assert_eq!(parse_answer(&huge), Err(PeerError::TooLarge));
    }

    fn explicit(urls: &[&str], self_index: Option<usize>) -> Vec<Peer> {
        urls.iter()
            .enumerate()
            .map(|(i, url)| Peer::new(url, None, Some(i) == self_index).expect("peer"))
            .collect()
    }

    fn answered(peer: &Peer, pod: &str, visits: u64) -> PeerOutcome {
        PeerOutcome {
            peer: peer.clone(),
            result: Ok(PeerAnswer {
                visits,
                pod: pod.into(),
            }),
        }
    }

    #[test]
    fn counts_itself_once_from_the_local_count() {
        let peers = explicit(&["http://a:1", "http://b:1", "http://c:1"], Some(1));
        let outcomes = [answered(&peers[0], "p-0", 3), answered(&peers[2], "p-2", 7)];
        let view = assemble("p-1", 5, &peers, &outcomes);
        assert_eq!(view.total, 15);
        assert!(view.complete);
        let pods: Vec<(&str, u64)> = view
            .pods
            .iter()
            .map(|p| (p.pod.as_str(), p.visits))
            .collect();
        assert_eq!(pods, [("p-0", 3), ("p-1", 5), ("p-2", 7)]);
        assert_eq!(view.pods[1].url.as_deref(), Some("http://b:1"));
    }

    #[test]
    fn itself_under_an_unrecognized_url_counts_once_with_the_local_count() {
        let peers = explicit(&["http://a:1", "http://b:1"], None);
        // b is us: its HTTP answer (older) is replaced by the local count.
        let outcomes = [answered(&peers[0], "p-0", 3), answered(&peers[1], "p-1", 4)];
        let view = assemble("p-1", 5, &peers, &outcomes);
        assert_eq!(view.total, 8);
        assert_eq!(view.pods.len(), 2);
        assert_eq!(view.pods[1].pod, "p-1");
        assert_eq!(view.pods[1].visits, 5);
    }

    #[test]
    fn itself_not_listed_is_still_counted_first() {
        let peers = explicit(&["http://a:1"], None);
        let outcomes = [answered(&peers[0], "p-0", 3)];
        let view = assemble("p-9", 2, &peers, &outcomes);
        assert_eq!(view.total, 5);
        assert_eq!(view.pods[0].pod, "p-9");
        assert_eq!(view.pods[0].url, None);
        let lone = assemble("p-9", 2, &[], &[]);
        assert_eq!((lone.total, lone.complete, lone.pods.len()), (2, true, 1));
    }

    #[test]
    fn failures_duplicates_and_wrong_pods_are_unreachable() {
        let mut peers = explicit(
            &["http://a:1", "http://b:1", "http://c:1", "http://d:1"],
            Some(0),
        );
        peers[3].expected_pod = Some("p-3".into());
        let outcomes = [
            answered(&peers[1], "p-1", 4),
            answered(&peers[2], "p-1", 4),
            answered(&peers[3], "p-7", 100),
        ];
        let view = assemble("p-0", 1, &peers, &outcomes);
        assert_eq!(view.total, 5);
        assert!(!view.complete);
        let errors: Vec<(&str, &str)> = view
            .unreachable
            .iter()
            .map(|u| (u.url.as_str(), u.error.as_str()))
            .collect();
        assert_eq!(
            errors,
            [
                (
                    "http://c:1",
                    "answered as pod \"p-1\", which another peer URL already answered for"
                ),
                ("http://d:1", "answered as pod \"p-7\", expected \"p-3\""),
            ]
        );
        assert_eq!(view.unreachable[1].pod.as_deref(), Some("p-3"));

        let timeout = PeerOutcome {
            peer: peers[1].clone(),
            result: Err(PeerError::Timeout(Duration::from_millis(300))),
        };
        let view = assemble("p-0", 1, &peers[..2], &[timeout]);
        assert_eq!(view.unreachable[0].error, "timeout after 300 ms");
        assert_eq!((view.total, view.complete), (1, false));
    }

    #[test]
    fn the_text_form_has_a_summary_and_a_line_per_replica() {
        let mut peers = explicit(&["http://a:1", "http://b:1", "http://c:1"], Some(0));
        peers[2].expected_pod = Some("p-2".into());
        let outcomes = [
            answered(&peers[1], "p-1", 4),
            PeerOutcome {
                peer: peers[2].clone(),
                result: Err(PeerError::Timeout(Duration::from_millis(300))),
            },
        ];
        assert_eq!(
            assemble("p-0", 3, &peers, &outcomes).text(),
            "total 7 (partial: 2 of 3 replicas counted)\n\
             p-0 3 http://a:1\n\
             p-1 4 http://b:1\n\
             unreachable p-2 http://c:1: timeout after 300 ms\n"
        );
        assert_eq!(
            assemble("p-9", 2, &[], &[]).text(),
            "total 2 (complete: 1 of 1 replicas counted)\np-9 2 -\n"
        );
    }

    #[test]
    fn the_answer_has_the_documented_shape() {
        let peers = explicit(&["http://a:1", "http://b:1"], Some(0));
        let outcomes = [PeerOutcome {
            peer: peers[1].clone(),
            result: Err(PeerError::Connect("connection refused".into())),
        }];
        let json = serde_json::to_value(assemble("p-0", 3, &peers, &outcomes)).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "scope": "cluster",
                "pod": "p-0",
                "total": 3,
                "complete": false,
                "pods": [{"pod": "p-0", "visits": 3, "url": "http://a:1"}],
                "unreachable": [{"url": "http://b:1", "error": "connection failed: connection refused"}],
            })
        );
    }
}
