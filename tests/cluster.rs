//! The cluster view across real instances: three replicas on 127.0.0.1 with explicit peers,
//! a stopped replica, peers that never answer or answer garbage, and derived peer names
//! resolved through a fake DNS server on 127.0.0.1 that never answers or says NXDOMAIN.

mod common;

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
    let text = client
        .get(replica.at("/visits"))
        .send()
        .await
        .expect("/visits answers")
        .text()
        .await
        .expect("a body");
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
    client
        .get(replica.at("/"))
        .header("accept", "application/json")
        .send()
        .await
        .expect("the page answers")
        .json()
        .await
        .expect("the page is JSON")
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

#[tokio::test]
async fn every_replica_answers_the_exact_total_and_breakdown() {
    let set = start_set(3, &[]).await;
    let client = client();
    for (replica, times) in set.iter().zip([3, 5, 7]) {
        visit(&client, replica, times).await;
    }
    let expected_pods = vec![count(&set[0], 3), count(&set[1], 5), count(&set[2], 7)];
    for replica in &set {
        let (view, _) = cluster_view(&client, replica).await;
        assert_eq!(view.scope, "cluster");
        assert_eq!(view.pod, replica.pod, "the responder names itself");
        assert_eq!(view.total, 15);
        assert!(view.complete, "{view:?}");
        assert_eq!(view.pods, expected_pods, "asked {}", replica.pod);
        assert!(view.unreachable.is_empty(), "{view:?}");
    }
    // The plain-text form, for people with curl.
    let text = client
        .get(set[2].at("/visits?scope=cluster"))
        .header("accept", "text/plain")
        .send()
        .await
        .expect("the cluster view answers")
        .text()
        .await
        .expect("a body");
    let expected_text = format!(
        "total 15 (complete: 3 of 3 replicas counted)\n{} 3 {}\n{} 5 {}\n{} 7 {}\n",
        set[0].pod, set[0].url, set[1].pod, set[1].url, set[2].pod, set[2].url
    );
    assert_eq!(text, expected_text);
    // Asking for the cluster view counted no visit anywhere.
    for (replica, expected) in set.iter().zip([3, 5, 7]) {
        assert_eq!(local_count(&client, replica).await, expected);
    }

    // The page counts exactly one visit (here) and shows the cluster total beside it.
    let_page_snapshot_expire().await;
    let page = page_json(&client, &set[1]).await;
    assert_eq!(page.visits, 6);
    let cluster = page.cluster.expect("peers are configured");
    assert_eq!((cluster.total, cluster.complete), (16, true));
    assert_eq!((cluster.counted, cluster.listed), (3, 3));
    let html = client
        .get(set[0].at("/"))
        .send()
        .await
        .expect("the page answers")
        .text()
        .await
        .expect("a body");
    // 3+1 here, 6 and 7 from the peers.
    assert!(html.contains(r#"<dd id="visits">4</dd>"#), "{html}");
    assert!(
        html.contains(r#"<dd id="cluster-total" data-complete="true">17</dd>"#),
        "{html}"
    );
    for (replica, expected) in set.iter().zip([4, 6, 7]) {
        assert_eq!(local_count(&client, replica).await, expected);
    }

    for replica in set {
        replica.stop().await;
    }
}

/// After one of three replicas (3, 5 and 7 visits) is gone, each survivor answers within the
/// deadline with its own and the other survivor's counts, and names the gone one.
async fn assert_survivors_see_a_partial_view(
    client: &reqwest::Client,
    survivors: &[Replica],
    gone_url: &str,
) {
    for replica in survivors {
        let (view, elapsed) = cluster_view(client, replica).await;
        assert!(elapsed < deadline_with_margin(), "took {elapsed:?}");
        assert!(!view.complete, "{view:?}");
        assert_eq!(view.total, 8);
        assert_eq!(
            view.pods,
            vec![count(&survivors[0], 3), count(&survivors[1], 5)]
        );
        assert_eq!(view.unreachable.len(), 1, "{view:?}");
        assert_eq!(view.unreachable[0].url, gone_url);
        assert!(
            view.unreachable[0].error.starts_with("connection failed"),
            "{view:?}"
        );
    }
}

#[tokio::test]
async fn a_stopped_replica_makes_the_answer_incomplete_within_the_deadline() {
    let mut set = start_set(3, &[]).await;
    let client = client();
    for (replica, times) in set.iter().zip([3, 5, 7]) {
        visit(&client, replica, times).await;
    }
    // Warm the peers' connection pools so that the stop also closes pooled connections.
    let (view, _) = cluster_view(&client, &set[0]).await;
    assert_eq!((view.total, view.complete), (15, true));

    let stopped = set.pop().expect("three replicas");
    let stopped_url = stopped.url.clone();
    stopped.stop().await;

    assert_survivors_see_a_partial_view(&client, &set, &stopped_url).await;

    // Local visits are not affected; the page marks the total as partial.
    let_page_snapshot_expire().await;
    let started = Instant::now();
    let html = client
        .get(set[0].at("/"))
        .send()
        .await
        .expect("the page answers")
        .text()
        .await
        .expect("a body");
    assert!(started.elapsed() < deadline_with_margin());
    assert!(html.contains(r#"<dd id="visits">4</dd>"#), "{html}");
    assert!(
        html.contains(r#"data-complete="false">9 <span class="partial">(partial: 2 of 3 replicas answered)</span>"#),
        "{html}"
    );
    assert_eq!(local_count(&client, &set[0]).await, 4);
    assert_eq!(local_count(&client, &set[1]).await, 5);

    for replica in set {
        replica.stop().await;
    }
}

#[tokio::test]
async fn a_killed_replica_process_makes_the_answer_incomplete_within_the_deadline() {
    // Two replicas in-process and the third as the real binary, so that it can be SIGKILLed:
    // no graceful close, the kernel drops its sockets. Its port is picked by binding port 0
    // and releasing it just before the binary binds it (the only port not held throughout).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port on 127.0.0.1")
        .port();
    let killed_url = format!("http://127.0.0.1:{port}");
    let set = start_set(2, std::slice::from_ref(&killed_url)).await;
    let peers = format!("{},{},{killed_url}", set[0].url, set[1].url);
    let data = tempfile::tempdir().expect("a temp dir");
    let listen = format!("127.0.0.1:{port}");
    let mut child = BinApp::spawn(
        data.path(),
        &[
            "--listen",
            &listen,
            "--pod-name",
            "app-rust-2",
            "--peers",
            &peers,
        ],
        &[],
    );
    let client = client();
    let killed = Replica {
        pod: "app-rust-2".into(),
        url: killed_url.clone(),
        _data: data,
        serving: None,
    };
    visit(&client, &set[0], 3).await;
    visit(&client, &set[1], 5).await;
    visit(&client, &killed, 7).await;
    let everyone = vec![count(&set[0], 3), count(&set[1], 5), count(&killed, 7)];
    for replica in [&set[0], &set[1], &killed] {
        let (view, _) = cluster_view(&client, replica).await;
        assert_eq!((view.total, view.complete), (15, true), "{view:?}");
        assert_eq!(view.pods, everyone);
    }

    child.child.kill().expect("SIGKILL the binary");
    child.child.wait().expect("reap the binary");
    assert_survivors_see_a_partial_view(&client, &set, &killed_url).await;
    visit(&client, &set[1], 1).await;
    assert_eq!(local_count(&client, &set[1]).await, 6);
    for replica in set {
        replica.stop().await;
    }
}

/// A TCP server on 127.0.0.1 that accepts connections and never answers.
async fn silent_peer() -> (String, JoinHandle<()>) {
    let (listener, url) = bind_local().await;
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    (url, task)
}

/// A TCP server on 127.0.0.1 that reads a request and answers `answer`, then closes.
async fn scripted_peer(answer: Vec<u8>) -> (String, JoinHandle<()>) {
    let (listener, url) = bind_local().await;
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 2048];
                let _ = stream.read(&mut buf).await;
                let _ = stream.write_all(&answer).await;
                let _ = stream.shutdown().await;
            });
        }
    });
    (url, task)
}

