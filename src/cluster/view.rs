//! Assembling the cluster answer from this replica's own count and what each listed replica
//! said, and its two forms (JSON and plain text) plus the page's summary.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::answer::{PeerAnswer, PeerError};
use super::discovery::Peer;

/// What is known of one listed replica when the view is assembled. There is exactly one per
/// listed replica, so no replica can be left out of the answer.
#[derive(Debug, Clone)]
pub struct PeerOutcome {
    pub peer: Peer,
    pub result: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// This replica: its count is read locally.
    Itself,
    Answered(PeerAnswer),
    Failed(PeerError),
}

/// One replica's count in a cluster answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodCount {
    pub pod: String,
    pub visits: u64,
    /// The peer URL it was reached at; absent for this replica when it is not in the list.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub url: Option<String>,
}

/// A member of the set that could not be counted (or the lookup of the members, when it
/// failed), by the URL it was asked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unreachable {
    pub url: String,
    pub error: String,
}

/// The answer of `GET /visits?scope=cluster`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterView {
    pub scope: String,
    /// The replica that answered.
    pub pod: String,
    /// Sum of `pods[].visits`.
    pub total: u64,
    /// True when every listed replica was counted.
    pub complete: bool,
    pub pods: Vec<PodCount>,
    pub unreachable: Vec<Unreachable>,
}

/// The cluster total the page shows next to the local count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageCluster {
    pub total: u64,
    pub complete: bool,
    /// Replicas counted, out of `listed`.
    pub counted: usize,
    pub listed: usize,
}

impl ClusterView {
    /// The plain-text form (`Accept: text/plain`): a summary line, one line per counted
    /// replica (`pod visits url`), one per unreachable one.
    pub fn text(&self) -> String {
        let mut out = format!(
            "total {} ({}: {} of {} replicas counted)\n",
            self.total,
            if self.complete { "complete" } else { "partial" },
            self.pods.len(),
            self.pods.len() + self.unreachable.len()
        );
        for pod in &self.pods {
            let url = pod.url.as_deref().unwrap_or("-");
            out.push_str(&format!("{} {} {url}\n", pod.pod, pod.visits));
        }
        for peer in &self.unreachable {
            out.push_str(&format!("unreachable {}: {}\n", peer.url, peer.error));
        }
        out
    }

    pub fn page_summary(&self) -> PageCluster {
        PageCluster {
            total: self.total,
            complete: self.complete,
            counted: self.pods.len(),
            listed: self.pods.len() + self.unreachable.len(),
        }
    }
}

