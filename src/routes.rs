//! The HTTP interface: `fn app(state) -> Router` with the five endpoints, the X-Served-By header,
//! request metrics, the access log and the body-size and total-time bounds.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Json, Response};
use axum::routing::get;
use chrono::Utc;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use crate::cluster::Cluster;
use crate::metrics::Metrics;
use crate::page::PageView;
use crate::store::VisitStore;
use crate::validated::PodName;

pub const X_SERVED_BY: HeaderName = HeaderName::from_static("x-served-by");

/// Route label of requests that matched no route (404s), so that arbitrary paths do not
/// create metric series.
const UNMATCHED_ROUTE: &str = "unmatched";

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

struct Shared {
    store: VisitStore,
    metrics: Arc<Metrics>,
    cluster: Arc<Cluster>,
    pod: PodName,
    greeting: String,
    timezone: Tz,
    request_timeout: Duration,
    max_body_bytes: usize,
    shutting_down: AtomicBool,
}

/// The parts of the configuration the HTTP layer needs.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub pod: PodName,
    pub greeting: String,
    pub timezone: Tz,
    pub request_timeout: Duration,
    pub max_body_bytes: usize,
}

impl AppState {
    pub fn new(
        store: VisitStore,
        metrics: Arc<Metrics>,
        cluster: Arc<Cluster>,
        settings: HttpSettings,
    ) -> AppState {
        AppState {
            inner: Arc::new(Shared {
                store,
                metrics,
                cluster,
                pod: settings.pod,
                greeting: settings.greeting,
                timezone: settings.timezone,
                request_timeout: settings.request_timeout,
                max_body_bytes: settings.max_body_bytes,
                shutting_down: AtomicBool::new(false),
            }),
        }
    }

    /// Makes `/readyz` answer 503 from now on (first step of a graceful shutdown).
    pub fn begin_shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::SeqCst);
    }

    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::SeqCst)
    }

    pub fn store(&self) -> &VisitStore {
        &self.inner.store
    }

    pub fn pod(&self) -> &PodName {
        &self.inner.pod
    }
}

/// The application's router with all middleware.
pub fn app(state: AppState) -> Router {
    let shared = &state.inner;
    let middleware = ServiceBuilder::new()
        .layer(SetResponseHeaderLayer::overriding(
            X_SERVED_BY,
            shared.pod.header_value().clone(),
        ))
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            shared.request_timeout,
        ))
        .layer(RequestBodyLimitLayer::new(shared.max_body_bytes));
    Router::new()
        .route("/", get(index).head(index_head))
        .route("/visits", get(visits))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route_layer(middleware::from_fn(tag_route))
        .fallback(not_found)
        .layer(middleware)
        .with_state(state)
}

/// The matched route pattern, passed from `tag_route` (inside routing) to `observe` (outside).
#[derive(Clone)]
struct RouteLabel(MatchedPath);

async fn tag_route(matched: Option<MatchedPath>, request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if let Some(matched) = matched {
        response.extensions_mut().insert(RouteLabel(matched));
    }
    response
}

/// Metrics and one access-log line per request.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let route = response
        .extensions()
        .get::<RouteLabel>()
        .map(|label| label.0.as_str())
        .unwrap_or(UNMATCHED_ROUTE);
    state
        .inner
        .metrics
        .observe_request(route, method_label(&method), status, elapsed);
    tracing::info!(
        target: "app_rust::access",
        method = %method,
        path = %path,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        pod = %state.inner.pod,
        "request"
    );
    response
}

fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "OTHER",
    }
}

fn wants_json(headers: &HeaderMap) -> bool {
    headers
        .get_all(ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.contains("application/json"))
}

/// Asks for plain text rather than JSON (the cluster view is JSON unless asked this way).
fn prefers_text(headers: &HeaderMap) -> bool {
    !wants_json(headers)
        && headers
            .get_all(ACCEPT)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .any(|value| value.contains("text/plain"))
}

const NO_STORE: (HeaderName, &str) = (CACHE_CONTROL, "no-store");

