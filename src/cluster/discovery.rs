//! Which replicas make up the set: listed explicitly (`--peers`, local runs and tests) or
//! derived from the StatefulSet's stable network identity (pod name `<set>-<ordinal>`,
//! headless Service, namespace, replica count).

use std::net::{IpAddr, SocketAddr};

use crate::config::PeerDiscovery;
use crate::validated::{DnsName, PeerUrl, PodName};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DiscoveryError {
    #[error(
        "the ordinals {start}..{start}+{replicas} of the StatefulSet overflow (check --ordinal-start \
         / APP_ORDINAL_START and --replicas / APP_REPLICAS)"
    )]
    OrdinalOverflow { start: u32, replicas: u32 },
    #[error("the derived peer URL of {pod} is not usable: {reason}")]
    DerivedUrl { pod: String, reason: String },
}

/// One replica of the set, as this replica knows it before asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub url: PeerUrl,
    /// The pod name the peer must answer with, when it is known in advance (derived peers).
    pub expected_pod: Option<String>,
    /// This replica itself: its count is read locally, never over HTTP.
    pub is_self: bool,
}

/// Where this replica is and how it finds the others.
#[derive(Debug, Clone)]
pub struct DiscoverySettings {
    pub pod_name: PodName,
    /// The address actually listened on (port resolved when the configured port was 0).
    pub listen: SocketAddr,
    pub discovery: PeerDiscovery,
    pub ordinal_start: u32,
    pub cluster_domain: DnsName,
}

/// The replicas of the set, this one included. Empty for a lone replica.
pub fn discover(settings: &DiscoverySettings) -> Result<Vec<Peer>, DiscoveryError> {
    match &settings.discovery {
        PeerDiscovery::Alone => Ok(Vec::new()),
        PeerDiscovery::Listed(urls) => {
            let mut seen_self = false;
            Ok(urls
                .iter()
                .map(|url| {
                    // Listing ourselves twice must not make two self entries.
                    let is_self =
                        !seen_self && is_own_url(url, settings.listen, &settings.pod_name);
                    seen_self |= is_self;
                    Peer {
                        url: url.clone(),
                        expected_pod: None,
                        is_self,
                    }
                })
                .collect())
        }
        PeerDiscovery::StatefulSet {
            set,
            service,
            namespace,
            replicas,
        } => {
            let derived = derive_peers(
                set,
                service.as_str(),
                namespace.as_str(),
                *replicas,
                settings.ordinal_start,
                &settings.cluster_domain,
                settings.listen.port(),
            )?;
            let own = settings.pod_name.as_str();
            if !derived
                .iter()
                .any(|peer| peer.expected_pod.as_deref() == Some(own))
            {
                tracing::warn!(
                    pod = own,
                    ordinal_start = settings.ordinal_start,
                    replicas,
                    "this pod's ordinal is outside the configured replicas; it still counts itself"
                );
            }
            Ok(derived
                .into_iter()
                .map(|peer| Peer {
                    is_self: peer.expected_pod.as_deref() == Some(own),
                    ..peer
                })
                .collect())
        }
    }
}

/// Every replica of the set `<set>-<ordinal>`, as
/// `http://<set>-<i>.<service>.<namespace>.svc.<domain>.:<port>`. The host ends in a dot (a
/// fully qualified name), so the resolver does not first try every resolv.conf search domain
/// (Kubernetes sets `ndots:5`).
pub fn derive_peers(
    set: &str,
    service: &str,
    namespace: &str,
    replicas: u32,
    ordinal_start: u32,
    cluster_domain: &DnsName,
    port: u16,
) -> Result<Vec<Peer>, DiscoveryError> {
    let end = ordinal_start
        .checked_add(replicas)
        .ok_or(DiscoveryError::OrdinalOverflow {
            start: ordinal_start,
            replicas,
        })?;
    let domain = cluster_domain.relative();
    (ordinal_start..end)
        .map(|ordinal| {
            let pod = format!("{set}-{ordinal}");
            let url = format!("http://{pod}.{service}.{namespace}.svc.{domain}.:{port}");
            let url = PeerUrl::parse(&url).map_err(|reason| DiscoveryError::DerivedUrl {
                pod: pod.clone(),
                reason,
            })?;
            Ok(Peer {
                url,
                expected_pod: Some(pod),
                is_self: false,
            })
        })
        .collect()
}

