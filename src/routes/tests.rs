//! Routing in process with `tower::ServiceExt::oneshot`: no socket, one request each. What
//! needs a real connection (slowloris, shutdown, the binary) is in tests/it.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use tempfile::TempDir;
use tower::ServiceExt;

use super::{AppState, X_SERVED_BY, app};
use crate::config::Config;
use crate::metrics::PersistMetrics;
use crate::store::VisitStore;

struct Harness {
    state: AppState,
    _dir: TempDir,
}

impl Harness {
    fn new() -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config::for_data_dir(dir.path());
        let persist = PersistMetrics::default();
        let store = VisitStore::open(dir.path(), Arc::new(persist.clone())).expect("store");
        let state = AppState::build(
            &config,
            store,
            &persist,
            "127.0.0.1:8080".parse().expect("address"),
        )
        .expect("app state");
        Harness { state, _dir: dir }
    }

    fn router(&self) -> Router {
        app(self.state.clone())
    }

    async fn send(
        &self,
        method: Method,
        uri: &str,
        accept: Option<&str>,
    ) -> (StatusCode, String, String) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        let response = self
            .router()
            .oneshot(request.body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        let status = response.status();
        assert_eq!(response.headers()[X_SERVED_BY], "app-rust-0", "{uri}");
        // A count or an error (the router's own 405 aside) must never come from a cache.
        let count = status.is_success() && (uri == "/" || uri.starts_with("/visits"));
        let error = !status.is_success() && status != StatusCode::METHOD_NOT_ALLOWED;
        if count || error {
            assert_eq!(
                response.headers().get(CACHE_CONTROL).map(|v| v.as_bytes()),
                Some(&b"no-store"[..]),
                "{uri}: {status}"
            );
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .map(|v| v.to_str().expect("ascii").to_owned())
            .unwrap_or_default();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (
            status,
            content_type,
            String::from_utf8(body.to_vec()).expect("utf-8"),
        )
    }
}

#[tokio::test]
async fn the_page_counts_and_negotiates_its_format() {
    let harness = Harness::new();
    let (status, content_type, body) = harness.send(Method::GET, "/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(body.contains("<dd id=\"visits\">1</dd>"), "{body}");
    let (status, content_type, body) = harness
        .send(Method::GET, "/", Some("application/json"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    let json: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(json["visits"], 2);
    let (status, _, body) = harness.send(Method::HEAD, "/", None).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
    assert_eq!(harness.state.store().durable(), 2, "HEAD does not count");
}

#[tokio::test]
async fn errors_render_as_text_or_json_by_accept() {
    let harness = Harness::new();
    let (status, content_type, body) = harness.send(Method::GET, "/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    assert_eq!(body, "404 Not Found\n");
    let (status, content_type, body) = harness
        .send(Method::GET, "/nope", Some("application/json"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(content_type, "application/json");
    assert_eq!(body, r#"{"error":"404 Not Found"}"#);
    let (status, _, body) = harness
        .send(Method::GET, "/visits?scope=galaxy", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("scope=local or scope=cluster"), "{body}");
    let (status, _, body) = harness
        .send(
            Method::GET,
            "/visits?scope=galaxy",
            Some("application/json"),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.starts_with(r#"{"error":"unknown scope"#), "{body}");
}

#[tokio::test]
async fn only_get_and_head_are_routed_and_nothing_else_counts() {
    let harness = Harness::new();
    for method in [Method::POST, Method::PUT, Method::DELETE] {
        let (status, _, _) = harness.send(method.clone(), "/", None).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{method}");
    }
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/visits",
        "/visits?scope=cluster",
    ] {
        let (status, _, _) = harness.send(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    assert_eq!(harness.state.store().durable(), 0);
}

#[tokio::test]
async fn readiness_names_why_it_is_not_ready() {
    let harness = Harness::new();
    assert_eq!(
        harness.send(Method::GET, "/readyz", None).await.2,
        "ready\n"
    );
    harness.state.begin_shutdown();
    let (status, _, body) = harness.send(Method::GET, "/readyz", None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body, "not ready: shutting down\n");
}

#[tokio::test]
async fn metrics_report_readiness_by_the_rule_of_readyz() {
    let harness = Harness::new();
    let metrics = || async { harness.send(Method::GET, "/metrics", None).await.2 };
    let text = metrics().await;
    assert!(text.contains("\napp_ready 1\n"), "{text}");
    // Series that alerts select exist before anything failed.
    assert!(
        text.contains("app_cluster_answers_total{complete=\"false\"} 0"),
        "{text}"
    );
    assert!(
        text.contains("app_peer_errors_total{reason=\"connect\"} 0"),
        "{text}"
    );
    harness.state.begin_shutdown();
    assert_eq!(
        harness.send(Method::GET, "/readyz", None).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
    let text = metrics().await;
    assert!(text.contains("\napp_ready 0\n"), "{text}");
}
