//! The HTTP client that asks peers for their count: one pooled hyper client on the shared
//! hickory resolver (`crate::dns`), one retry of a broken keep-alive connection, and errors
//! sorted into `PeerError`s.

use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::header::{ACCEPT, CONTENT_TYPE, USER_AGENT};
use hyper::{Request, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::answer::{MAX_ANSWER_BYTES, PeerAnswer, PeerError, parse_answer};
use crate::dns::{DnsError, DnsSource, Resolver};

const PEER_USER_AGENT: &str = concat!(
    env!("CARGO_PKG_NAME"),
    "/",
    env!("CARGO_PKG_VERSION"),
    " (cluster view)"
);

/// One pooled HTTP client for every peer query, and the resolver behind it.
#[derive(Clone)]
pub struct PeerClient {
    client: Client<HttpConnector<Resolver>, Empty<Bytes>>,
    resolver: Resolver,
}

impl PeerClient {
    /// `needs_dns`: some name must be resolved. Lookups and connects get twice the
    /// per-peer timeout, so that the per-peer timeout around each query is what cuts a silent
    /// name server or a black-holed address short, and it reads as "timeout after N ms".
    pub fn new(dns: DnsSource, needs_dns: bool, per_peer: Duration) -> PeerClient {
        let resolver = if needs_dns {
            Resolver::new(dns, per_peer * 2)
        } else {
            Resolver::unused()
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
        self.resolver
            .lookup(host)
            .await
            .map_err(|DnsError(message)| PeerError::Dns(message))
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
