//! One GET with a time bound, for the `probe` and `load` subcommands: absolute `http://` URLs
//! only, host names resolved through `crate::dns`, the whole answer read (an answer that
//! passes on its headers alone could hide a broken body).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::header::CONNECTION;
use hyper::{Request, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::dns::{DnsSource, Resolver};

/// The header naming the replica that answered.
const SERVED_BY: &str = "x-served-by";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("{url:?} is not a valid URL: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("no answer within {timeout_ms} ms")]
    Timeout { timeout_ms: u64 },
    #[error("request failed: {0}")]
    Request(String),
}

/// What a GET got back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub status: StatusCode,
    /// The `X-Served-By` header, when the answer had one.
    pub served_by: Option<String>,
}

/// How connections are used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Connections {
    /// Keep-alive, pooled (probes of one URL).
    Reuse,
    /// A new connection for every request, closed after it: what makes a Service's kube-proxy
    /// pick a backend for every request.
    NewEach,
}

#[derive(Clone)]
pub struct Fetcher {
    client: Client<HttpConnector<Resolver>, Empty<Bytes>>,
    connections: Connections,
}

impl Fetcher {
    /// `lookup_timeout` bounds one DNS lookup (the caller's timeout bounds the whole request).
    pub fn new(connections: Connections, lookup_timeout: Duration) -> Fetcher {
        let connector =
            HttpConnector::new_with_resolver(Resolver::new(DnsSource::System, lookup_timeout));
        let mut builder = Client::builder(TokioExecutor::new());
        if connections == Connections::NewEach {
            builder.pool_max_idle_per_host(0);
        }
        Fetcher {
            client: builder.build(connector),
            connections,
        }
    }

    /// One GET of `uri`, bounded by `timeout` (DNS, connect, answer and body together).
    pub async fn get(&self, uri: &Uri, timeout: Duration) -> Result<Fetched, FetchError> {
        let mut request = Request::get(uri.clone());
        if self.connections == Connections::NewEach {
            request = request.header(CONNECTION, "close");
        }
        let request = request
            .body(Empty::<Bytes>::new())
            .map_err(|e| FetchError::Request(e.to_string()))?;
        let attempt = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| FetchError::Request(error_chain(&e)))?;
            let status = response.status();
            let served_by = response
                .headers()
                .get(SERVED_BY)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            response
                .into_body()
                .collect()
                .await
                .map_err(|e| FetchError::Request(error_chain(&e)))?;
            Ok(Fetched { status, served_by })
        };
        match tokio::time::timeout(timeout, attempt).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout {
                timeout_ms: timeout.as_millis() as u64,
            }),
        }
    }
}

/// An absolute `http://` URL with a host.
pub fn parse_url(url: &str) -> Result<Uri, FetchError> {
    let bad = |reason: &str| FetchError::BadUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: Uri = url
        .parse()
        .map_err(|e: hyper::http::uri::InvalidUri| bad(&e.to_string()))?;
    match uri.scheme_str() {
        Some("http") => {}
        Some(_) => return Err(bad("only http:// URLs are supported")),
        None => {
            return Err(bad(
                "expected an absolute URL like http://127.0.0.1:8080/readyz",
            ));
        }
    }
    if uri.host().is_none() {
        return Err(bad("the URL has no host"));
    }
    Ok(uri)
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
