//! Content negotiation: what the client's `Accept` header asks for, read once per request.

use std::convert::Infallible;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::header::ACCEPT;
use axum::http::request::Parts;

/// The representation a client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accept {
    /// `application/json` anywhere in `Accept`.
    Json,
    /// `text/plain` and not JSON.
    Text,
    /// Anything else (a browser, curl's `*/*`, no header).
    Other,
}

impl Accept {
    pub fn of(headers: &HeaderMap) -> Accept {
        let values = || {
            headers
                .get_all(ACCEPT)
                .iter()
                .filter_map(|value| value.to_str().ok())
        };
        if values().any(|v| v.contains("application/json")) {
            Accept::Json
        } else if values().any(|v| v.contains("text/plain")) {
            Accept::Text
        } else {
            Accept::Other
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Accept {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Accept::of(&parts.headers))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn accept(values: &[&str]) -> Accept {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(ACCEPT, HeaderValue::from_str(value).expect("header"));
        }
        Accept::of(&headers)
    }

    #[test]
    fn json_wins_then_text_then_anything() {
        assert_eq!(accept(&[]), Accept::Other);
        assert_eq!(accept(&["*/*"]), Accept::Other);
        assert_eq!(accept(&["text/html,application/json;q=0.9"]), Accept::Json);
        assert_eq!(accept(&["text/plain", "application/json"]), Accept::Json);
        assert_eq!(accept(&["text/plain"]), Accept::Text);
    }
}
