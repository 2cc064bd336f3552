//! The members of the set as the headless Service's addresses, looked up at every view
//! through a fake DNS server on 127.0.0.1: replicas on 127.0.0.2, .3, ... sharing one port,
//! as the pods of one StatefulSet share their pod template. Scale-downs and scale-ups are
//! changes of the DNS answer, as the endpoints controller makes them in Kubernetes.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{RData, Record, RecordType};

use app_rust::dns::Resolver;

use super::*;

const SERVICE: &str = "app-rust-headless.default.svc.cluster.local.";
const SLOW_ANSWER: Duration = Duration::from_millis(100);

/// What the fake name server says for a name.
#[derive(Clone)]
enum Answer {
    Addresses(Vec<Ipv4Addr>),
    /// The addresses, after `SLOW_ANSWER`: a name server farther away than the next one.
    Slow(Vec<Ipv4Addr>),
    NxDomain,
    /// Never answers, like a name server that is down.
    Silent,
}

/// A DNS server on 127.0.0.1 (UDP) answering from a zone the test changes as it goes.
struct FakeDns {
    addr: SocketAddr,
    zone: Arc<Mutex<HashMap<String, Answer>>>,
    task: JoinHandle<()>,
}

impl FakeDns {
    async fn start() -> FakeDns {
        let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind udp");
        let addr = socket.local_addr().expect("udp address");
        let zone = Arc::new(Mutex::new(HashMap::new()));
        let served = Arc::clone(&zone);
        let task = tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            while let Ok((n, from)) = socket.recv_from(&mut buf).await {
                let Ok(query) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let Some(question) = query.queries.first().cloned() else {
                    continue;
                };
                let name = question.name().to_string().to_ascii_lowercase();
                let answer = served.lock().expect("zone").get(&name).cloned();
                if let Some(Answer::Slow(_)) = answer {
                    tokio::time::sleep(SLOW_ANSWER).await;
                }
                let mut reply = Message::new(
                    query.metadata.id,
                    MessageType::Response,
                    query.metadata.op_code,
                );
                reply.metadata.recursion_desired = query.metadata.recursion_desired;
                reply.metadata.recursion_available = true;
                reply.add_query(question.clone());
                // TTL 0: the resolver must ask again at the next view.
                match answer {
                    Some(Answer::Silent) => continue,
                    Some(Answer::Addresses(ips) | Answer::Slow(ips))
                        if question.query_type() == RecordType::A =>
                    {
                        for ip in ips {
                            reply.add_answer(Record::from_rdata(
                                question.name().clone(),
                                0,
                                RData::A(A(ip)),
                            ));
                        }
                    }
                    Some(Answer::Addresses(_) | Answer::Slow(_)) => {}
                    Some(Answer::NxDomain) | None => {
                        reply.metadata.response_code = ResponseCode::NXDomain;
                    }
                }
                let _ = socket.send_to(&reply.to_vec().expect("encode"), from).await;
            }
        });
        FakeDns { addr, zone, task }
    }

    fn set(&self, name: &str, answer: Answer) {
        self.zone
            .lock()
            .expect("zone")
            .insert(name.to_ascii_lowercase(), answer);
    }

    /// The service's A records are exactly `members`.
    fn members(&self, members: &[Ipv4Addr]) {
        self.set(SERVICE, Answer::Addresses(members.to_vec()));
    }
}

