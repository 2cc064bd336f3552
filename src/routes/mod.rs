//! The HTTP interface: `fn app(state) -> Router` with the five endpoints, the X-Served-By header,
//! request metrics, the access log and the body-size and total-time bounds.
//!
//! - `handlers`: the endpoints; `error`: the one error type and its rendering;
//! - `accept`: content negotiation; `observe`: metrics and the access log.

mod accept;
mod error;
mod handlers;
mod observe;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::routing::get;
use chrono_tz::Tz;
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;

use crate::cluster::{Cluster, ClusterError, ClusterSettings};
use crate::config::Config;
use crate::metrics::{Metrics, PersistMetrics};
use crate::readiness::Readiness;
use crate::store::VisitStore;
use crate::validated::PodName;

pub const X_SERVED_BY: HeaderName = HeaderName::from_static("x-served-by");

/// Counts and errors must never come from a cache. A static value: a `&str` would be copied
/// into a new header value on every response.
const NO_STORE: [(HeaderName, HeaderValue); 1] =
    [(CACHE_CONTROL, HeaderValue::from_static("no-store"))];

/// Every route, as the `route` label of the request metrics.
const ROUTES: [&str; 5] = [INDEX, VISITS, HEALTHZ, READYZ, METRICS];
const INDEX: &str = "/";
const VISITS: &str = "/visits";
const HEALTHZ: &str = "/healthz";
const READYZ: &str = "/readyz";
const METRICS: &str = "/metrics";

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
    readiness: Readiness,
}

impl AppState {
    /// Everything the handlers share, wired from `config`: readiness and metrics over `store`
    /// (whose commits feed `persist`), and the cluster view of a service listening on
    /// `listening_on` (the bound address: the configured port may be 0).
    pub fn build(
        config: &Config,
        store: VisitStore,
        persist: &PersistMetrics,
        listening_on: SocketAddr,
    ) -> Result<AppState, ClusterError> {
        let readiness = Readiness::new(store.clone());
        let metrics = Metrics::new(persist, store.clone(), readiness.clone());
        let cluster = Cluster::new(
            &ClusterSettings::from_config(config, listening_on)?,
            metrics.peers().clone(),
        )?;
        Ok(AppState {
            inner: Arc::new(Shared {
                store,
                metrics,
                cluster: Arc::new(cluster),
                pod: config.pod_name.clone(),
                greeting: config.greeting.clone(),
                timezone: config.timezone,
                request_timeout: config.request_timeout,
                max_body_bytes: config.max_body_bytes,
                readiness,
            }),
        })
    }

    /// Makes `/readyz` answer 503 and `app_ready` read 0 from now on (first step of a
    /// graceful shutdown).
    pub fn begin_shutdown(&self) {
        self.inner.readiness.begin_shutdown();
    }

    pub fn readiness(&self) -> &Readiness {
        &self.inner.readiness
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
        .layer(observe::ObserveLayer::new(state.clone()))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::SERVICE_UNAVAILABLE,
            shared.request_timeout,
        ))
        .layer(RequestBodyLimitLayer::new(shared.max_body_bytes));
    Router::new()
        .route(INDEX, get(handlers::index).head(handlers::index_head))
        .route(VISITS, get(handlers::visits))
        .route(HEALTHZ, get(handlers::healthz))
        .route(READYZ, get(handlers::readyz))
        .route(METRICS, get(handlers::metrics))
        .fallback(handlers::not_found)
        .layer(middleware)
        .with_state(state)
}
