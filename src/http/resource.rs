//! The paths of metadata-only resources (no `upstream_url`; gateway/ serves the others). The MCP
//! server validates our tokens itself, but these paths still do the part every MCP client needs
//! first (COMPAT C3): an unauthenticated or invalid request gets 401 with
//! `WWW-Authenticate: Bearer resource_metadata=…, scope=…` (RFC 9728 §5.1, RFC 6750 §3); a valid
//! token for another resource gets 401 `invalid_token`; a valid token 501.

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::app::AppState;
use crate::http::error::no_store;
use crate::http::form::authorization;
use crate::oauth::{introspect, Resource};

/// One route per configured resource path.
pub fn routes(state: &AppState) -> Router<AppState> {
    let mut router = Router::new();
    for r in &state.core.settings.resources {
        if state.gateway.serves(&r.path) {
            continue;
        }
        let resource = r.clone();
        router = router.route(
            &r.path,
            any(move |State(app): State<AppState>, headers: HeaderMap| {
                let resource = resource.clone();
                async move { protected(&app, &resource, &headers).await }
            }),
        );
    }
    router
}

/// The `WWW-Authenticate` challenge for a resource.
#[must_use]
pub fn challenge(app: &AppState, r: &Resource, error: Option<&str>) -> String {
    let mut value = format!(
        "Bearer resource_metadata=\"{}\"",
        app.core.settings.resource_metadata_url(r)
    );
    if !r.scopes.is_empty() {
        value.push_str(&format!(", scope=\"{}\"", r.scopes.join(" ")));
    }
    if let Some(e) = error {
        value.push_str(&format!(", error=\"{e}\""));
    }
    value
}

/// 401 with the challenge and `Cache-Control: no-store`, like every other answer about
/// credentials here (RFC 6749 §5.1 asks it of token responses): a shared cache must never replay
/// one request's refusal to another.
fn unauthorized(app: &AppState, r: &Resource, error: Option<&str>, description: &str) -> Response {
    // RFC 6750 §3.1: a request without credentials gets no error code, only the challenge.
    let body = match error {
        Some(e) => json!({ "error": e, "error_description": description }),
        None => json!({ "error_description": description }),
    };
    let mut res = (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&challenge(app, r, error)) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    no_store(res)
}

async fn protected(app: &AppState, r: &Resource, headers: &HeaderMap) -> Response {
    let Some(token) = authorization(headers, "Bearer") else {
        return unauthorized(app, r, None, "authorization required");
    };
    let info = match introspect::introspect(&app.core, token).await {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    // Only access tokens are bearer credentials here: introspection also describes refresh
    // tokens (for their own clients), which must never open a resource.
    let active = info.get("active") == Some(&Value::Bool(true))
        && info.get("token_type").and_then(Value::as_str) == Some(introspect::ACCESS_TOKEN_TYPE);
    // RFC 8707 / MCP: a token is accepted only by the resource it was issued for.
    if !active || info.get("aud").and_then(Value::as_str) != Some(r.uri.as_str()) {
        return unauthorized(
            app,
            r,
            Some("invalid_token"),
            "the access token is invalid, expired, revoked or for another resource",
        );
    }
    (
        StatusCode::NOT_IMPLEMENTED,
        Json(json!({
            "error": "not_implemented",
            "error_description": "the token is valid, but this resource has no upstream_url: its MCP server validates tokens itself",
        })),
    )
        .into_response()
}
