//! `app-rust probe URL...`: the HTTP client the chart's hooks, `helm test` and container health
//! checks run, so that the image needs no other HTTP client.

use std::time::{Duration, Instant};

use hyper::StatusCode;

use crate::cli::ProbeArgs;
use crate::fetch::{Connections, FetchError, Fetcher, parse_url};

/// Delay between tries while waiting.
const RETRY_DELAY: Duration = Duration::from_millis(100);

/// The outcome for one URL.
#[derive(Debug)]
pub struct ProbeOutcome {
    pub url: String,
    pub result: Result<StatusCode, FetchError>,
    pub tries: u32,
    pub elapsed: Duration,
}

impl ProbeOutcome {
    pub fn is_success(&self) -> bool {
        succeeded(&self.result)
    }

    /// The line printed for this URL.
    pub fn line(&self) -> String {
        let verdict = match &self.result {
            Ok(status) if status.is_success() => format!("ok {} {}", self.url, status.as_u16()),
            Ok(status) => format!("FAIL {} answered {}", self.url, status.as_u16()),
            Err(error) => format!("FAIL {} {error}", self.url),
        };
        format!(
            "{verdict} ({} ms, {} tries)",
            self.elapsed.as_millis(),
            self.tries
        )
    }
}

/// A probe passes on a 2xx answer.
fn succeeded(result: &Result<StatusCode, FetchError>) -> bool {
    matches!(result, Ok(status) if status.is_success())
}

/// Probes every URL (concurrently) and returns the outcomes in the order given.
pub async fn run(args: &ProbeArgs) -> Vec<ProbeOutcome> {
    let wait = Duration::from_millis(args.wait_ms);
    let timeout = Duration::from_millis(args.timeout_ms.max(1));
    let client = Fetcher::new(Connections::Reuse, timeout);
    let tasks = args.urls.iter().map(|url| {
        let client = client.clone();
        let url = url.clone();
        tokio::spawn(async move { probe_one(&client, url, wait, timeout).await })
    });
    let mut outcomes = Vec::with_capacity(args.urls.len());
    for (task, url) in tasks.collect::<Vec<_>>().into_iter().zip(&args.urls) {
        outcomes.push(task.await.unwrap_or_else(|join_error| ProbeOutcome {
            url: url.clone(),
            result: Err(FetchError::Request(join_error.to_string())),
            tries: 0,
            elapsed: Duration::ZERO,
        }));
    }
    outcomes
}

async fn probe_one(
    client: &Fetcher,
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
        let result = client
            .get(&uri, timeout)
            .await
            .map(|fetched| fetched.status);
        if succeeded(&result) || started.elapsed() + RETRY_DELAY > wait {
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
