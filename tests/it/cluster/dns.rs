//! Derived peer names resolved through a fake DNS server, and check-config on derived peers.

use super::*;

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

/// `app-rust check-config` with the environment the chart gives a replica, plus `extra`.
fn check_config_as_replica(pod: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["check-config"];
    args.extend_from_slice(extra);
    run_bin(
        &args,
        &[
            ("APP_PEER_SERVICE", "app-rust-headless"),
            ("POD_NAMESPACE", "default"),
            ("APP_REPLICAS", "3"),
            ("POD_NAME", pod),
        ],
    )
}

#[test]
fn check_config_refuses_derived_peers_for_a_pod_name_without_ordinal() {
    let output = check_config_as_replica("app-rust", &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--pod-name")
            && stderr.contains("-<ordinal>")
            && stderr.contains("--peers"),
        "{stderr}"
    );

    let output = check_config_as_replica("app-rust-2", &["--ordinal-start", "1"]);
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