/// Whether an explicitly listed peer URL designates this process: same port, and a host that
/// reaches our listen address (loopback or the listen IP itself, `localhost`, or our pod name).
/// Peers that are us under another name are still recognized at query time by the pod name
/// they answer with.
fn is_own_url(url: &PeerUrl, listen: SocketAddr, pod: &PodName) -> bool {
    let parsed = url.parsed();
    if parsed.port_or_known_default() != Some(listen.port()) {
        return false;
    }
    let listen_ip = listen.ip();
    let listens_on_loopback = listen_ip.is_unspecified() || listen_ip.is_loopback();
    let same_ip = |ip: IpAddr| ip == listen_ip || (ip.is_loopback() && listens_on_loopback);
    match parsed.host() {
        Some(url::Host::Ipv4(ip)) => same_ip(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => same_ip(IpAddr::V6(ip)),
        Some(url::Host::Domain(host)) => {
            let host = host.trim_end_matches('.').to_ascii_lowercase();
            let pod = pod.as_str().to_ascii_lowercase();
            (host == "localhost" && listens_on_loopback)
                || host == pod
                || host
                    .strip_prefix(&pod)
                    .is_some_and(|rest| rest.starts_with('.'))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validated::DnsLabel;

    fn pod(name: &str) -> PodName {
        PodName::parse(name).expect("a pod name")
    }

    fn url(url: &str) -> PeerUrl {
        PeerUrl::parse(url).expect("a peer URL")
    }

    fn settings(pod_name: &str, discovery: PeerDiscovery) -> DiscoverySettings {
        DiscoverySettings {
            pod_name: pod(pod_name),
            listen: "0.0.0.0:8080".parse().expect("address"),
            discovery,
            ordinal_start: 0,
            cluster_domain: DnsName::parse("cluster.local").expect("domain"),
        }
    }

    fn stateful_set(set: &str, replicas: u32) -> PeerDiscovery {
        PeerDiscovery::StatefulSet {
            set: set.into(),
            service: DnsLabel::parse("app-rust-headless").expect("label"),
            namespace: DnsLabel::parse("shop").expect("label"),
            replicas,
        }
    }

    #[test]
    fn derives_every_replica_as_a_fully_qualified_name() {
        let peers =
            discover(&settings("my-app-rust-1", stateful_set("my-app-rust", 3))).expect("derived");
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
            peers[0].url.visits_uri().to_string(),
            "http://my-app-rust-0.app-rust-headless.shop.svc.cluster.local.:8080/visits"
        );
    }

    #[test]
    fn derivation_honours_ordinal_start_and_cluster_domain() {
        let mut s = settings("app-rust-5", stateful_set("app-rust", 2));
        s.ordinal_start = 5;
        s.cluster_domain = DnsName::parse("k8s.example.").expect("domain");
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
        let domain = DnsName::parse("cluster.local").expect("domain");
        assert_eq!(
            derive_peers("a", "s", "n", u32::MAX, 1, &domain, 80),
            Err(DiscoveryError::OrdinalOverflow {
                start: 1,
                replicas: u32::MAX
            })
        );
    }

    #[test]
    fn recognizes_its_own_url_in_an_explicit_list() {
        let any: SocketAddr = "0.0.0.0:8081".parse().expect("address");
        let lo: SocketAddr = "127.0.0.1:8081".parse().expect("address");
        let ip: SocketAddr = "10.0.0.7:8081".parse().expect("address");
        let own = |u: &str, listen| is_own_url(&url(u), listen, &pod("p-1"));
        assert!(own("http://127.0.0.1:8081", any));
        assert!(own("http://127.0.0.1:8081/", lo));
        assert!(own("http://localhost:8081", lo));
        assert!(own("http://[::1]:8081", any));
        assert!(own("http://10.0.0.7:8081", ip));
        assert!(own("http://p-1:8081", ip));
        assert!(own("http://p-1.svc.local.:8081", ip));
        assert!(!own("http://127.0.0.1:8082", lo));
        assert!(!own("http://127.0.0.1:8081", ip));
        assert!(!own("http://p-10:8081", ip));
        assert!(!own("http://10.0.0.8:8081", any));
        assert!(own("http://p-1", "0.0.0.0:80".parse().expect("address")));

        let mut s = settings(
            "p-1",
            PeerDiscovery::Listed(vec![
                url("http://127.0.0.1:8080"),
                url("http://127.0.0.1:8081"),
                url("http://localhost:8081"),
            ]),
        );
        s.listen = lo;
        let peers = discover(&s).expect("explicit");
        let selves: Vec<bool> = peers.iter().map(|p| p.is_self).collect();
        assert_eq!(
            selves,
            [false, true, false],
            "listed twice, recognized once"
        );
    }

    #[test]
    fn a_lone_replica_has_no_peers() {
        assert!(
            discover(&settings("laptop", PeerDiscovery::Alone))
                .expect("alone")
                .is_empty()
        );
    }
}
