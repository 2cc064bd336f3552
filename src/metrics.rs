//! Prometheus metrics (prometheus-client): HTTP requests and latency by route and status, this
//! replica's visit count and readiness, persistence latency, errors and batch sizes, peer
//! queries and answers of the cluster view, and build info.
//!
//! Series that alerts and dashboards select (each peer error reason, each completeness of a
//! cluster answer) are created at zero on start, so a query for them finds a series before
//! the first failure instead of none.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

use crate::readiness::Readiness;
use crate::store::{CommitObserver, VisitStore};

/// Labels of `http_requests_total`. `route` is the matched route pattern, never the raw path,
/// so that arbitrary URLs cannot blow up the number of series.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub route: &'static str,
    pub method: &'static str,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DurationLabels {
    pub route: &'static str,
    pub status: u16,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // An fsync-bound visit takes from a fraction of a millisecond to a few milliseconds.
    Histogram::new([
        0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
        10.0,
    ])
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

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CompletenessLabels {
    /// `true` when every replica of the set was counted.
    pub complete: &'static str,
}

fn completeness(complete: bool) -> CompletenessLabels {
    CompletenessLabels {
        complete: if complete { "true" } else { "false" },
    }
}

fn peer_latency_histogram() -> Histogram {
    // 0.5 ms .. ~1 s: a peer in the same cluster answers in about a millisecond; the timeout
    // defaults to 300 ms.
    Histogram::new(exponential_buckets(0.0005, 2.0, 12))
}

/// The cluster view: `app_peer_request_duration_seconds{outcome}`,
/// `app_peer_errors_total{reason}` and `app_cluster_answers_total{complete}`.
#[derive(Debug, Clone)]
pub struct PeerMetrics {
    durations: HistogramFamily<OutcomeLabels>,
    errors: Family<ReasonLabels, Counter>,
    answers: Family<CompletenessLabels, Counter>,
}

impl Default for PeerMetrics {
    fn default() -> Self {
        let answers = Family::<CompletenessLabels, Counter>::default();
        for complete in [true, false] {
            drop(answers.get_or_create(&completeness(complete)));
        }
        PeerMetrics {
            durations: Family::new_with_constructor(peer_latency_histogram),
            errors: Family::default(),
            answers,
        }
    }
}

impl PeerMetrics {
    fn register(&self, registry: &mut Registry) {
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
        registry.register(
            "app_cluster_answers",
            "Answers for the whole set (the cluster view, the page's total) by whether every replica was counted",
            self.answers.clone(),
        );
    }

    /// Creates the error series of every `reason` at zero.
    pub fn expect_reasons(&self, reasons: &[&'static str]) {
        for &reason in reasons {
            drop(self.errors.get_or_create(&ReasonLabels { reason }));
        }
    }

    /// One answer for the whole set, complete or not.
    pub fn count_answer(&self, complete: bool) {
        self.answers.get_or_create(&completeness(complete)).inc();
    }

    /// One peer query: `outcome` is `ok`, `timeout` or `error`; a failed one also counts
    /// under its `reason`.
    pub fn observe_peer(
        &self,
        elapsed: Duration,
        outcome: &'static str,
        reason: Option<&'static str>,
    ) {
        self.durations
            .get_or_create(&OutcomeLabels { outcome })
            .observe(elapsed.as_secs_f64());
        if let Some(reason) = reason {
            self.count_peer_error(reason);
        }
    }

    pub fn count_peer_error(&self, reason: &'static str) {
        self.errors.get_or_create(&ReasonLabels { reason }).inc();
    }
}

/// Persistence metrics, fed by the store's writer threads through `CommitObserver`.
#[derive(Debug, Clone)]
pub struct PersistMetrics {
    duration: Histogram,
    errors: Counter,
    batch_size: Histogram,
}

impl Default for PersistMetrics {
    fn default() -> Self {
        PersistMetrics {
            duration: latency_histogram(),
            errors: Counter::default(),
            batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 12)),
        }
    }
}

impl PersistMetrics {
    fn register(&self, registry: &mut Registry) {
        registry.register_with_unit(
            "app_persist_duration",
            "Time of one commit of the visit count to disk (write, fsync, rename, fsync dir)",
            Unit::Seconds,
            self.duration.clone(),
        );
        registry.register(
            "app_persist_errors",
            "Commits of the visit count that failed",
            self.errors.clone(),
        );
        registry.register(
            "app_persist_batch_size",
            "Visits made durable by one commit (group commit)",
            self.batch_size.clone(),
        );
    }
}

impl CommitObserver for PersistMetrics {
    fn on_commit(&self, elapsed: Duration, batch_size: usize, ok: bool) {
        self.duration.observe(elapsed.as_secs_f64());
        self.batch_size.observe(batch_size as f64);
        if !ok {
            self.errors.inc();
        }
    }
}

/// What is read at scrape time rather than updated as it happens: `app_visits` (the durable
/// count) and `app_ready` (1 while `/readyz` answers 200, by the same rule).
struct ScrapeTimeCollector {
    store: VisitStore,
    readiness: Readiness,
}

impl fmt::Debug for ScrapeTimeCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScrapeTimeCollector")
            .finish_non_exhaustive()
    }
}

impl Collector for ScrapeTimeCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let visits = ConstCounter::new(self.store.durable());
        visits.encode(encoder.encode_descriptor(
            "app_visits",
            "Visits counted by this replica and durable on disk",
            None,
            visits.metric_type(),
        )?)?;
        let ready = ConstGauge::new(i64::from(self.readiness.check().is_ok()));
        ready.encode(encoder.encode_descriptor(
            "app_ready",
            "1 while this replica is ready for traffic (what /readyz answers), else 0",
            None,
            ready.metric_type(),
        )?)
    }
}

/// The registry and the HTTP metrics the middleware updates.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: HistogramFamily<DurationLabels>,
    peers: PeerMetrics,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    pub fn new(persist: &PersistMetrics, store: VisitStore, readiness: Readiness) -> Arc<Metrics> {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by matched route, method and status",
            requests.clone(),
        );
        let durations: HistogramFamily<DurationLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "http_request_duration",
            "HTTP request latency by matched route and status",
            Unit::Seconds,
            durations.clone(),
        );
        persist.register(&mut registry);
        registry.register(
            "app_build",
            "Build information",
            Info::new(vec![
                ("version", env!("CARGO_PKG_VERSION")),
                ("name", env!("CARGO_PKG_NAME")),
            ]),
        );
        registry.register_collector(Box::new(ScrapeTimeCollector { store, readiness }));
        let peers = PeerMetrics::default();
        peers.register(&mut registry);
        Arc::new(Metrics {
            registry,
            requests,
            durations,
            peers,
        })
    }

    /// The cluster view's peer query metrics.
    pub fn peers(&self) -> &PeerMetrics {
        &self.peers
    }

    /// One request. The labels are static strings, so counting a request allocates nothing.
    pub fn observe_request(
        &self,
        route: &'static str,
        method: &'static str,
        status: u16,
        elapsed: Duration,
    ) {
        self.requests
            .get_or_create(&RequestLabels {
                route,
                method,
                status,
            })
            .inc();
        self.durations
            .get_or_create(&DurationLabels { route, status })
            .observe(elapsed.as_secs_f64());
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> Result<String, fmt::Error> {
        let mut out = String::with_capacity(8 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}
