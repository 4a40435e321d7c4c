//! `/admin/v1/admin-tokens`: list, create (the token is in the answer, once), revoke. The CLI's
//! `admin-token` commands use the same records and audit kinds.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::auth::{self, AdminCaller};
use super::error::{AdminError, AdminJson, AdminPath};
use super::responses::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType,
};
use crate::app::AppState;
use crate::store::AdminTokenRecord;

/// An admin token as listed: never the token itself. Times are Unix seconds.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "adm_3f2b9c0d7e8a4b5c9d1e2f3a4b5c6d7e", "name": "ci-readonly", "read_only": true,
    "created_at": 1_765_000_000, "created_by": "cli", "last_used_at": 1_765_003_600, "active": true
}))]
pub struct AdminTokenView {
    pub id: String,
    /// Recorded as the actor (`admin:<name>`) of every action taken with the token.
    pub name: String,
    pub read_only: bool,
    pub created_at: i64,
    /// `cli`, or `admin:<name>` of the token that created it.
    pub created_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
    pub active: bool,
}

impl From<AdminTokenRecord> for AdminTokenView {
    fn from(t: AdminTokenRecord) -> Self {
        Self {
            active: t.revoked_at.is_none(),
            id: t.id,
            name: t.name,
            read_only: t.read_only,
            created_at: t.created_at,
            created_by: t.created_by,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// Every admin token.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminTokenList {
    /// Newest first, revoked ones included.
    pub items: Vec<AdminTokenView>,
}

/// A token to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({ "name": "ci-readonly", "read_only": true }))]
pub struct NewAdminToken {
    /// 1 to 64 of `A-Z a-z 0-9 . _ @ -`, unique among unrevoked tokens.
    pub name: String,
    /// A read-only token can only read (default false).
    #[serde(default)]
    pub read_only: bool,
}

/// A created token: the only time its value is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedAdminToken {
    /// The bearer token. Store it now: only its hash is kept.
    pub token: String,
    pub admin_token: AdminTokenView,
}

/// The token path parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TokenRef {
    /// The token's id, or the name of an unrevoked token.
    pub id_or_name: String,
}

/// List admin tokens.
#[utoipa::path(get, path = "/admin/v1/admin-tokens", operation_id = "list_admin_tokens", tag = "admin-tokens",
    responses(
        (status = 200, description = "Every admin token", body = AdminTokenList),
        Unauthorized,
    ))]
pub async fn list(State(state): State<AppState>) -> Result<Json<AdminTokenList>, AdminError> {
    let items = state.core.store.list_admin_tokens().await?;
    Ok(Json(AdminTokenList {
        items: items.into_iter().map(Into::into).collect(),
    }))
}

/// Create an admin token.
#[utoipa::path(post, path = "/admin/v1/admin-tokens", operation_id = "create_admin_token", tag = "admin-tokens",
    request_body = NewAdminToken,
    responses(
        (status = 201, description = "Created; the token is shown this once", body = CreatedAdminToken),
        BadRequest, Unauthorized, Forbidden, Conflict, PayloadTooLarge, UnsupportedMediaType,
    ))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<AdminCaller>,
    AdminJson(new): AdminJson<NewAdminToken>,
) -> Result<(StatusCode, Json<CreatedAdminToken>), AdminError> {
    auth::check_name(&new.name).map_err(AdminError::BadRequest)?;
    let now = state.core.now();
    let (token, record) = auth::mint(&new.name, new.read_only, &caller.actor(), now);
    let audit = caller.audit(
        "admin_token_created",
        now,
        json!({ "created_token_id": record.id, "name": record.name, "read_only": record.read_only }),
    );
    let mut tx = state.core.store.begin().await?;
    tx.insert_admin_token(&record, &audit).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedAdminToken {
            token,
            admin_token: record.into(),
        }),
    ))
}

/// Revoke an admin token (by id, or by the name of an unrevoked token).
#[utoipa::path(delete, path = "/admin/v1/admin-tokens/{id_or_name}", operation_id = "revoke_admin_token", tag = "admin-tokens",
    params(TokenRef),
    responses(
        (status = 204, description = "Revoked"),
        Unauthorized, Forbidden, NotFound,
    ))]
pub async fn revoke(
    State(state): State<AppState>,
    Extension(caller): Extension<AdminCaller>,
    AdminPath(id_or_name): AdminPath<String>,
) -> Result<StatusCode, AdminError> {
    let now = state.core.now();
    let audit = caller.audit("admin_token_revoked", now, json!({}));
    let mut tx = state.core.store.begin().await?;
    tx.revoke_admin_token(&id_or_name, now, &audit)
        .await
        .map_err(AdminError::not_found("unrevoked admin token"))?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