impl Drop for FakeDns {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn loopback(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

/// The cluster view of the replica at `self_ip`, with the members looked up through `dns`.
fn cluster_at(self_ip: Ipv4Addr, port: u16, dns: &FakeDns) -> Cluster {
    let settings = ClusterSettings {
        discovery: DiscoverySettings {
            pod_name: common::pod_name("app-rust-0"),
            listen: SocketAddr::new(IpAddr::V4(self_ip), port),
            discovery: PeerDiscovery::HeadlessService {
                service: DnsLabel::parse("app-rust-headless").expect("a label"),
                namespace: DnsLabel::parse("default").expect("a label"),
            },
            pod_ip: Some(IpAddr::V4(self_ip)),
            cluster_domain: DnsName::parse("cluster.local").expect("a domain"),
        },
        peer_timeout: Duration::from_millis(PEER_TIMEOUT_MS),
        cluster_deadline: Duration::from_millis(DEADLINE_MS),
        dns: DnsSource::NameServers(vec![dns.addr]),
    };
    Cluster::new(&settings, PeerMetrics::default()).expect("the cluster view")
}

/// A replica `app-rust-<n>` served in process on `ip:port`.
async fn replica_on(ip: Ipv4Addr, port: u16, n: u8, data: &TempDir) -> Serving {
    let listener = TcpListener::bind(SocketAddr::new(IpAddr::V4(ip), port))
        .await
        .expect("the port is free on this loopback address too");
    let mut config = Config::for_data_dir(data.path().join(format!("{n}")));
    config.pod_name = common::pod_name(&format!("app-rust-{n}"));
    config.log_level = "warn".into();
    let application = Application::build_with_listener(config, listener)
        .await
        .expect("the replica starts");
    Serving::start(application)
}

/// One port free on every address from 127.0.0.2 to 127.0.0.9 (pods share their port).
async fn shared_port() -> u16 {
    'search: for _ in 0..20 {
        let first = TcpListener::bind("127.0.0.2:0").await.expect("bind");
        let port = first.local_addr().expect("address").port();
        for last in 3..=9 {
            if TcpListener::bind((loopback(last), port)).await.is_err() {
                continue 'search;
            }
        }
        return port;
    }
    panic!("no port free on every loopback address");
}

fn counted(view: &ClusterView) -> Vec<(&str, u64)> {
    view.pods
        .iter()
        .map(|p| (p.pod.as_str(), p.visits))
        .collect()
}

#[tokio::test]
async fn the_members_follow_the_headless_service_through_a_scale_down_and_up() {
    let dns = FakeDns::start().await;
    let port = shared_port().await;
    let data = tempfile::tempdir().expect("a temp dir");
    let client = client();
    let one = replica_on(loopback(3), port, 1, &data).await;
    let two = replica_on(loopback(4), port, 2, &data).await;
    for (ip, visits) in [(loopback(3), 2), (loopback(4), 3)] {
        for _ in 0..visits {
            let (status, _) = common::get_text(&client, &format!("http://{ip}:{port}/")).await;
            assert_eq!(status, 200);
        }
    }
    let cluster = cluster_at(loopback(2), port, &dns);

    dns.members(&[loopback(2), loopback(3), loopback(4)]);
    let view = cluster.view(4).await;
    assert_eq!(
        counted(&view),
        [("app-rust-0", 4), ("app-rust-1", 2), ("app-rust-2", 3)]
    );
    assert_eq!((view.total, view.complete), (9, true));

    // Scale 3 -> 2: the controller deletes app-rust-2; its address leaves the Service.
    two.stop().await;
    dns.members(&[loopback(2), loopback(3)]);
    let view = cluster.view(4).await;
    assert_eq!(counted(&view), [("app-rust-0", 4), ("app-rust-1", 2)]);
    assert_eq!((view.total, view.complete), (6, true), "{view:?}");

    // Scale up: a new member joins as soon as it is in DNS.
    let three = replica_on(loopback(5), port, 3, &data).await;
    dns.members(&[loopback(2), loopback(3), loopback(5)]);
    let view = cluster.view(4).await;
    assert_eq!(
        counted(&view),
        [("app-rust-0", 4), ("app-rust-1", 2), ("app-rust-3", 0)]
    );
    assert!(view.complete);

    one.stop().await;
    three.stop().await;
}

#[tokio::test]
async fn a_member_in_dns_that_does_not_answer_makes_the_view_incomplete() {
    let dns = FakeDns::start().await;
    let port = shared_port().await;
    let data = tempfile::tempdir().expect("a temp dir");
    let one = replica_on(loopback(3), port, 1, &data).await;
    let cluster = cluster_at(loopback(2), port, &dns);
    // A member that is down but still in the set (publishNotReadyAddresses): nothing
    // answers at its address.
    dns.members(&[loopback(2), loopback(3), loopback(6)]);
    let started = Instant::now();
    let view = cluster.view(1).await;
    assert!(
        started.elapsed() < deadline_with_margin(),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(counted(&view), [("app-rust-0", 1), ("app-rust-1", 0)]);
    assert_eq!((view.total, view.complete), (1, false));
    assert_eq!(view.unreachable.len(), 1, "{view:?}");
    let silent = &view.unreachable[0];
    assert_eq!(silent.url, format!("http://127.0.0.6:{port}"));
    assert!(
        silent.error.starts_with("connection failed"),
        "{}",
        silent.error
    );
    one.stop().await;
}

#[tokio::test]
async fn a_failed_lookup_never_blocks_the_answer_and_says_why() {
    let dns = FakeDns::start().await;
    let port = shared_port().await;
    let cluster = cluster_at(loopback(2), port, &dns);
    let service_url = format!("http://{SERVICE}:{port}");

    dns.set(SERVICE, Answer::Silent);
    let started = Instant::now();
    let view = cluster.view(7).await;
    let elapsed = started.elapsed();
    assert!(
        elapsed < Duration::from_millis(PEER_TIMEOUT_MS) + MARGIN,
        "took {elapsed:?}"
    );
    assert_eq!(counted(&view), [("app-rust-0", 7)]);
    assert_eq!((view.total, view.complete), (7, false));
    assert_eq!(view.unreachable[0].url, service_url);
    assert_eq!(
        view.unreachable[0].error,
        "DNS lookup failed: the members of the set: timeout after 300 ms"
    );

    dns.set(SERVICE, Answer::NxDomain);
    let view = cluster.view(7).await;
    assert!(!view.complete);
    assert_eq!(
        view.unreachable[0].error,
        format!("DNS lookup failed: the members of the set: {SERVICE}: no such name (NXDOMAIN)")
    );
}

/// `app-rust check-config` with the environment the chart gives a replica, plus `extra`.
fn check_config_as_replica(envs: &[(&str, &str)]) -> std::process::Output {
    let mut all = vec![
        ("APP_PEER_SERVICE", "app-rust-headless"),
        ("POD_NAME", "app-rust-2"),
        ("POD_IP", "10.244.0.7"),
    ];
    all.extend_from_slice(envs);
    run_bin(&["check-config"], &all)
}

#[test]
fn check_config_takes_the_charts_peer_settings_and_needs_the_namespace() {
    let output = check_config_as_replica(&[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("namespace") && stderr.contains("POD_NAMESPACE"),
        "{stderr}"
    );

    let output = check_config_as_replica(&[("POD_NAMESPACE", "default")]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let config: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("check-config prints JSON");
    assert_eq!(config["peerService"], "app-rust-headless");
    assert_eq!(config["namespace"], "default");
    assert_eq!(config["podIp"], "10.244.0.7");
}

/// resolv.conf(5): the name servers are asked in the order listed, and a negative answer is
/// final. A container on a podman network lists the network's DNS first and the host's after
/// it; the host's knows none of the containers' names and answers NXDOMAIN at once.
#[tokio::test]
async fn name_servers_are_asked_in_order_and_a_quicker_later_one_does_not_win() {
    let network = FakeDns::start().await;
    let host = FakeDns::start().await;
    let name = "app-rust-under-test.";
    network.set(name, Answer::Slow(vec![loopback(7)]));
    host.set(name, Answer::NxDomain);
    let timeout = Duration::from_secs(5);

    let in_order = Resolver::new(
        DnsSource::NameServers(vec![network.addr, host.addr]),
        timeout,
    );
    for _ in 0..3 {
        let found = in_order.lookup(name).await;
        assert_eq!(
            found.as_deref().map_err(|e| e.to_string()),
            Ok(&[IpAddr::V4(loopback(7))][..]),
            "the first name server knows the name; the second's quicker NXDOMAIN must not win"
        );
    }

    let host_first = Resolver::new(
        DnsSource::NameServers(vec![host.addr, network.addr]),
        timeout,
    );
    let refused = host_first
        .lookup(name)
        .await
        .expect_err("the first name server's NXDOMAIN is final");
    assert!(
        refused.to_string().contains("NXDOMAIN"),
        "unexpected error: {refused}"
    );
}
