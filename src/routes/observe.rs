//! Request metrics, the access log and the JSON form of errors: one line, one observation and
//! at most one re-rendering per request, labelled by the matched route pattern, never the raw
//! path.
//!
//! Written as tower layers rather than `middleware::from_fn`: `from_fn` boxes every request's
//! future and clones the inner service into `Next`, allocations that the profile showed on
//! every request (and again when a visit's future is woken after its commit).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{Method, Uri};
use axum::response::Response;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use super::accept::Accept;
use super::error::render_json_error;
use super::{AppState, ROUTES};
use crate::telemetry;

/// Route label of requests that matched no route (404s), so that arbitrary paths do not
/// create metric series.
const UNMATCHED_ROUTE: &str = "unmatched";

/// Observes every request: renders an error as JSON for a client that asked for JSON, then
/// records the request metrics and writes the access-log line.
#[derive(Clone)]
pub struct ObserveLayer {
    state: AppState,
}

impl ObserveLayer {
    pub fn new(state: AppState) -> ObserveLayer {
        ObserveLayer { state }
    }
}

impl<S> Layer<S> for ObserveLayer {
    type Service = Observe<S>;

    fn layer(&self, inner: S) -> Observe<S> {
        Observe {
            inner,
            state: self.state.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Observe<S> {
    inner: S,
    state: AppState,
}

impl<S, B> Service<Request> for Observe<S>
where
    S: Service<Request, Response = axum::http::Response<B>>,
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = ObserveFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // Applied with `Router::layer`, so this runs after routing: the router has put the
        // matched pattern into the request, for every method of a matched path.
        let route = request
            .extensions()
            .get::<MatchedPath>()
            .and_then(|matched| ROUTES.iter().copied().find(|r| *r == matched.as_str()))
            .unwrap_or(UNMATCHED_ROUTE);
        ObserveFuture {
            started: Instant::now(),
            route,
            method: request.method().clone(),
            // Shares the request's bytes: the path is logged without being copied.
            uri: request.uri().clone(),
            accept: Accept::of(request.headers()),
            state: self.state.clone(),
            inner: self.inner.call(request),
        }
    }
}

pin_project! {
    pub struct ObserveFuture<F> {
        #[pin]
        inner: F,
        started: Instant,
        route: &'static str,
        method: Method,
        uri: Uri,
        accept: Accept,
        state: AppState,
    }
}

impl<F, B, E> Future for ObserveFuture<F>
where
    F: Future<Output = Result<axum::http::Response<B>, E>>,
    B: axum::body::HttpBody<Data = axum::body::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.inner.poll(cx))?.map(Body::new);
        let response = match this.accept {
            Accept::Json => render_json_error(response),
            _ => response,
        };
        let elapsed = this.started.elapsed();
        let status = response.status().as_u16();
        let shared = &this.state.inner;
        shared
            .metrics
            .observe_request(this.route, method_label(this.method), status, elapsed);
        telemetry::log_access(
            this.method,
            this.uri.path(),
            status,
            elapsed,
            shared.pod.as_str(),
        );
        Poll::Ready(Ok(response))
    }
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
