//! The cluster view: any replica answers for the whole StatefulSet by asking every other
//! replica for its local count at read time.
//!
//! Each peer is asked only for its local count (`GET /visits`, JSON), never for
//! `scope=cluster`, so a cluster answer never fans out further. Peers are asked in parallel,
//! each bounded by the per-peer timeout (DNS, connect and response together) and all of them
//! by the cluster deadline; a peer that is missing, slow or answers garbage is reported as
//! unreachable and the answer is marked incomplete. This replica's own count is always read
//! locally, and counted exactly once.
//!
//! - `discovery`: which replicas make up the set;
//! - `client`: asking one peer over HTTP (DNS, pool, retry);
//! - `answer`: what a peer answers, and the ways asking fails;
//! - `view`: assembling the answer from one outcome per replica;
//! - this file: asking them all within the deadline, and the page's short-lived cache.

mod answer;
mod client;
mod discovery;
mod view;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, Semaphore};
use tokio::task::JoinSet;

pub use crate::dns::DnsSource;
pub use answer::{MAX_ANSWER_BYTES, PeerAnswer, PeerError, parse_answer};
pub use discovery::{DiscoveryError, DiscoverySettings, Membership, Peer, membership};
pub use view::{ClusterView, Outcome, PageCluster, PeerOutcome, PodCount, Unreachable, assemble};

use crate::config::{Config, ConfigError};
use crate::metrics::PeerMetrics;
use client::PeerClient;
use discovery::ServiceLookup;

/// How long the page reuses the other replicas' counts before asking them again, so that
/// page traffic does not multiply into peer traffic. `/visits?scope=cluster` never uses it.
pub const PAGE_PEERS_MAX_AGE: Duration = Duration::from_secs(1);

/// Peer queries in flight at once from this replica, across all concurrent cluster answers:
/// bounds sockets and tasks however many replicas are listed and however many clients ask.
/// A query waiting for a slot counts against the cluster deadline like any other delay.
pub const MAX_PEER_QUERIES_IN_FLIGHT: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
}

/// What the cluster view needs from the configuration.
#[derive(Debug, Clone)]
pub struct ClusterSettings {
    pub discovery: DiscoverySettings,
    pub peer_timeout: Duration,
    pub cluster_deadline: Duration,
    pub dns: DnsSource,
}

impl ClusterSettings {
    /// The cluster settings of `config`, for a service listening on `listening_on` (the bound
    /// address: the configured port may be 0).
    pub fn from_config(config: &Config, listening_on: SocketAddr) -> Result<Self, ClusterError> {
        Ok(ClusterSettings {
            discovery: DiscoverySettings {
                pod_name: config.pod_name.clone(),
                listen: listening_on,
                discovery: config.peer_discovery()?,
                pod_ip: config.pod_ip,
                cluster_domain: config.cluster_domain.clone(),
            },
            peer_timeout: config.peer_timeout,
            cluster_deadline: config.cluster_deadline,
            dns: DnsSource::System,
        })
    }
}

/// The other replicas' outcomes at one moment, reused by the page for a short while.
struct PeersSnapshot {
    taken: Instant,
    outcomes: Arc<Vec<PeerOutcome>>,
}

/// Asks the peers and assembles cluster answers. Created once; cheap to share.
pub struct Cluster {
    pod: String,
    membership: Membership,
    client: PeerClient,
    /// The per-peer timeout, never longer than the deadline.
    per_peer: Duration,
    deadline: Duration,
    metrics: PeerMetrics,
    page_snapshot: Mutex<Option<PeersSnapshot>>,
    in_flight: Arc<Semaphore>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("pod", &self.pod)
            .field("membership", &self.membership)
            .field("per_peer", &self.per_peer)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Discovers the peers and creates the one HTTP client (with its connection pool) used for
    /// every peer query. Must be called inside the Tokio runtime.
    pub fn new(settings: &ClusterSettings, metrics: PeerMetrics) -> Result<Cluster, ClusterError> {
        let membership = membership(&settings.discovery)?;
        let per_peer = settings.peer_timeout.min(settings.cluster_deadline);
        let needs_dns = match &membership {
            Membership::Fixed(peers) => peers
                .iter()
                .any(|peer| !peer.is_self && !peer.url.host_is_ip()),
            Membership::HeadlessService(_) => true,
        };
        let client = PeerClient::new(settings.dns.clone(), needs_dns, per_peer);
        match &membership {
            Membership::Fixed(peers) if !peers.is_empty() => tracing::info!(
                peers = ?peers.iter().map(|p| p.url.as_str()).collect::<Vec<_>>(),
                this_pod = %settings.discovery.pod_name,
                recognized_self = peers.iter().any(|p| p.is_self),
                "cluster view: peers configured"
            ),
            Membership::HeadlessService(lookup) => tracing::info!(
                service = lookup.host(),
                this_pod = %settings.discovery.pod_name,
                pod_ip = ?settings.discovery.pod_ip,
                "cluster view: the members are the headless Service's addresses, looked up at every view"
            ),
            Membership::Fixed(_) => {}
        }
        metrics.expect_reasons(PeerError::REASONS);
        Ok(Cluster {
            pod: settings.discovery.pod_name.to_string(),
            membership,
            client,
            per_peer,
            deadline: settings.cluster_deadline,
            metrics,
            page_snapshot: Mutex::new(None),
            in_flight: Arc::new(Semaphore::new(MAX_PEER_QUERIES_IN_FLIGHT)),
        })
    }

