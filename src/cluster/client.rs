//! The HTTP client that asks peers for their count: hickory DNS (no blocking getaddrinfo,
//! which is fragile in the static binary), one pooled hyper client, one retry of a broken
//! keep-alive connection, and errors sorted into `PeerError`s.

use std::fmt;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::header::{ACCEPT, CONTENT_TYPE, USER_AGENT};
use hyper::{Request, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::answer::{MAX_ANSWER_BYTES, PeerAnswer, PeerError, parse_answer};

/// DNS answers about pods change when a pod is rescheduled (new IP) or created (scale-up):
/// keep them briefly so a new replica is found within seconds, not after a long negative TTL.
const DNS_POSITIVE_MAX_TTL: Duration = Duration::from_secs(5);
const DNS_NEGATIVE_MAX_TTL: Duration = Duration::from_secs(2);

const PEER_USER_AGENT: &str = concat!(
    env!("CARGO_PKG_NAME"),
    "/",
    env!("CARGO_PKG_VERSION"),
    " (cluster view)"
);

/// Where peer host names are resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsSource {
    /// /etc/resolv.conf and /etc/hosts, like every other program in the pod.
    System,
    /// One name server over UDP, no hosts file (tests use a fake server on 127.0.0.1).
    NameServer(SocketAddr),
}

/// A DNS failure, recognizable in the client's error chain.
#[derive(Debug)]
struct DnsError(String);

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DnsError {}

/// Resolves peer host names asynchronously with hickory (it reads /etc/resolv.conf and
/// /etc/hosts itself). The caller's timeout bounds every lookup.
#[derive(Clone)]
struct PeerResolver {
    resolver: Result<Arc<TokioResolver>, Arc<str>>,
}

impl PeerResolver {
    /// For peer lists of IP addresses only: the connector never calls a resolver for those,
    /// so the system DNS configuration is not even read.
    fn unused() -> PeerResolver {
        PeerResolver {
            resolver: Err(Arc::from("no DNS configured: every peer is an IP address")),
        }
    }

    fn new(source: DnsSource, lookup_timeout: Duration) -> PeerResolver {
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
            options.positive_max_ttl = Some(DNS_POSITIVE_MAX_TTL);
            options.negative_max_ttl = Some(DNS_NEGATIVE_MAX_TTL);
            builder.build()
        });
        let resolver = match built {
            Ok(resolver) => Ok(Arc::new(resolver)),
            Err(error) => {
                tracing::warn!(
                    %error,
                    "cannot read the system DNS configuration (/etc/resolv.conf); only peers given \
                     as IP addresses can be reached"
                );
                Err(Arc::from(format!("no DNS configuration ({error})")))
            }
        };
        PeerResolver { resolver }
    }
}

impl tower::Service<Name> for PeerResolver {
    type Response = std::vec::IntoIter<SocketAddr>;
    type Error = DnsError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, DnsError>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), DnsError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let host = name.as_str().to_owned();
        let resolver = self.resolver.clone();
        Box::pin(async move {
            let resolver = resolver.map_err(|e| DnsError(format!("{host}: {e}")))?;
            let lookup = resolver
                .lookup_ip(host.as_str())
                .await
                .map_err(|e| DnsError(describe_dns_error(&host, &e)))?;
            // The connector fills in the port from the URL.
            let addrs: Vec<SocketAddr> = lookup.iter().map(|ip| SocketAddr::new(ip, 0)).collect();
            if addrs.is_empty() {
                return Err(DnsError(format!("{host}: no addresses")));
            }
            Ok(addrs.into_iter())
        })
    }
}

impl PeerResolver {
    fn get(&self) -> Result<&TokioResolver, String> {
        self.resolver
            .as_deref()
            .map_err(|e| format!("no DNS resolver: {e}"))
    }
}

/// A failed lookup in words: the common cases are a name not (yet) published and a name
/// server that does not answer.
fn describe_dns_error(host: &str, error: &hickory_resolver::net::NetError) -> String {
    if error.is_nx_domain() {
        format!("{host}: no such name (NXDOMAIN)")
    } else if error.is_no_records_found() {
        format!("{host}: no address records")
    } else {
        format!("{host}: {error}")
    }
}

/// One pooled HTTP client for every peer query, and the resolver behind it.
#[derive(Clone)]
pub struct PeerClient {
    client: Client<HttpConnector<PeerResolver>, Empty<Bytes>>,
    resolver: PeerResolver,
}

impl PeerClient {
    /// `needs_dns`: some name must be resolved. Lookups and connects get twice the
    /// per-peer timeout, so that the per-peer timeout around each query is what cuts a silent
    /// name server or a black-holed address short, and it reads as "timeout after N ms".
    pub fn new(dns: DnsSource, needs_dns: bool, per_peer: Duration) -> PeerClient {
        let resolver = if needs_dns {
            PeerResolver::new(dns, per_peer * 2)
        } else {
            PeerResolver::unused()
        };
        let mut connector = HttpConnector::new_with_resolver(resolver.clone());
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(per_peer * 2));
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(4)
            .http1_max_buf_size(16 * 1024)
            .build(connector);
        PeerClient { client, resolver }
    }

    /// Every address `host` resolves to (A and AAAA records).
    pub async fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, PeerError> {
        let resolver = self.resolver.get().map_err(PeerError::Dns)?;
        let lookup = resolver
            .lookup_ip(host)
            .await
            .map_err(|e| PeerError::Dns(describe_dns_error(host, &e)))?;
        Ok(lookup.iter().collect())
    }

    /// A pooled keep-alive connection may have been closed by a peer that restarted since; the
    /// request then fails mid-exchange. `GET /visits` is idempotent, so such a failure is
    /// retried once (on a new connection, the broken one is gone from the pool).
    pub async fn ask_twice(&self, uri: &Uri) -> Result<PeerAnswer, PeerError> {
        match self.ask(uri.clone()).await {
            Err(PeerError::Http(_)) => self.ask(uri.clone()).await,
            other => other,
        }
    }

    /// One `GET <peer>/visits` with `Accept: application/json`, validated.
    async fn ask(&self, uri: Uri) -> Result<PeerAnswer, PeerError> {
        let request = Request::get(uri)
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, PEER_USER_AGENT)
            .body(Empty::<Bytes>::new())
            .map_err(|e| PeerError::Http(e.to_string()))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(classify_client_error)?;
        if response.status() != StatusCode::OK {
            return Err(PeerError::Status(response.status().as_u16()));
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        if !content_type.starts_with("application/json") {
            return Err(PeerError::Invalid(format!(
                "content type {content_type:?} is not application/json"
            )));
        }
        let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    PeerError::TooLarge
                } else {
                    PeerError::Http(format!("reading the answer: {e}"))
                }
            })?
            .to_bytes();
        parse_answer(&body)
    }
}

fn classify_client_error(error: hyper_util::client::legacy::Error) -> PeerError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    let mut innermost = error.to_string();
    while let Some(current) = source {
        if let Some(dns) = current.downcast_ref::<DnsError>() {
            return PeerError::Dns(dns.to_string());
        }
        innermost = current.to_string();
        source = current.source();
    }
    if error.is_connect() {
        PeerError::Connect(innermost)
    } else {
        PeerError::Http(innermost)
    }
}
