//! The admin API's one error shape, RFC 9457 `application/problem+json`, and the extractors whose
//! rejections become it (STYLE 9): bad JSON, a bad query string or path never reach the client
//! as axum's plain text.
//!
//! Problem `type` is `about:blank` (RFC 9457 §4.2.1: the `title` is then the HTTP status
//! phrase); the machine-readable reason is the extension member `code`, one of a closed set
//! that the OpenAPI document lists.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::store::StoreError;

/// The media type of every admin error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// An RFC 9457 problem: the body of every admin API error.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "about:blank",
    "title": "Not Found",
    "status": 404,
    "code": "not_found",
    "detail": "no client with this id"
}))]
pub struct Problem {
    /// Always `about:blank`: the status and `code` say what happened.
    #[serde(rename = "type")]
    pub kind: String,
    /// The HTTP status phrase.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// One of `unauthorized`, `forbidden`, `invalid_request`, `not_found`, `conflict`,
    /// `method_not_allowed`, `payload_too_large`, `unsupported_media_type`, `internal`.
    pub code: String,
    /// What was wrong, for a person. Never an internal cause.
    pub detail: String,
}

/// Errors of the admin API, mapped once to a [`Problem`] here.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No bearer token, or one that is unknown, revoked or malformed. `presented` says whether
    /// a token was sent (RFC 6750 §3.1: then the challenge carries `invalid_token`).
    #[error("{detail}")]
    Unauthorized { presented: bool, detail: String },
    /// A read-only token tried to write.
    #[error("{0}")]
    Forbidden(String),
    /// Malformed input: body, query, path, cursor.
    #[error("{0}")]
    BadRequest(String),
    /// The thing named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The change conflicts with the state (duplicate name, metadata owned elsewhere).
    #[error("{0}")]
    Conflict(String),
    /// Framework answers (405, 413, 415) turned into the same shape.
    #[error("{detail}")]
    Status {
        status: StatusCode,
        code: &'static str,
        detail: String,
    },
    /// Anything else: logged, never shown.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AdminError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            Self::Unauthorized { .. } => (StatusCode::UNAUTHORIZED, "unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            Self::Status { status, code, .. } => (*status, code),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// The problem body this error is sent as.
    #[must_use]
    pub fn problem(&self) -> Problem {
        let (status, code) = self.status_and_code();
        Problem {
            kind: "about:blank".to_owned(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            code: code.to_owned(),
            detail: self.to_string(),
        }
    }

    /// A store error where the caller knows what "not found" means.
    pub fn not_found(what: &str) -> impl FnOnce(StoreError) -> Self + '_ {
        move |e| match e {
            StoreError::NotFound => Self::NotFound(format!("no {what} with this id")),
            other => Self::from(other),
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => Self::NotFound("not found".to_owned()),
            StoreError::Conflict(meaning) => Self::Conflict(format!("conflict: {meaning}")),
            other if other.is_unavailable() => {
                tracing::warn!(error = %other, "database unavailable");
                Self::Status {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    code: "temporarily_unavailable",
                    detail: crate::oauth::error::DATABASE_UNAVAILABLE.to_owned(),
                }
            }
            other => Self::Internal(other.into()),
        }
    }
}

impl From<JsonRejection> for AdminError {
    fn from(r: JsonRejection) -> Self {
        match r.status() {
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::Status {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                code: "unsupported_media_type",
                detail: "send the body as application/json".to_owned(),
            },
            StatusCode::PAYLOAD_TOO_LARGE => Self::Status {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                code: "payload_too_large",
                detail: "the request body is too large".to_owned(),
            },
            _ => Self::BadRequest(format!("invalid JSON body: {}", r.body_text())),
        }
    }
}

impl From<QueryRejection> for AdminError {
    fn from(r: QueryRejection) -> Self {
        Self::BadRequest(format!("invalid query string: {}", r.body_text()))
    }
}

impl From<PathRejection> for AdminError {
    fn from(r: PathRejection) -> Self {
        Self::BadRequest(format!("invalid path: {}", r.body_text()))
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        match &self {
            Self::Internal(cause) => {
                tracing::error!(error = %format!("{cause:#}"), "admin API internal error");
            }
            other => tracing::debug!(error = %other, "admin request refused"),
        }
        let problem = self.problem();
        let status = StatusCode::from_u16(problem.status).unwrap_or(StatusCode::BAD_REQUEST);
        let mut response = (status, axum::Json(problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        // The database is away: a few seconds is how long a failover or restart takes; clients
        // (and the documented 503) retry after it.
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(crate::oauth::error::UNAVAILABLE_RETRY_SECONDS),
            );
        }
        // RFC 6750 §3: the challenge names the realm; §3.1: with a bad token, `invalid_token`;
        // a token lacking the right (read-only writing) is `insufficient_scope`.
        let challenge = match &self {
            Self::Unauthorized {
                presented: false, ..
            } => Some("Bearer realm=\"dcr-bridge-admin\""),
            Self::Unauthorized {
                presented: true, ..
            } => Some("Bearer realm=\"dcr-bridge-admin\", error=\"invalid_token\""),
            Self::Forbidden(_) => {
                Some("Bearer realm=\"dcr-bridge-admin\", error=\"insufficient_scope\"")
            }
            _ => None,
        };
        if let Some(challenge) = challenge {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        response
    }
}

/// `axum::Json` whose rejection is a [`Problem`].
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(AdminError))]
pub struct AdminJson<T>(pub T);

/// `axum::extract::Query` whose rejection is a [`Problem`].
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AdminError))]
pub struct AdminQuery<T>(pub T);

/// `axum::extract::Path` whose rejection is a [`Problem`].
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(AdminError))]
pub struct AdminPath<T>(pub T);
