//! `app-rust load URL`: visits through a Service the way its clients do, for the lab.
//!
//! Every request opens a new connection and closes it, so kube-proxy picks a backend for every
//! request (it balances connections, not requests: `kubectl port-forward` to a Service tunnels
//! every connection to one pod). The summary says which pod answered how many (`X-Served-By`).
//! Bounded in count (`--requests`) and time (`--deadline-ms`); any failure makes the exit
//! status non-zero.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;

use crate::cli::LoadArgs;
use crate::fetch::{Connections, FetchError, Fetcher, parse_url};

/// What a load run saw.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    pub url: String,
    pub sent: u32,
    /// 2xx answers per replica (`X-Served-By`; `?` when an answer did not name one).
    pub answered_by: BTreeMap<String, u32>,
    /// Failures by reason (non-2xx status, timeout, connection error, deadline).
    pub failures: BTreeMap<String, u32>,
    pub elapsed: Duration,
}

impl LoadReport {
    pub fn succeeded(&self) -> bool {
        self.failures.is_empty() && self.answered() == self.sent
    }

    fn answered(&self) -> u32 {
        self.answered_by.values().sum()
    }

    /// The summary printed for the user.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "{} requests to {} (a new connection each): {} answered 2xx, {} failed, in {} ms\n",
            self.sent,
            self.url,
            self.answered(),
            self.failures.values().sum::<u32>(),
            self.elapsed.as_millis()
        );
        let width = self.answered_by.keys().map(String::len).max().unwrap_or(0);
        for (pod, count) in &self.answered_by {
            let _ = writeln!(out, "  {pod:<width$}  {count}");
        }
        for (reason, count) in &self.failures {
            let _ = writeln!(out, "  FAILED {count} x {reason}");
        }
        out
    }
}

/// Sends `args.requests` GETs, at most `args.concurrency` at a time, and reports.
pub async fn run(args: &LoadArgs) -> Result<LoadReport, FetchError> {
    let uri = parse_url(&args.url)?;
    let timeout = Duration::from_millis(args.timeout_ms);
    let fetcher = Fetcher::new(Connections::NewEach, timeout);
    let started = Instant::now();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(args.deadline_ms);
    let mut report = LoadReport {
        url: args.url.clone(),
        ..LoadReport::default()
    };
    let mut tasks = JoinSet::new();
    let mut to_send = args.requests;
    loop {
        while to_send > 0 && tasks.len() < args.concurrency as usize {
            to_send -= 1;
            report.sent += 1;
            let (fetcher, uri) = (fetcher.clone(), uri.clone());
            tasks.spawn(async move { fetcher.get(&uri, timeout).await });
        }
        match tokio::time::timeout_at(deadline, tasks.join_next()).await {
            Ok(Some(Ok(Ok(fetched)))) if fetched.status.is_success() => {
                let pod = fetched.served_by.unwrap_or_else(|| "?".to_owned());
                *report.answered_by.entry(pod).or_default() += 1;
            }
            Ok(Some(Ok(Ok(fetched)))) => {
                *report
                    .failures
                    .entry(format!("HTTP {}", fetched.status.as_u16()))
                    .or_default() += 1;
            }
            Ok(Some(Ok(Err(error)))) => *report.failures.entry(error.to_string()).or_default() += 1,
            Ok(Some(Err(join_error))) => {
                *report.failures.entry(join_error.to_string()).or_default() += 1;
            }
            Ok(None) => break,
            Err(_) => {
                let cut = tasks.len() as u32;
                tasks.abort_all();
                let unsent = to_send;
                report.sent += unsent;
                *report
                    .failures
                    .entry(format!(
                        "not done within the {} ms deadline",
                        args.deadline_ms
                    ))
                    .or_default() += cut + unsent;
                break;
            }
        }
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_names_each_pod_and_each_failure() {
        let report = LoadReport {
            url: "http://app-rust:8080/".into(),
            sent: 5,
            answered_by: [("app-rust-0".to_owned(), 2), ("app-rust-10".to_owned(), 2)]
                .into_iter()
                .collect(),
            failures: [("HTTP 503".to_owned(), 1)].into_iter().collect(),
            elapsed: Duration::from_millis(12),
        };
        assert!(!report.succeeded());
        assert_eq!(
            report.summary(),
            "5 requests to http://app-rust:8080/ (a new connection each): 4 answered 2xx, 1 \
             failed, in 12 ms\n  app-rust-0   2\n  app-rust-10  2\n  FAILED 1 x HTTP 503\n"
        );
    }
}
