//! Which replicas make up the set: listed explicitly (`--peers`, local runs and tests), or the
//! live members of a StatefulSet, looked up at every cluster view as the addresses its
//! headless Service's name resolves to.
//!
//! Why the headless Service's addresses: the Kubernetes DNS specification has a headless
//! Service's name resolve to the address of every endpoint, and with
//! `publishNotReadyAddresses: true` a replica that is starting, failing its probes or
//! terminating is still an endpoint. So the answer follows the set as the StatefulSet
//! controller changes it: a replica removed by a scale-down leaves DNS (and the view) when
//! its pod is deleted, one added by a scale-up joins it once its pod has an IP, and one that
//! is down but still a member stays listed and is reported unreachable. Nothing in the pod
//! template depends on the replica count, so scaling restarts no replica. An SRV query
//! would also give the pod names, but the A/AAAA records are what every Kubernetes DNS
//! serves for a headless Service and what a plain resolver (and this project's podman
//! replica run) can answer; each replica names itself in its answer anyway.

use std::net::{IpAddr, SocketAddr};

use crate::config::PeerDiscovery;
use crate::validated::{DnsName, PeerUrl, PodName};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DiscoveryError {
    #[error("the headless Service URL {url:?} is not usable: {reason}")]
    ServiceUrl { url: String, reason: String },
}

/// One replica of the set, as this replica knows it before asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub url: PeerUrl,
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
    /// This pod's own IP, to recognize itself among the headless Service's addresses.
    pub pod_ip: Option<IpAddr>,
    pub cluster_domain: DnsName,
}

/// The members of the set: fixed at startup, or looked up at every view.
#[derive(Debug, Clone)]
pub enum Membership {
    /// No peers (an empty list), or an explicit list.
    Fixed(Vec<Peer>),
    HeadlessService(Box<ServiceLookup>),
}

/// The DNS name whose addresses are the members, and how to turn them into peers.
#[derive(Debug, Clone)]
pub struct ServiceLookup {
    /// Fully qualified (final dot), so the resolver does not first try every resolv.conf
    /// search domain (Kubernetes sets `ndots:5`).
    host: String,
    port: u16,
    self_ip: Option<IpAddr>,
    /// `http://<host>:<port>`: how a failed lookup is reported.
    url: PeerUrl,
}

impl ServiceLookup {
    pub fn host(&self) -> &str {
        &self.host
    }

    /// What a failed lookup is reported as.
    pub fn as_peer(&self) -> Peer {
        Peer {
            url: self.url.clone(),
            is_self: false,
        }
    }

    /// The members at `addresses`, in address order; every replica listens on the same port
    /// (they share one pod template), so ours.
    pub fn members(&self, addresses: &[IpAddr]) -> Vec<Peer> {
        let mut addresses = addresses.to_vec();
        addresses.sort_unstable();
        addresses.dedup();
        addresses
            .into_iter()
            .filter_map(|ip| {
                let url = PeerUrl::parse(&format!("http://{}", SocketAddr::new(ip, self.port)));
                // An address and a port always make a valid http URL.
                url.ok().map(|url| Peer {
                    url,
                    is_self: Some(ip) == self.self_ip,
                })
            })
            .collect()
    }
}

/// How the members of the set are found.
pub fn membership(settings: &DiscoverySettings) -> Result<Membership, DiscoveryError> {
    match &settings.discovery {
        PeerDiscovery::Alone => Ok(Membership::Fixed(Vec::new())),
        PeerDiscovery::Listed(urls) => {
            let mut seen_self = false;
            Ok(Membership::Fixed(
                urls.iter()
                    .map(|url| {
                        // Listing ourselves twice must not make two self entries.
                        let is_self =
                            !seen_self && is_own_url(url, settings.listen, &settings.pod_name);
                        seen_self |= is_self;
                        Peer {
                            url: url.clone(),
                            is_self,
                        }
                    })
                    .collect(),
            ))
        }
        PeerDiscovery::HeadlessService { service, namespace } => {
            let host = format!(
                "{}.{}.svc.{}.",
                service.as_str(),
                namespace.as_str(),
                settings.cluster_domain.relative()
            );
            let port = settings.listen.port();
            let url = format!("http://{host}:{port}");
            let url = PeerUrl::parse(&url)
                .map_err(|reason| DiscoveryError::ServiceUrl { url, reason })?;
            Ok(Membership::HeadlessService(Box::new(ServiceLookup {
                host,
                port,
                self_ip: settings.pod_ip,
                url,
            })))
        }
    }
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
            pod_ip: None,
            cluster_domain: DnsName::parse("cluster.local").expect("domain"),
        }
    }

    fn headless() -> PeerDiscovery {
        PeerDiscovery::HeadlessService {
            service: DnsLabel::parse("app-rust-headless").expect("label"),
            namespace: DnsLabel::parse("shop").expect("label"),
        }
    }

    #[test]
    fn the_headless_service_name_is_fully_qualified_and_its_addresses_are_the_members() {
        let mut s = settings("app-rust-1", headless());
        s.pod_ip = Some("10.0.0.7".parse().expect("ip"));
        s.cluster_domain = DnsName::parse("k8s.example.").expect("domain");
        s.listen = "0.0.0.0:9090".parse().expect("address");
        let Ok(Membership::HeadlessService(lookup)) = membership(&s) else {
            panic!("a lookup");
        };
        assert_eq!(lookup.host(), "app-rust-headless.shop.svc.k8s.example.");
        assert_eq!(
            lookup.as_peer().url.as_str(),
            "http://app-rust-headless.shop.svc.k8s.example.:9090"
        );
        let ips: Vec<IpAddr> = ["10.0.0.9", "10.0.0.7", "fd00::2", "10.0.0.9"]
            .iter()
            .map(|ip| ip.parse().expect("ip"))
            .collect();
        let members = lookup.members(&ips);
        let urls: Vec<(&str, bool)> = members
            .iter()
            .map(|p| (p.url.as_str(), p.is_self))
            .collect();
        assert_eq!(
            urls,
            [
                ("http://10.0.0.7:9090", true),
                ("http://10.0.0.9:9090", false),
                ("http://[fd00::2]:9090", false),
            ]
        );
        assert!(members[0].url.host_is_ip());
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
        let Ok(Membership::Fixed(peers)) = membership(&s) else {
            panic!("a fixed list");
        };
        let selves: Vec<bool> = peers.iter().map(|p| p.is_self).collect();
        assert_eq!(
            selves,
            [false, true, false],
            "listed twice, recognized once"
        );
    }

    #[test]
    fn a_lone_replica_has_no_peers() {
        assert!(matches!(
            membership(&settings("laptop", PeerDiscovery::Alone)),
            Ok(Membership::Fixed(peers)) if peers.is_empty()
        ));
    }
}
