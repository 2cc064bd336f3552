//! The cluster view across real instances: three replicas on 127.0.0.1 with explicit peers,
//! a stopped replica, peers that never answer or answer garbage, and derived peer names
//! resolved through a fake DNS server on 127.0.0.1 that never answers or says NXDOMAIN.

//!
//! - `replicas`: real replicas in process and as processes; `peers`: peers that misbehave;
//!   `dns`: derived names through a fake name server, and check-config on derived peers.

mod dns;
mod peers;
mod replicas;

use crate::common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use app_rust::Config;
use app_rust::cluster::{
    Cluster, ClusterSettings, ClusterView, DiscoverySettings, DnsSource,
    MAX_PEER_QUERIES_IN_FLIGHT, PAGE_PEERS_MAX_AGE, PodCount,
};
use app_rust::config::PeerDiscovery;
use app_rust::metrics::PeerMetrics;
use app_rust::page::PageJson;
use app_rust::server::Application;
use app_rust::validated::{DnsLabel, DnsName};
use common::{BinApp, Serving, client, run_bin};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

const PEER_TIMEOUT_MS: u64 = 300;
const DEADLINE_MS: u64 = 800;
/// Scheduling slack on a shared 2-core machine running debug builds.
const MARGIN: Duration = Duration::from_millis(400);

fn deadline_with_margin() -> Duration {
    Duration::from_millis(DEADLINE_MS) + MARGIN
}

/// One replica served in-process on a listener bound before any replica starts.
struct Replica {
    pod: String,
    url: String,
    _data: TempDir,
    /// None for a replica run as a separate process.
    serving: Option<Serving>,
}

impl Replica {
    fn at(&self, path: &str) -> String {
        format!("{}{}", self.url, path)
    }

    /// Graceful stop, as on SIGTERM: listener and every connection closed.
    async fn stop(self) {
        if let Some(serving) = self.serving {
            serving.stop().await;
        }
    }
}

async fn bind_local() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    (listener, format!("http://{addr}"))
}

/// Starts `count` replicas `app-rust-<i>`; each one's peer list names every replica (itself
/// included) plus `extra_peers`.
async fn start_set(count: usize, extra_peers: &[String]) -> Vec<Replica> {
    let mut listeners = Vec::new();
    for _ in 0..count {
        listeners.push(bind_local().await);
    }
    let mut peers: Vec<String> = listeners.iter().map(|(_, url)| url.clone()).collect();
    peers.extend_from_slice(extra_peers);
    let mut replicas = Vec::new();
    for (ordinal, (listener, url)) in listeners.into_iter().enumerate() {
        let data = tempfile::Builder::new()
            .prefix("app-rust-cluster-")
            .tempdir()
            .expect("a temp dir");
        let pod = format!("app-rust-{ordinal}");
        let mut config = Config::for_data_dir(data.path());
        config.pod_name = common::pod_name(&pod);
        config.peers = peers.iter().map(|url| common::peer_url(url)).collect();
        config.peer_timeout = Duration::from_millis(PEER_TIMEOUT_MS);
        config.cluster_deadline = Duration::from_millis(DEADLINE_MS);
        config.log_level = "warn".into();
        let application = Application::build_with_listener(config, listener)
            .await
            .expect("the replica starts");
        replicas.push(Replica {
            pod,
            url,
            _data: data,
            serving: Some(Serving::start(application)),
        });
    }
    replicas
}

async fn visit(client: &reqwest::Client, replica: &Replica, times: u64) {
    for _ in 0..times {
        let response = client
            .get(replica.at("/"))
            .send()
            .await
            .expect("the page answers");
        assert_eq!(response.status(), 200);
    }
}

async fn local_count(client: &reqwest::Client, replica: &Replica) -> u64 {
    let (_, text) = common::get_text(client, &replica.at("/visits")).await;
    text.trim().parse().expect("a count")
}

/// `GET /visits?scope=cluster` and how long it took.
async fn cluster_view(client: &reqwest::Client, replica: &Replica) -> (ClusterView, Duration) {
    let started = Instant::now();
    let response = client
        .get(replica.at("/visits?scope=cluster"))
        .send()
        .await
        .expect("the cluster view answers");
    assert_eq!(response.status(), 200);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let view = response.json().await.expect("the cluster view is JSON");
    (view, started.elapsed())
}

/// The page reuses the other replicas' counts for `PAGE_PEERS_MAX_AGE` (the visits above were
/// page views too); wait until the next page asks the peers again.
/// `GET /` as JSON: counts one visit on `replica`.
async fn page_json(client: &reqwest::Client, replica: &Replica) -> PageJson {
    page_json_at(client, &replica.at("/")).await
}

async fn page_json_at(client: &reqwest::Client, url: &str) -> PageJson {
    let body = common::get_accepting(client, url, "application/json").await;
    serde_json::from_str(&body).expect("the page is JSON")
}

async fn let_page_snapshot_expire() {
    tokio::time::sleep(PAGE_PEERS_MAX_AGE + Duration::from_millis(50)).await;
}

fn count(replica: &Replica, visits: u64) -> PodCount {
    PodCount {
        pod: replica.pod.clone(),
        visits,
        url: Some(replica.url.clone()),
    }
}
