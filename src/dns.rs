//! Resolving host names: hickory, asynchronous, reading /etc/resolv.conf and /etc/hosts
//! itself. The release binary is statically linked against glibc, where `getaddrinfo` and its
//! NSS modules cannot be relied on (a scratch image has no shared libraries to load), so every
//! HTTP client of the app (the cluster view, `probe`, `load`) resolves through this instead.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ServerOrderingStrategy,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hyper_util::client::legacy::connect::dns::Name;

/// DNS answers about pods change when a pod is rescheduled (new IP) or created (scale-up):
/// keep them briefly so a new replica is found within seconds, not after a long negative TTL.
const POSITIVE_MAX_TTL: Duration = Duration::from_secs(5);
const NEGATIVE_MAX_TTL: Duration = Duration::from_secs(2);

/// Where host names are resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsSource {
    /// /etc/resolv.conf and /etc/hosts, like every other program in the pod.
    System,
    /// These name servers over UDP, asked in this order, and no hosts file (tests use fake
    /// servers on 127.0.0.1).
    NameServers(Vec<SocketAddr>),
}

/// A DNS failure, recognizable in an HTTP client's error chain.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DnsError(pub String);

/// A resolver for hyper's `HttpConnector`; the caller's timeout bounds every lookup.
#[derive(Clone)]
pub struct Resolver {
    resolver: Result<Arc<TokioResolver>, Arc<str>>,
}

impl Resolver {
    /// For clients that only ever connect to IP addresses: the connector never calls a
    /// resolver for those, so the system DNS configuration is not even read.
    pub fn unused() -> Resolver {
        Resolver {
            resolver: Err(Arc::from("no DNS configured: every peer is an IP address")),
        }
    }

    pub fn new(source: DnsSource, lookup_timeout: Duration) -> Resolver {
        let builder = match &source {
            DnsSource::System => TokioResolver::builder_tokio(),
            DnsSource::NameServers(servers) => {
                let name_servers = servers
                    .iter()
                    .map(|server| {
                        let mut connection = ConnectionConfig::udp();
                        connection.port = server.port();
                        NameServerConfig::new(server.ip(), true, vec![connection])
                    })
                    .collect();
                let config = ResolverConfig::from_parts(None, Vec::new(), name_servers);
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
            // As resolv.conf(5) says and glibc does: the name servers in the order listed, a
            // later one only when an earlier one does not answer, a negative answer final.
            // hickory's default asks two at once and keeps the first answer, so a server that
            // does not know a name (a host's DNS listed after podman's network DNS) answered
            // NXDOMAIN for a name the first one knew, now and then.
            options.num_concurrent_reqs = 1;
            options.server_ordering_strategy = ServerOrderingStrategy::UserProvidedOrder;
            options.use_hosts_file = match source {
                DnsSource::System => ResolveHosts::Always,
                DnsSource::NameServers(_) => ResolveHosts::Never,
            };
            options.positive_max_ttl = Some(POSITIVE_MAX_TTL);
            options.negative_max_ttl = Some(NEGATIVE_MAX_TTL);
            builder.build()
        });
        let resolver = match built {
            Ok(resolver) => Ok(Arc::new(resolver)),
            Err(error) => {
                tracing::warn!(
                    %error,
                    "cannot read the system DNS configuration (/etc/resolv.conf); only IP \
                     addresses can be reached"
                );
                Err(Arc::from(format!("no DNS configuration ({error})")))
            }
        };
        Resolver { resolver }
    }

    /// Every address `host` resolves to (A and AAAA records), or why not, in words.
    pub async fn lookup(&self, host: &str) -> Result<Vec<IpAddr>, DnsError> {
        let resolver = self
            .resolver
            .as_deref()
            .map_err(|e| DnsError(format!("{host}: no DNS resolver: {e}")))?;
        let lookup = resolver.lookup_ip(host).await.map_err(|e| {
            // The common cases in words: a name not (yet) published, or no address for it.
            if e.is_nx_domain() {
                DnsError(format!("{host}: no such name (NXDOMAIN)"))
            } else if e.is_no_records_found() {
                DnsError(format!("{host}: no address records"))
            } else {
                DnsError(format!("{host}: {e}"))
            }
        })?;
        Ok(lookup.iter().collect())
    }
}

impl tower::Service<Name> for Resolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = DnsError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, DnsError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), DnsError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let resolver = self.clone();
        Box::pin(async move {
            let host = name.as_str();
            let addresses = resolver.lookup(host).await?;
            if addresses.is_empty() {
                return Err(DnsError(format!("{host}: no addresses")));
            }
            // The connector fills in the port from the URL.
            Ok(addresses
                .into_iter()
                .map(|ip| SocketAddr::new(ip, 0))
                .collect::<Vec<_>>()
                .into_iter())
        })
    }
}
