//! The one error type of the HTTP layer. Handlers return `Result<_, HttpError>` and use `?`;
//! the error renders itself as text, and `render_json_error` (applied by `observe`) turns it
//! into `{"error": "..."}` for clients that asked for JSON, so no handler branches on the
//! format of its errors.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde::Serialize;

use super::NO_STORE;
use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct HttpError {
    pub status: StatusCode,
    /// The whole sentence the client reads.
    pub message: String,
}

impl HttpError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> HttpError {
        HttpError {
            status,
            message: message.into(),
        }
    }
}

impl From<StoreError> for HttpError {
    /// A visit that could not be counted or saved: the client may try again later.
    fn from(error: StoreError) -> HttpError {
        let message = match &error {
            StoreError::CountExhausted { .. } => {
                format!("503 Service Unavailable: {error}.")
            }
            _ => format!(
                "503 Service Unavailable: this visit was not counted because the visit count \
                 could not be saved to disk ({error}). Please try again later."
            ),
        };
        HttpError::new(StatusCode::SERVICE_UNAVAILABLE, message)
    }
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    error: &'a str,
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let body = format!("{}\n", self.message);
        let mut response = (self.status, NO_STORE, body).into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// `response` with its `HttpError` (if any) rendered as `{"error": "..."}`, for clients that
/// asked for JSON.
pub fn render_json_error(response: Response) -> Response {
    match response.extensions().get::<HttpError>() {
        Some(error) => (
            error.status,
            NO_STORE,
            Json(ErrorJson {
                error: &error.message,
            }),
        )
            .into_response(),
        None => response,
    }
}