/// Builds the cluster answer from this replica's own count and one outcome per listed replica.
///
/// This replica counts exactly once, with its local count: where it appears in the list
/// (recognized by URL, or by a peer answering with our pod name), or first when it is not
/// listed. A pod name answered by two URLs is counted once; the second is reported.
pub fn assemble(self_pod: &str, local_visits: u64, outcomes: &[PeerOutcome]) -> ClusterView {
    let mut pods = Vec::with_capacity(outcomes.len() + 1);
    let mut unreachable = Vec::new();
    let mut counted: HashSet<&str> = HashSet::new();
    for PeerOutcome { peer, result } in outcomes {
        let url = peer.url.as_str();
        let answer = match result {
            Outcome::Failed(error) => {
                unreachable.push(Unreachable {
                    url: url.to_owned(),
                    error: error.to_string(),
                });
                continue;
            }
            Outcome::Answered(answer) if answer.pod.as_str() != self_pod => answer,
            // Ourselves, listed or under another address: our local count, once.
            Outcome::Itself | Outcome::Answered(_) => {
                if counted.insert(self_pod) {
                    pods.push(PodCount {
                        pod: self_pod.to_owned(),
                        visits: local_visits,
                        url: Some(url.to_owned()),
                    });
                }
                continue;
            }
        };
        if counted.insert(answer.pod.as_str()) {
            pods.push(PodCount {
                pod: answer.pod.to_string(),
                visits: answer.visits,
                url: Some(url.to_owned()),
            });
        } else {
            unreachable.push(Unreachable {
                url: url.to_owned(),
                error: PeerError::Duplicate(answer.pod.to_string()).to_string(),
            });
        }
    }
    if !counted.contains(self_pod) {
        pods.insert(
            0,
            PodCount {
                pod: self_pod.to_owned(),
                visits: local_visits,
                url: None,
            },
        );
    }
    let total = pods
        .iter()
        .map(|p| p.visits)
        .fold(0u64, u64::saturating_add);
    ClusterView {
        scope: "cluster".to_owned(),
        pod: self_pod.to_owned(),
        total,
        complete: unreachable.is_empty(),
        pods,
        unreachable,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::validated::{PeerUrl, PodName};

    fn peer(url: &str) -> Peer {
        Peer {
            url: PeerUrl::parse(url).expect("peer URL"),
            is_self: false,
        }
    }

    fn itself(url: &str) -> PeerOutcome {
        PeerOutcome {
            peer: Peer {
                is_self: true,
                ..peer(url)
            },
            result: Outcome::Itself,
        }
    }

    fn answered(url: &str, pod: &str, visits: u64) -> PeerOutcome {
        PeerOutcome {
            peer: peer(url),
            result: Outcome::Answered(PeerAnswer {
                visits,
                pod: PodName::parse(pod).expect("pod"),
            }),
        }
    }

    fn failed(url: &str, error: PeerError) -> PeerOutcome {
        PeerOutcome {
            peer: peer(url),
            result: Outcome::Failed(error),
        }
    }

    #[test]
    fn counts_itself_once_from_the_local_count() {
        let outcomes = [
            answered("http://a:1", "p-0", 3),
            itself("http://b:1"),
            answered("http://c:1", "p-2", 7),
        ];
        let view = assemble("p-1", 5, &outcomes);
        assert_eq!(view.total, 15);
        assert!(view.complete);
        let pods: Vec<(&str, u64)> = view
            .pods
            .iter()
            .map(|p| (p.pod.as_str(), p.visits))
            .collect();
        assert_eq!(pods, [("p-0", 3), ("p-1", 5), ("p-2", 7)]);
        assert_eq!(view.pods[1].url.as_deref(), Some("http://b:1"));
    }

    #[test]
    fn itself_under_an_unrecognized_url_counts_once_with_the_local_count() {
        // b is us: its HTTP answer (older) is replaced by the local count.
        let outcomes = [
            answered("http://a:1", "p-0", 3),
            answered("http://b:1", "p-1", 4),
        ];
        let view = assemble("p-1", 5, &outcomes);
        assert_eq!(view.total, 8);
        assert_eq!(view.pods.len(), 2);
        assert_eq!(view.pods[1].pod, "p-1");
        assert_eq!(view.pods[1].visits, 5);
    }

    #[test]
    fn itself_not_listed_is_still_counted_first() {
        let view = assemble("p-9", 2, &[answered("http://a:1", "p-0", 3)]);
        assert_eq!(view.total, 5);
        assert_eq!(view.pods[0].pod, "p-9");
        assert_eq!(view.pods[0].url, None);
        let lone = assemble("p-9", 2, &[]);
        assert_eq!((lone.total, lone.complete, lone.pods.len()), (2, true, 1));
    }

    #[test]
    fn failures_and_duplicates_are_unreachable() {
        let outcomes = [
            itself("http://a:1"),
            answered("http://b:1", "p-1", 4),
            answered("http://c:1", "p-1", 4),
            failed(
                "http://d:1",
                PeerError::Connect("connection refused".into()),
            ),
        ];
        let view = assemble("p-0", 1, &outcomes);
        assert_eq!(view.total, 5);
        assert!(!view.complete);
        let errors: Vec<(&str, &str)> = view
            .unreachable
            .iter()
            .map(|u| (u.url.as_str(), u.error.as_str()))
            .collect();
        assert_eq!(
            errors,
            [
                (
                    "http://c:1",
                    "answered as pod \"p-1\", which another peer URL already answered for"
                ),
                ("http://d:1", "connection failed: connection refused"),
            ]
        );

        let timeout = failed("http://b:1", PeerError::Timeout(Duration::from_millis(300)));
        let view = assemble("p-0", 1, &[itself("http://a:1"), timeout]);
        assert_eq!(view.unreachable[0].error, "timeout after 300 ms");
        assert_eq!((view.total, view.complete), (1, false));
    }

    /// Every listed replica ends up counted or reported, whatever failed before it: an early
    /// failure never hides a later peer (the view is built from one outcome per replica).
    #[test]
    fn every_listed_replica_is_counted_or_reported() {
        let deadline = || PeerError::Deadline(Duration::from_millis(800));
        let outcomes = [
            itself("http://a:1"),
            failed("http://b:1", deadline()),
            answered("http://c:1", "p-2", 7),
            failed("http://d:1", deadline()),
        ];
        let view = assemble("p-0", 1, &outcomes);
        assert_eq!(view.pods.len() + view.unreachable.len(), outcomes.len());
        assert_eq!((view.total, view.complete), (8, false));
        let reported: Vec<&str> = view.unreachable.iter().map(|u| u.url.as_str()).collect();
        assert_eq!(reported, ["http://b:1", "http://d:1"]);
    }

    #[test]
    fn the_text_form_has_a_summary_and_a_line_per_replica() {
        let outcomes = [
            itself("http://a:1"),
            answered("http://b:1", "p-1", 4),
            failed("http://c:1", PeerError::Timeout(Duration::from_millis(300))),
        ];
        assert_eq!(
            assemble("p-0", 3, &outcomes).text(),
            "total 7 (partial: 2 of 3 replicas counted)\n\
             p-0 3 http://a:1\n\
             p-1 4 http://b:1\n\
             unreachable http://c:1: timeout after 300 ms\n"
        );
        assert_eq!(
            assemble("p-9", 2, &[]).text(),
            "total 2 (complete: 1 of 1 replicas counted)\np-9 2 -\n"
        );
    }

    #[test]
    fn the_answer_has_the_documented_shape() {
        let outcomes = [
            itself("http://a:1"),
            failed(
                "http://b:1",
                PeerError::Connect("connection refused".into()),
            ),
        ];
        let json = serde_json::to_value(assemble("p-0", 3, &outcomes)).expect("json");
        assert_eq!(
            json,
            serde_json::json!({
                "scope": "cluster",
                "pod": "p-0",
                "total": 3,
                "complete": false,
                "pods": [{"pod": "p-0", "visits": 3, "url": "http://a:1"}],
                "unreachable": [{"url": "http://b:1", "error": "connection failed: connection refused"}],
            })
        );
    }
}
