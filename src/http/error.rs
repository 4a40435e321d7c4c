//! The one place protocol errors become wire responses: RFC 6749 §5.2 JSON with
//! `Cache-Control: no-store`, the right status, and a `WWW-Authenticate` challenge where the
//! RFCs ask for one. Internal causes are logged here, inside the request span, and never sent.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::oauth::Error;

/// HTTP status for an OAuth error.
#[must_use]
pub fn status_of(err: &Error) -> StatusCode {
    match err {
        // RFC 6749 §5.2 allows 400 without Basic, but COMPAT C12: clients only re-register
        // on 401, so every invalid_client is a 401.
        Error::InvalidClient { .. } | Error::InvalidToken(_) => StatusCode::UNAUTHORIZED,
        Error::AccessDenied(_) => StatusCode::FORBIDDEN,
        Error::TemporarilyUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Server(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    }
}

/// Logs an internal cause once; everything else is a client mistake worth a debug line.
pub fn log(err: &Error) {
    match err {
        Error::Server(source) => tracing::error!(error = %format!("{source:#}"), "internal error"),
        Error::TemporarilyUnavailable(d) => {
            tracing::warn!(description = %d, "temporarily unavailable")
        }
        other => tracing::debug!(
            error = other.code(),
            description = other.description(),
            "request refused"
        ),
    }
}

/// The JSON error body; the description limited to RFC 6749 §5.2's character set.
#[must_use]
pub fn body_of(err: &Error) -> serde_json::Value {
    match err.wire_description() {
        Some(d) => json!({ "error": err.code(), "error_description": d }),
        None => json!({ "error": err.code() }),
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        log(&self);
        let status = status_of(&self);
        let mut response = (status, axum::Json(body_of(&self))).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        match &self {
            Error::InvalidClient { basic: true, .. } => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"dcr-bridge\", charset=\"UTF-8\""),
                );
            }
            Error::InvalidToken(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            // RFC 9110 §15.6.4: a 503 may say when to come back. The database or the IdP is
            // away (or a SQLite file is locked by another process): a few seconds.
            Error::TemporarilyUnavailable(_) => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(crate::oauth::error::UNAVAILABLE_RETRY_SECONDS),
                );
            }
            _ => {}
        }
        response
    }
}

/// Adds `Cache-Control: no-store` and `Pragma: no-cache` to a successful token-ish response.
pub fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}