fn http_answer(content_type: &str, body: &[u8]) -> Vec<u8> {
    let mut answer = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(body);
    answer
}

#[tokio::test]
async fn silent_and_garbage_peers_are_unreachable_within_the_deadline() {
    let (silent, silent_task) = silent_peer().await;
    let (not_http, not_http_task) =
        scripted_peer(b"\x00\x01garbage, not HTTP\r\n\r\n".to_vec()).await;
    let (bad_json, bad_json_task) = scripted_peer(http_answer(
        "application/json",
        br#"{"visits":-3,"pod":"x"}"#,
    ))
    .await;
    let (huge, huge_task) =
        scripted_peer(http_answer("application/json", &vec![b' '; 1 << 20])).await;
    let extra = vec![
        silent.clone(),
        not_http.clone(),
        bad_json.clone(),
        huge.clone(),
    ];
    let set = start_set(2, &extra).await;
    let client = client();
    visit(&client, &set[0], 2).await;
    visit(&client, &set[1], 3).await;

    let (view, elapsed) = cluster_view(&client, &set[0]).await;
    assert!(elapsed < deadline_with_margin(), "took {elapsed:?}");
    assert!(
        elapsed >= Duration::from_millis(PEER_TIMEOUT_MS),
        "the silent peer was waited for up to its timeout: {elapsed:?}"
    );
    assert!(!view.complete);
    assert_eq!(view.total, 5);
    assert_eq!(view.pods, vec![count(&set[0], 2), count(&set[1], 3)]);
    let errors: Vec<(&str, &str)> = view
        .unreachable
        .iter()
        .map(|u| (u.url.as_str(), u.error.as_str()))
        .collect();
    assert_eq!(errors.len(), 4, "{errors:?}");
    assert_eq!(errors[0], (silent.as_str(), "timeout after 300 ms"));
    assert_eq!(errors[1].0, not_http);
    assert!(
        errors[1].1.starts_with("HTTP exchange failed"),
        "{errors:?}"
    );
    assert_eq!(errors[2].0, bad_json);
    assert!(errors[2].1.starts_with("invalid answer"), "{errors:?}");
    assert_eq!(errors[3], (huge.as_str(), "answer larger than 4096 bytes"));

    // The page still counts exactly one visit, bounded by the deadline.
    let_page_snapshot_expire().await;
    let started = Instant::now();
    let page = page_json(&client, &set[0]).await;
    assert!(started.elapsed() < deadline_with_margin());
    assert_eq!(page.visits, 3);
    let cluster = page.cluster.expect("peers are configured");
    assert_eq!(
        (
            cluster.total,
            cluster.complete,
            cluster.counted,
            cluster.listed
        ),
        (6, false, 2, 6)
    );

    // The peer metrics count what happened.
    let metrics = client
        .get(set[0].at("/metrics"))
        .send()
        .await
        .expect("/metrics answers")
        .text()
        .await
        .expect("a body");
    let sample = |name: &str| -> f64 {
        metrics
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no sample {name} in\n{metrics}"))
    };
    assert!(sample(r#"app_peer_errors_total{reason="timeout"}"#) >= 2.0);
    assert!(sample(r#"app_peer_errors_total{reason="http"}"#) >= 2.0);
    assert!(sample(r#"app_peer_errors_total{reason="invalid_answer"}"#) >= 2.0);
    assert!(sample(r#"app_peer_errors_total{reason="too_large"}"#) >= 2.0);
    assert!(sample(r#"app_peer_request_duration_seconds_count{outcome="ok"}"#) >= 2.0);
    assert!(sample(r#"app_peer_request_duration_seconds_count{outcome="timeout"}"#) >= 2.0);

    for replica in set {
        replica.stop().await;
    }
    for task in [silent_task, not_http_task, bad_json_task, huge_task] {
        task.abort();
    }
}

#[tokio::test]
async fn queries_in_flight_are_bounded_and_the_deadline_still_holds() {
    // More silent peers than query slots: 64 at a time, 300 ms each, so a third round cannot
    // finish before the 800 ms deadline. Without the bound all would time out at 300 ms.
    let silent_count = 150;
    let mut urls = Vec::new();
    let mut tasks = Vec::new();
    for _ in 0..silent_count {
        let (url, task) = silent_peer().await;
        urls.push(url);
        tasks.push(task);
    }
    let set = start_set(1, &urls).await;
    let client = client();
    let (view, elapsed) = cluster_view(&client, &set[0]).await;
    assert!(elapsed < deadline_with_margin(), "took {elapsed:?}");
    assert!(!view.complete);
    assert_eq!(view.pods, vec![count(&set[0], 0)]);
    assert_eq!(view.unreachable.len(), silent_count);
    let timeouts = view
        .unreachable
        .iter()
        .filter(|u| u.error == "timeout after 300 ms")
        .count();
    let deadlines = view
        .unreachable
        .iter()
        .filter(|u| u.error == "cluster deadline of 800 ms reached")
        .count();
    assert_eq!(timeouts + deadlines, silent_count, "{:?}", view.unreachable);
    assert!(
        timeouts <= 2 * MAX_PEER_QUERIES_IN_FLIGHT,
        "{timeouts} queries ran to their timeout: more than two rounds of {MAX_PEER_QUERIES_IN_FLIGHT}"
    );
    assert!(deadlines >= silent_count - 2 * MAX_PEER_QUERIES_IN_FLIGHT);
    for replica in set {
        replica.stop().await;
    }
    for task in tasks {
        task.abort();
    }
}

/// Reads one request head; `None` at the end of the connection.
async fn read_head(stream: &mut tokio::net::TcpStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

#[tokio::test]
async fn a_pooled_connection_the_peer_dropped_is_retried_once() {
    // A peer that answers the first request of its first connection, keeps the connection
    // open, then drops it when the next request arrives on it (as a restarted peer's old
    // connection would fail). Every later connection is answered normally.
    let (listener, url) = bind_local().await;
    let (connections_tx, mut connections_rx) = mpsc::unbounded_channel::<()>();
    let peer = tokio::spawn(async move {
        let mut first = true;
        while let Ok((mut stream, _)) = listener.accept().await {
            let _ = connections_tx.send(());
            let drop_second_request = std::mem::take(&mut first);
            tokio::spawn(async move {
                let mut answered = 0;
                while read_head(&mut stream).await.is_some() {
                    if drop_second_request && answered == 1 {
                        return;
                    }
                    let body = br#"{"visits":40,"pod":"elsewhere-0"}"#;
                    let mut answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                        body.len()
                    )
                    .into_bytes();
                    answer.extend_from_slice(body);
                    if stream.write_all(&answer).await.is_err() {
                        return;
                    }
                    answered += 1;
                }
            });
        }
    });
    let set = start_set(1, std::slice::from_ref(&url)).await;
    let client = client();
    for _ in 0..2 {
        let (view, _) = cluster_view(&client, &set[0]).await;
        assert!(view.complete, "{view:?}");
        assert_eq!(view.total, 40);
    }
    let mut connections = 0;
    while connections_rx.try_recv().is_ok() {
        connections += 1;
    }
    assert_eq!(
        connections, 2,
        "the second view reused, lost and replaced the connection"
    );
    for replica in set {
        replica.stop().await;
    }
    peer.abort();
}

#[tokio::test]
async fn peers_are_asked_for_their_local_count_only() {
    // A fake peer that records every request head and answers a valid local count.
    let (listener, url) = bind_local().await;
    let (heads_tx, mut heads_rx) = mpsc::unbounded_channel::<String>();
    let recorder = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let heads_tx = heads_tx.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = heads_tx.send(String::from_utf8_lossy(&head).into_owned());
                let body = br#"{"visits":40,"pod":"elsewhere-0"}"#;
                let _ = stream
                    .write_all(&http_answer("application/json", body))
                    .await;
            });
        }
    });
    let set = start_set(1, std::slice::from_ref(&url)).await;
    let client = client();
    visit(&client, &set[0], 2).await;
    let (view, _) = cluster_view(&client, &set[0]).await;
    assert_eq!(view.total, 42);
    assert!(view.complete, "{view:?}");
    assert_eq!(
        view.pods,
        vec![
            count(&set[0], 2),
            PodCount {
                pod: "elsewhere-0".into(),
                visits: 40,
                url: Some(url),
            }
        ]
    );
    for replica in set {
        replica.stop().await;
    }
    recorder.abort();
    let mut heads = Vec::new();
    while let Ok(head) = heads_rx.try_recv() {
        heads.push(head);
    }
    // The page asked (then reused the answer for a while) and the cluster view asked; never
    // scope=cluster, which would make every replica ask every other one again.
    assert!(heads.len() >= 2, "{heads:?}");
    for head in heads {
        assert_eq!(head.lines().next(), Some("GET /visits HTTP/1.1"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("\r\naccept: application/json\r\n"),
            "{head}"
        );
    }
}

#[tokio::test]
async fn a_lone_replica_answers_for_itself() {
    let data = tempfile::tempdir().expect("a temp dir");
    let mut config = Config::for_data_dir(data.path());
    config.pod_name = common::pod_name("solo-0");
    let application = Application::build(config).await.expect("starts");
    let url = format!("http://127.0.0.1:{}", application.port());
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until_stopped(async {
        let _ = rx.await;
    }));
    let client = client();
    let page: PageJson = client
        .get(format!("{url}/"))
        .header("accept", "application/json")
        .send()
        .await
        .expect("the page answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!(page.cluster, None, "no cluster total without peers");
    let view: ClusterView = client
        .get(format!("{url}/visits?scope=cluster"))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("JSON");
    assert_eq!((view.total, view.complete), (1, true));
    assert_eq!(
        view.pods,
        vec![PodCount {
            pod: "solo-0".into(),
            visits: 1,
            url: None
        }]
    );
    let _ = tx.send(());
    server.await.expect("no panic").expect("clean stop");
}

/// A DNS server on 127.0.0.1 (UDP) that answers NXDOMAIN for names starting with
/// `missing_prefix` and never answers anything else, like a name server that is down.
async fn fake_dns(missing_prefix: &'static str) -> (SocketAddr, JoinHandle<()>) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind udp");
    let addr = socket.local_addr().expect("udp address");
    let task = tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        while let Ok((n, from)) = socket.recv_from(&mut buf).await {
            let query = &buf[..n];
            let Some((name, question_end)) = question(query) else {
                continue;
            };
            if !name.starts_with(missing_prefix) {
                continue;
            }
            let mut answer = query[..question_end].to_vec();
            answer[2] = 0x80 | (query[2] & 0x79); // QR, opcode, RD
            answer[3] = 0x80 | 3; // RA, RCODE=NXDOMAIN
            answer[6..12].fill(0); // no answer, authority or additional records
            let _ = socket.send_to(&answer, from).await;
        }
    });
    (addr, task)
}

/// The first question's name (dotted, lowercase) and where the question section ends.
fn question(packet: &[u8]) -> Option<(String, usize)> {
    let mut at = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*packet.get(at)?);
        at += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(packet.get(at..at + len)?).to_ascii_lowercase());
        at += len;
    }
    let end = at + 4;
    (end <= packet.len()).then(|| (labels.join("."), end))
}

#[tokio::test]
async fn derived_peers_that_do_not_resolve_never_block_the_answer() {
    // Derived names: app-rust-0 (us), app-rust-1 (NXDOMAIN: not created yet), app-rust-2
    // (the name server never answers).
    let (dns, dns_task) = fake_dns("app-rust-1.").await;
    let settings = ClusterSettings {
        discovery: DiscoverySettings {
            pod_name: common::pod_name("app-rust-0"),
            listen: "127.0.0.1:8080".parse().expect("address"),
            discovery: PeerDiscovery::StatefulSet {
                set: "app-rust".into(),
                service: DnsLabel::parse("app-rust-headless").expect("a label"),
                namespace: DnsLabel::parse("default").expect("a label"),
                replicas: 3,
            },
            ordinal_start: 0,
            cluster_domain: DnsName::parse("cluster.local").expect("a domain"),
        },
        peer_timeout: Duration::from_millis(PEER_TIMEOUT_MS),
        cluster_deadline: Duration::from_millis(DEADLINE_MS),
        dns: DnsSource::NameServer(dns),
    };
    let cluster = Cluster::new(&settings, PeerMetrics::default()).expect("derived peers");
    let started = Instant::now();
    let view = cluster.view(9).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_millis(PEER_TIMEOUT_MS) + MARGIN,
        "took {elapsed:?}"
    );
    assert_eq!((view.total, view.complete), (9, false));
    assert_eq!(
        view.pods,
        vec![PodCount {
            pod: "app-rust-0".into(),
            visits: 9,
            url: Some("http://app-rust-0.app-rust-headless.default.svc.cluster.local.:8080".into()),
        }]
    );
    let unreachable: Vec<(Option<&str>, &str)> = view
        .unreachable
        .iter()
        .map(|u| (u.pod.as_deref(), u.error.as_str()))
        .collect();
    assert_eq!(unreachable.len(), 2, "{unreachable:?}");
    assert_eq!(unreachable[0].0, Some("app-rust-1"));
    assert_eq!(
        unreachable[0].1,
        "DNS lookup failed: app-rust-1.app-rust-headless.default.svc.cluster.local.: no such \
         name (NXDOMAIN)"
    );
    assert_eq!(unreachable[1], (Some("app-rust-2"), "timeout after 300 ms"));
    assert_eq!(
        view.unreachable[1].url,
        "http://app-rust-2.app-rust-headless.default.svc.cluster.local.:8080"
    );
    dns_task.abort();
}

/// `app-rust check-config` with the given arguments and a clean environment.
fn check_config(args: &[&str]) -> std::process::Output {
    let mut full = vec!["check-config"];
    full.extend_from_slice(args);
    run_bin(&full, &[])
}

#[test]
fn check_config_refuses_derived_peers_for_a_pod_name_without_ordinal() {
    let derived = [
        "--peer-service",
        "app-rust-headless",
        "--namespace",
        "default",
        "--replicas",
        "3",
    ];
    let mut args = derived.to_vec();
    args.extend(["--pod-name", "app-rust"]);
    let output = check_config(&args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--pod-name")
            && stderr.contains("-<ordinal>")
            && stderr.contains("--peers"),
        "{stderr}"
    );

    let mut args = derived.to_vec();
    args.extend(["--pod-name", "app-rust-2", "--ordinal-start", "1"]);
    let output = check_config(&args);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let config: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("check-config prints JSON");
    assert_eq!(config["peerService"], "app-rust-headless");
    assert_eq!(config["replicas"], 3);
    assert_eq!(config["ordinalStart"], 1);
}