    /// Whether peers are configured (the page shows a cluster total only then).
    pub fn has_peers(&self) -> bool {
        match &self.membership {
            Membership::Fixed(peers) => !peers.is_empty(),
            Membership::HeadlessService(_) => true,
        }
    }

    /// The full cluster answer, asking every other replica now. `local_visits` is this
    /// replica's own count. Returns within the cluster deadline.
    pub async fn view(&self, local_visits: u64) -> ClusterView {
        let outcomes = self.ask_peers().await;
        self.assemble_counted(local_visits, &outcomes)
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
        Some(
            self.assemble_counted(local_visits, &outcomes)
                .page_summary(),
        )
    }

    /// The answer for the whole set, counted in `app_cluster_answers_total` by completeness.
    fn assemble_counted(&self, local_visits: u64, outcomes: &[PeerOutcome]) -> ClusterView {
        let view = assemble(&self.pod, local_visits, outcomes);
        self.metrics.count_answer(view.complete);
        view
    }

    /// One outcome per member of the set, in order: this replica itself, or what asking it
    /// gave. With a headless Service the members are looked up first; a failed lookup is the
    /// one outcome. Bounded by the cluster deadline whatever the peers and DNS do.
    async fn ask_peers(&self) -> Vec<PeerOutcome> {
        let deadline = tokio::time::Instant::now() + self.deadline;
        let peers = match &self.membership {
            Membership::Fixed(peers) => peers.clone(),
            Membership::HeadlessService(lookup) => match self.look_up_members(lookup).await {
                Ok(peers) => peers,
                Err(failed) => return vec![failed],
            },
        };
        let mut tasks = JoinSet::new();
        for (index, peer) in peers.iter().enumerate().filter(|(_, p)| !p.is_self) {
            let client = self.client.clone();
            let uri = peer.url.visits_uri().clone();
            let metrics = self.metrics.clone();
            let in_flight = Arc::clone(&self.in_flight);
            let per_peer = self.per_peer;
            tasks.spawn(async move {
                // The semaphore is never closed; if it were, asking without a slot is still
                // bounded by the timeout.
                let _slot = in_flight.acquire_owned().await.ok();
                let started = Instant::now();
                let result = within(per_peer, client.ask_twice(&uri)).await;
                observe_peer(&metrics, started.elapsed(), &result.as_ref().map(|_| ()));
                (index, result)
            });
        }
        let mut results: Vec<Option<Result<PeerAnswer, PeerError>>> = vec![None; peers.len()];
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
        peers
            .into_iter()
            .zip(results)
            .map(|(peer, result)| {
                let result = match (peer.is_self, result) {
                    (true, _) => Outcome::Itself,
                    (false, Some(Ok(answer))) => Outcome::Answered(answer),
                    (false, Some(Err(error))) => Outcome::Failed(error),
                    (false, None) => {
                        let error = PeerError::Deadline(self.deadline);
                        self.metrics.count_peer_error(error.reason());
                        Outcome::Failed(error)
                    }
                };
                if let Outcome::Failed(error) = &result {
                    tracing::debug!(peer = %peer.url, %error, "peer not counted");
                }
                PeerOutcome { peer, result }
            })
            .collect()
    }

    /// The members the headless Service's name resolves to now, or the one outcome that
    /// reports why they are not known.
    async fn look_up_members(&self, lookup: &ServiceLookup) -> Result<Vec<Peer>, PeerOutcome> {
        let started = Instant::now();
        let looked_up = within(self.per_peer, self.client.resolve(lookup.host())).await;
        observe_peer(
            &self.metrics,
            started.elapsed(),
            &looked_up.as_ref().map(|_| ()),
        );
        looked_up
            .map(|addresses| lookup.members(&addresses))
            .map_err(|error| {
                let detail = match error {
                    PeerError::Dns(detail) => detail,
                    other => other.to_string(),
                };
                let error = PeerError::Dns(format!("the members of the set: {detail}"));
                tracing::debug!(%error, "cluster view: no members");
                PeerOutcome {
                    peer: lookup.as_peer(),
                    result: Outcome::Failed(error),
                }
            })
    }
}

/// `question`, cut short after `limit` as a `PeerError::Timeout`.
async fn within<T>(
    limit: Duration,
    question: impl Future<Output = Result<T, PeerError>>,
) -> Result<T, PeerError> {
    tokio::time::timeout(limit, question)
        .await
        .unwrap_or(Err(PeerError::Timeout(limit)))
}

/// A peer query (or the lookup of the members) in the peer metrics.
fn observe_peer(metrics: &PeerMetrics, elapsed: Duration, result: &Result<(), &PeerError>) {
    let (outcome, reason) = match result {
        Ok(()) => ("ok", None),
        Err(error) if error.is_timeout() => ("timeout", Some(error.reason())),
        Err(error) => ("error", Some(error.reason())),
    };
    metrics.observe_peer(elapsed, outcome, reason);
}
