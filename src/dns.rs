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
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hyper_util::client::legacy::connect::dns::Name;

/// DNS answers about pods change when a pod is rescheduled (new IP) or created (scale-up):
/// keep them briefly so a new replica is found within seconds, not after a long negative TTL.
const POSITIVE_MAX_TTL: Duration = Duration::from_secs(5);
const NEGATIVE_MAX_TTL: Duration = Duration::from_secs(2);

/// Where host names are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsSource {
    /// /etc/resolv.conf and /etc/hosts, like every other program in the pod.
    System,
    /// One name server over UDP, no hosts file (tests use a fake server on 127.0.0.1).
    NameServer(SocketAddr),
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
