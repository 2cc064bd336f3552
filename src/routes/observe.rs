//! Request metrics and the access log: one line and one observation per request, labelled
//! by the matched route pattern, never the raw path.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;

use super::{AppState, ROUTES};

/// Route label of requests that matched no route (404s), so that arbitrary paths do not
/// create metric series.
const UNMATCHED_ROUTE: &str = "unmatched";

/// The matched route pattern, passed from `tag_route` (inside routing) to `observe` (outside).
#[derive(Clone, Copy)]
struct RouteLabel(&'static str);

pub async fn tag_route(matched: Option<MatchedPath>, request: Request, next: Next) -> Response {
    let route = matched.and_then(|matched| ROUTES.iter().copied().find(|r| *r == matched.as_str()));
    let mut response = next.run(request).await;
    if let Some(route) = route {
        response.extensions_mut().insert(RouteLabel(route));
    }
    response
}

/// Metrics and one access-log line per request.
pub async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    let route = response
        .extensions()
        .get::<RouteLabel>()
        .map_or(UNMATCHED_ROUTE, |label| label.0);
    let shared = &state.inner;
    shared
        .metrics
        .observe_request(route, method_label(&method), status, elapsed);
    tracing::info!(
        target: "app_rust::access",
        method = %method,
        path = %path,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        pod = %shared.pod,
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