/// `GET /`: counts exactly one visit, answered once it is durable. With peers, also shows the
/// cluster total (peers' counts at most `PAGE_PEERS_MAX_AGE` old, bounded by the cluster
/// deadline; peers being down never fails the page).
async fn index(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let shared = &state.inner;
    match shared.store.record_visit().await {
        Ok(visits) => {
            let cluster = shared.cluster.page_total(visits).await;
            let view = PageView {
                greeting: &shared.greeting,
                pod: shared.pod.as_str(),
                visits,
                now: Utc::now().with_timezone(&shared.timezone),
                cluster,
            };
            if wants_json(&headers) {
                ([NO_STORE], Json(view.json())).into_response()
            } else {
                ([NO_STORE], Html(view.html())).into_response()
            }
        }
        Err(error) => {
            tracing::error!(%error, pod = %shared.pod, "a visit could not be made durable");
            let message = format!(
                "503 Service Unavailable: this visit was not counted because the visit count \
                 could not be saved to disk ({error}). Please try again later."
            );
            if wants_json(&headers) {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [NO_STORE],
                    Json(ErrorJson { error: message }),
                )
                    .into_response()
            } else {
                (StatusCode::SERVICE_UNAVAILABLE, [NO_STORE], message + "\n").into_response()
            }
        }
    }
}

/// `HEAD /`: the page's headers without counting a visit. Uptime monitors and link
/// previewers send HEAD; nobody sees a page, so nobody visited.
async fn index_head(headers: HeaderMap) -> Response {
    let content_type = if wants_json(&headers) {
        "application/json"
    } else {
        "text/html; charset=utf-8"
    };
    [NO_STORE, (CONTENT_TYPE, content_type)].into_response()
}

#[derive(Debug, Serialize)]
struct ErrorJson {
    error: String,
}

/// `?scope=` of `/visits`.
#[derive(Debug, Deserialize)]
pub struct VisitsQuery {
    scope: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// This replica's count.
    Local,
    /// Every replica's count (queries the peers).
    Cluster,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct VisitsJson {
    pub visits: u64,
    pub pod: String,
}

/// `GET /visits`: this replica's durable count; never counts a visit.
async fn visits(
    State(state): State<AppState>,
    Query(query): Query<VisitsQuery>,
    headers: HeaderMap,
) -> Response {
    let scope = match query.scope.as_deref() {
        None | Some("local") => Scope::Local,
        Some("cluster") => Scope::Cluster,
        Some(other) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("unknown scope {other:?}: use scope=local or scope=cluster\n"),
            )
                .into_response();
        }
    };
    match scope {
        Scope::Local => {
            let visits = state.inner.store.durable();
            if wants_json(&headers) {
                (
                    [NO_STORE],
                    Json(VisitsJson {
                        visits,
                        pod: state.inner.pod.to_string(),
                    }),
                )
                    .into_response()
            } else {
                ([NO_STORE], format!("{visits}\n")).into_response()
            }
        }
        // JSON unless text/plain is asked for: the breakdown and the unreachable peers do not
        // fit a bare number. Peers are asked for their local count only, so this never fans
        // out further.
        Scope::Cluster => {
            let local = state.inner.store.durable();
            let view = state.inner.cluster.view(local).await;
            if prefers_text(&headers) {
                ([NO_STORE], view.text()).into_response()
            } else {
                ([NO_STORE], Json(view)).into_response()
            }
        }
    }
}

/// `GET /healthz`: liveness; answering at all proves the process and its runtime respond.
async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: ready when the count is loaded, the last write succeeded and we are not
/// shutting down.
async fn readyz(State(state): State<AppState>) -> Response {
    if state.is_shutting_down() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: shutting down\n",
        )
            .into_response();
    }
    if !state.inner.store.is_healthy() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the last write of the visit count to disk failed\n",
        )
            .into_response();
    }
    "ready\n".into_response()
}

/// `GET /metrics`: Prometheus/OpenMetrics text.
async fn metrics(State(state): State<AppState>) -> Response {
    match state.inner.metrics.encode() {
        Ok(body) => (
            [(
                CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(error) => {
            tracing::error!(%error, "encoding metrics failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "encoding metrics failed\n",
            )
                .into_response()
        }
    }
}

async fn not_found() -> (StatusCode, &'static str) {
    (StatusCode::NOT_FOUND, "404 Not Found\n")
}
