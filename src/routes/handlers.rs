//! The five endpoints. Only `GET /` counts a visit.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{Html, IntoResponse, Json, Response};
use chrono::Utc;
use serde::{Deserialize, Serialize};

use super::accept::Accept;
use super::error::HttpError;
use super::{AppState, NO_STORE};
use crate::page::PageView;

/// `GET /`: counts exactly one visit, answered once it is durable. With peers, also shows the
/// cluster total (peers' counts at most `PAGE_PEERS_MAX_AGE` old, bounded by the cluster
/// deadline; peers being down never fails the page).
pub async fn index(State(state): State<AppState>, accept: Accept) -> Result<Response, HttpError> {
    let shared = &state.inner;
    let visits = shared.store.record_visit().await.inspect_err(|error| {
        tracing::error!(%error, pod = %shared.pod, "a visit could not be counted");
    })?;
    let view = PageView {
        greeting: &shared.greeting,
        pod: shared.pod.as_str(),
        visits,
        now: Utc::now().with_timezone(&shared.timezone),
        cluster: shared.cluster.page_total(visits).await,
    };
    Ok(match accept {
        Accept::Json => (NO_STORE, Json(view.json())).into_response(),
        _ => (NO_STORE, Html(view.html())).into_response(),
    })
}

/// `HEAD /`: the page's headers without counting a visit. Uptime monitors and link
/// previewers send HEAD; nobody sees a page, so nobody visited.
pub async fn index_head(accept: Accept) -> Response {
    let content_type = match accept {
        Accept::Json => "application/json",
        _ => "text/html; charset=utf-8",
    };
    (NO_STORE, [(CONTENT_TYPE, content_type)]).into_response()
}

/// `?scope=` of `/visits`: this replica's count (`local`, the default) or every replica's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Local,
    Cluster,
}

#[derive(Debug, Deserialize)]
pub struct VisitsQuery {
    #[serde(default)]
    scope: Option<String>,
}

impl VisitsQuery {
    fn scope(&self) -> Result<Scope, HttpError> {
        match self.scope.as_deref() {
            None | Some("local") => Ok(Scope::Local),
            Some("cluster") => Ok(Scope::Cluster),
            Some(other) => Err(HttpError::new(
                StatusCode::BAD_REQUEST,
                format!("unknown scope {other:?}: use scope=local or scope=cluster"),
            )),
        }
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct VisitsJson {
    pub visits: u64,
    pub pod: String,
}

/// `GET /visits`: this replica's durable count, or the cluster view; never counts a visit.
pub async fn visits(
    State(state): State<AppState>,
    Query(query): Query<VisitsQuery>,
    accept: Accept,
) -> Result<Response, HttpError> {
    let shared = &state.inner;
    let local = shared.store.durable();
    Ok(match (query.scope()?, accept) {
        (Scope::Local, Accept::Json) => (
            NO_STORE,
            Json(VisitsJson {
                visits: local,
                pod: shared.pod.to_string(),
            }),
        )
            .into_response(),
        (Scope::Local, _) => (NO_STORE, format!("{local}\n")).into_response(),
        // JSON unless text/plain is asked for: the breakdown and the unreachable peers do not
        // fit a bare number. Peers are asked for their local count only, so this never fans
        // out further.
        (Scope::Cluster, accept) => {
            let view = shared.cluster.view(local).await;
            match accept {
                Accept::Text => (NO_STORE, view.text()).into_response(),
                _ => (NO_STORE, Json(view)).into_response(),
            }
        }
    })
}

/// `GET /healthz`: liveness; answering at all proves the process and its runtime respond.
pub async fn healthz() -> &'static str {
    "ok\n"
}

/// `GET /readyz`: 200 while `Readiness` holds, 503 with the reason otherwise.
pub async fn readyz(State(state): State<AppState>) -> Result<&'static str, HttpError> {
    state.readiness().check().map_err(|reason| {
        HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}"),
        )
    })?;
    Ok("ready\n")
}

/// `GET /metrics`: Prometheus/OpenMetrics text.
pub async fn metrics(State(state): State<AppState>) -> Result<Response, HttpError> {
    let body = state.inner.metrics.encode().map_err(|error| {
        tracing::error!(%error, "encoding metrics failed");
        HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, "encoding metrics failed")
    })?;
    Ok((
        [(
            CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response())
}

pub async fn not_found() -> HttpError {
    HttpError::new(StatusCode::NOT_FOUND, "404 Not Found")
}
