//! `/admin/v1/upstreams`: the configured upstream IdPs with what their last discovery check
//! found (the check at start, or the last test), and a connectivity test that checks one now.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{AdminError, AdminPath};
use super::responses::{Forbidden, NotFound, Unauthorized};
use crate::app::AppState;
use crate::oauth::upstreams::Upstream;
use crate::store::UpstreamRecord;

/// How the last discovery check of an upstream went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// Discovery and JWKS were fetched and usable.
    Ok,
    /// The last check failed: see `last_error`.
    Failing,
    /// Never checked yet (the check at start has not finished).
    Unchecked,
}

/// A configured upstream. Times are Unix seconds. Never its client secret.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "corp", "issuer": "https://login.example.com/", "display_name": "login.example.com",
    "client_id": "dcr-bridge", "status": "ok", "checked_at": 1_765_000_000,
    "discovery": { "issuer": "https://login.example.com/",
        "token_endpoint": "https://login.example.com/oauth/token" }
}))]
pub struct UpstreamView {
    /// The configured id.
    pub id: String,
    pub issuer: String,
    /// How the consent page names it.
    pub display_name: String,
    /// The client id dcr-bridge is registered under there.
    pub client_id: String,
    /// The configured kind: `oidc`, `okta`, `entra` or `google`.
    #[schema(example = "entra")]
    pub kind: String,
    pub status: CheckStatus,
    /// The error of the last check, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When it was last checked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checked_at: Option<i64>,
    /// What the last successful check found (endpoints, signing algorithms, scopes, JWKS key
    /// count), as `dcr-bridge check-config` prints it.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub discovery: Option<serde_json::Value>,
}

impl UpstreamView {
    fn new(upstream: &Upstream, record: Option<UpstreamRecord>) -> Self {
        let (status, last_error, checked_at, discovery) = match record {
            None => (CheckStatus::Unchecked, None, None, None),
            Some(r) if r.status == "ok" => (
                CheckStatus::Ok,
                None,
                Some(r.checked_at),
                r.metadata.and_then(|m| serde_json::from_str(&m).ok()),
            ),
            Some(r) => (
                CheckStatus::Failing,
                Some(r.status),
                Some(r.checked_at),
                None,
            ),
        };
        Self {
            id: upstream.id.clone(),
            issuer: upstream.issuer.clone(),
            display_name: upstream.display_name.clone(),
            client_id: upstream.client_id.clone(),
            kind: upstream.kind.as_str().to_owned(),
            status,
            last_error,
            checked_at,
            discovery,
        }
    }
}

/// Every configured upstream.
#[derive(Debug, Serialize, ToSchema)]
pub struct UpstreamList {
    /// In configuration order.
    pub items: Vec<UpstreamView>,
}

/// The upstream id path parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UpstreamId {
    /// The configured id.
    pub upstream_id: String,
}

/// List the configured upstreams and their last check.
#[utoipa::path(get, path = "/admin/v1/upstreams", operation_id = "list_upstreams", tag = "upstreams",
    responses(
        (status = 200, description = "Every configured upstream", body = UpstreamList),
        Unauthorized,
    ))]
pub async fn list(State(state): State<AppState>) -> Result<Json<UpstreamList>, AdminError> {
    let mut items = Vec::new();
    for upstream in state.core.upstreams.iter() {
        let record = state.core.store.get_upstream_status(&upstream.id).await?;
        items.push(UpstreamView::new(upstream, record));
    }
    Ok(Json(UpstreamList { items }))
}

/// Check an upstream's discovery now, record and answer the result. A failed (or never loaded)
/// discovery document is fetched again; a loaded one is checked from the IdP's discovery
/// cache (`discovery_ttl_seconds`). A failing upstream is a 200 with `status: failing`.
#[utoipa::path(post, path = "/admin/v1/upstreams/{upstream_id}/test", operation_id = "test_upstream", tag = "upstreams",
    params(UpstreamId),
    responses(
        (status = 200, description = "The check's result", body = UpstreamView),
        Unauthorized, Forbidden, NotFound,
    ))]
pub async fn test(
    State(state): State<AppState>,
    AdminPath(id): AdminPath<String>,
) -> Result<Json<UpstreamView>, AdminError> {
    let upstream = state
        .core
        .upstreams
        .get(&id)
        .ok_or_else(|| AdminError::NotFound("no upstream with this id".to_owned()))?;
    let record = crate::app::check_upstream(&state.core, upstream).await;
    Ok(Json(UpstreamView::new(upstream, Some(record))))
}
