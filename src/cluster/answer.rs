//! What a peer answers: `{"visits":N,"pod":"..."}` from its `GET /visits`, validated, and
//! the ways asking can fail.

use std::time::Duration;

use serde::Deserialize;

use crate::validated::{PodName, quote};

/// A peer's answer is a few dozen bytes. Anything much larger is not a peer of ours.
pub const MAX_ANSWER_BYTES: usize = 4 * 1024;

/// A peer's validated answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PeerAnswer {
    pub visits: u64,
    pub pod: PodName,
}

/// Why a peer is reported as unreachable. `reason()` is the metric label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    #[error("timeout after {} ms", .0.as_millis())]
    Timeout(Duration),
    #[error("cluster deadline of {} ms reached", .0.as_millis())]
    Deadline(Duration),
    #[error("DNS lookup failed: {0}")]
    Dns(String),
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("HTTP exchange failed: {0}")]
    Http(String),
    #[error("answered HTTP {0} instead of 200")]
    Status(u16),
    #[error("answer larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge,
    #[error("invalid answer: {0}")]
    Invalid(String),
    #[error("answered as pod {0:?}, which another peer URL already answered for")]
    Duplicate(String),
}

impl PeerError {
    /// Every value `reason` gives, so that metrics can create each series up front.
    pub const REASONS: &'static [&'static str] = &[
        "timeout",
        "deadline",
        "dns",
        "connect",
        "http",
        "status",
        "too_large",
        "invalid_answer",
        "duplicate",
    ];

    pub fn reason(&self) -> &'static str {
        match self {
            PeerError::Timeout(_) => "timeout",
            PeerError::Deadline(_) => "deadline",
            PeerError::Dns(_) => "dns",
            PeerError::Connect(_) => "connect",
            PeerError::Http(_) => "http",
            PeerError::Status(_) => "status",
            PeerError::TooLarge => "too_large",
            PeerError::Invalid(_) => "invalid_answer",
            PeerError::Duplicate(_) => "duplicate",
        }
    }

    /// Whether it is a time bound that cut the question short.
    pub fn is_timeout(&self) -> bool {
        matches!(self, PeerError::Timeout(_) | PeerError::Deadline(_))
    }
}

/// Parses and validates a peer's JSON answer body: exactly a non-negative integer `visits` and a
/// pod name (other keys are ignored, for newer peers).
pub fn parse_answer(body: &[u8]) -> Result<PeerAnswer, PeerError> {
    if body.len() > MAX_ANSWER_BYTES {
        return Err(PeerError::TooLarge);
    }
    serde_json::from_slice(body).map_err(|e| {
        PeerError::Invalid(format!(
            "expected {{\"visits\":N,\"pod\":\"...\"}} ({e}); got {}",
            quote(body)
        ))
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn reasons_lists_the_reason_of_every_error() {
        let every_error = [
            PeerError::Timeout(Duration::ZERO),
            PeerError::Deadline(Duration::ZERO),
            PeerError::Dns(String::new()),
            PeerError::Connect(String::new()),
            PeerError::Http(String::new()),
            PeerError::Status(500),
            PeerError::TooLarge,
            PeerError::Invalid(String::new()),
            PeerError::Duplicate(String::new()),
        ];
        let reasons: Vec<&str> = every_error.iter().map(PeerError::reason).collect();
        assert_eq!(reasons, PeerError::REASONS);
    }

    #[test]
    fn parses_valid_answers() {
        let pod = |name: &str| PodName::parse(name).expect("pod");
        assert_eq!(
            parse_answer(br#"{"visits":12,"pod":"app-rust-0"}"#),
            Ok(PeerAnswer {
                visits: 12,
                pod: pod("app-rust-0")
            })
        );
        assert_eq!(
            parse_answer(br#" {"pod":"p","visits":18446744073709551615,"extra":true} "#),
            Ok(PeerAnswer {
                visits: u64::MAX,
                pod: pod("p")
            })
        );
    }

    #[test]
    fn rejects_garbage_answers() {
        let garbage: [&[u8]; 14] = [
            b"",
            b"12\n",
            b"<html>hi</html>",
            br#"{"visits":-1,"pod":"p"}"#,
            br#"{"visits":1.5,"pod":"p"}"#,
            br#"{"visits":1e3,"pod":"p"}"#,
            br#"{"visits":"12","pod":"p"}"#,
            br#"{"visits":18446744073709551616,"pod":"p"}"#,
            br#"{"visits":12}"#,
            br#"{"pod":"p"}"#,
            br#"{"visits":12,"pod":""}"#,
            br#"{"visits":12,"pod":"a b"}"#,
            br#"{"visits":12,"pod":7}"#,
            b"{\"visits\":12,\"pod\":\"p\"} trailing",
        ];
        for body in garbage {
            let error = parse_answer(body).expect_err(&String::from_utf8_lossy(body));
            assert_eq!(error.reason(), "invalid_answer", "{error}");
        }
        let huge = vec![b' '; MAX_ANSWER_BYTES + 1];
        assert_eq!(parse_answer(&huge), Err(PeerError::TooLarge));
    }
}
