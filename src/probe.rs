//! `app-rust probe URL...`: the HTTP client the chart's hooks, `helm test` and container health
//! checks run, so that the image needs no other HTTP client.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::{StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::cli::ProbeArgs;

/// Delay between tries while waiting.
const RETRY_DELAY: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("{url:?} is not a valid URL: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("no answer within {timeout_ms} ms")]
    Timeout { timeout_ms: u64 },
    #[error("request failed: {0}")]
    Request(String),
}

/// The outcome for one URL.
#[derive(Debug)]
pub struct ProbeOutcome {
    pub url: String,
    pub result: Result<StatusCode, ProbeError>,
    pub tries: u32,
    pub elapsed: Duration,
}

impl ProbeOutcome {
    pub fn is_success(&self) -> bool {
        matches!(&self.result, Ok(status) if status.is_success())
    }

    /// The line printed for this URL.
    pub fn line(&self) -> String {
        let ms = self.elapsed.as_millis();
        match &self.result {
            Ok(status) if status.is_success() => {
                format!(
                    "ok {} {} ({} ms, {} tries)",
                    self.url,
                    status.as_u16(),
                    ms,
                    self.tries
                )
            }
            Ok(status) => format!(
                "FAIL {} answered {} ({} ms, {} tries)",
                self.url,
                status.as_u16(),
                ms,
                self.tries
            ),
            Err(error) => format!(
                "FAIL {} {} ({} ms, {} tries)",
                self.url, error, ms, self.tries
            ),
        }
    }
}

/// Probes every URL (concurrently) and returns the outcomes in the order given.
pub async fn run(args: &ProbeArgs) -> Vec<ProbeOutcome> {
    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let wait = Duration::from_millis(args.wait_ms);
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    let tasks = args.urls.iter().map(|url| {
        let client = client.clone();
        let url = url.clone();
        tokio::spawn(async move { probe_one(&client, url, wait, timeout).await })
    });
    let mut outcomes = Vec::with_capacity(args.urls.len());
    for (task, url) in tasks.collect::<Vec<_>>().into_iter().zip(&args.urls) {
        outcomes.push(task.await.unwrap_or_else(|join_error| ProbeOutcome {
            url: url.clone(),
            result: Err(ProbeError::Request(join_error.to_string())),
            tries: 0,
            elapsed: Duration::ZERO,
        }));
    }
    outcomes
}

async fn probe_one(
    client: &Client<HttpConnector, Empty<Bytes>>,
    url: String,
    wait: Duration,
    timeout: Duration,
) -> ProbeOutcome {
    let started = Instant::now();
    let uri = match parse_url(&url) {
        Ok(uri) => uri,
        Err(error) => {
            return ProbeOutcome {
                url,
                result: Err(error),
                tries: 0,
                elapsed: started.elapsed(),
            };
        }
    };
    let mut tries = 0;
    loop {
        tries += 1;
        let result = get_once(client, uri.clone(), timeout).await;
        let success = matches!(&result, Ok(status) if status.is_success());
        if success || started.elapsed() + RETRY_DELAY > wait {
            return ProbeOutcome {
                url,
                result,
                tries,
                elapsed: started.elapsed(),
            };
        }
        tokio::time::sleep(RETRY_DELAY).await;
    }
}

fn parse_url(url: &str) -> Result<Uri, ProbeError> {
    let bad = |reason: &str| ProbeError::BadUrl {
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

async fn get_once(
    client: &Client<HttpConnector, Empty<Bytes>>,
    uri: Uri,
    timeout: Duration,
) -> Result<StatusCode, ProbeError> {
    let attempt = async {
        let response = client
            .get(uri)
            .await
            .map_err(|e| ProbeError::Request(error_chain(&e)))?;
        let status = response.status();
        // Read the whole answer: a probe that passes on headers alone could hide a broken body.
        response
            .into_body()
            .collect()
            .await
            .map_err(|e| ProbeError::Request(error_chain(&e)))?;
        Ok(status)
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        Err(_) => Err(ProbeError::Timeout {
            timeout_ms: timeout.as_millis() as u64,
        }),
    }
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
