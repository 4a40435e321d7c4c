//! `/admin/v1/grants`: list (by user, client, resource, active), get, revoke one; and the
//! revocation of every grant of a user or a client that `users` and `clients` share.
//!
//! Revoking a grant revokes its token families in the same transaction: refresh tokens fail at
//! once, and access tokens fail at the gateway within its revocation bound, since the gateway's
//! poll (`Store::revoked_access_tokens`) reads `grants.revoked_at` and `token_families.revoked_at`,
//! the very columns written here.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::auth::AdminCaller;
use super::error::{AdminError, AdminPath, AdminQuery};
use super::pagination::{self, List, Page};
use super::responses::{BadRequest, Forbidden, NotFound, Unauthorized};
use crate::app::AppState;
use crate::store::{GrantFilter, GrantRecord, StoreError, StoreTx};

/// A grant: what a user authorized a client to do at a resource. Times are Unix seconds.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "6f1c2e8a-3b7d-4f0e-9a51-2c8d7e6b5a43", "user_id": "0b9d4c1e-8f2a-4e6b-a7c3-5d1f9e2b8a60",
    "client_id": "dcrb_c_k3J9cQ2xS0a1b2c3d4e5fA", "resource": "https://mcp.example.com/mcp",
    "scope": "mcp:read", "created_at": 1_765_000_000, "updated_at": 1_765_000_000, "active": true
}))]
pub struct GrantView {
    pub id: String,
    pub user_id: String,
    pub client_id: String,
    /// The resource (audience) the grant's tokens are for.
    pub resource: String,
    pub scope: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// When it was revoked; absent while active.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
    pub active: bool,
}

impl From<GrantRecord> for GrantView {
    fn from(g: GrantRecord) -> Self {
        Self {
            active: g.revoked_at.is_none(),
            id: g.id,
            user_id: g.user_id,
            client_id: g.client_id,
            resource: g.resource,
            scope: g.scope,
            created_at: g.created_at,
            updated_at: g.updated_at,
            revoked_at: g.revoked_at,
        }
    }
}

/// How many grants a bulk revocation revoked (already revoked ones are not counted).
#[derive(Debug, Serialize, ToSchema)]
pub struct RevokedCount {
    pub revoked: u64,
}

/// Query of the grant list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GrantListQuery {
    /// Only this user's grants.
    pub user_id: Option<String>,
    /// Only this client's grants.
    pub client_id: Option<String>,
    /// Only grants for this resource URI.
    pub resource: Option<String>,
    /// Only active (`true`) or revoked (`false`) grants.
    pub active: Option<bool>,
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The grant id path parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct GrantId {
    pub grant_id: String,
}

/// List grants, newest first.
#[utoipa::path(get, path = "/admin/v1/grants", operation_id = "list_grants", tag = "grants",
    params(GrantListQuery),
    responses(
        (status = 200, description = "One page of grants", body = Page<GrantView>),
        BadRequest, Unauthorized,
    ))]
pub async fn list(
    State(state): State<AppState>,
    AdminQuery(q): AdminQuery<GrantListQuery>,
) -> Result<Json<Page<GrantView>>, AdminError> {
    let filter = GrantFilter {
        user_id: q.user_id,
        client_id: q.client_id,
        resource: q.resource,
        active: q.active,
    };
    list_page(&state, &filter, q.limit, q.cursor.as_deref()).await
}

/// One page of grants matching `filter` (shared with `/users/{id}/grants`).
pub(super) async fn list_page(
    state: &AppState,
    filter: &GrantFilter,
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<Json<Page<GrantView>>, AdminError> {
    let page = pagination::request(List::Grants, limit, cursor)?;
    let rows = state.core.store.list_grants(filter, &page).await?;
    Ok(Json(pagination::page(
        List::Grants,
        &page,
        rows,
        |g| (g.created_at, g.id.as_str()),
        GrantView::from,
    )))
}

/// Get one grant.
#[utoipa::path(get, path = "/admin/v1/grants/{grant_id}", operation_id = "get_grant", tag = "grants",
    params(GrantId),
    responses(
        (status = 200, description = "The grant", body = GrantView),
        Unauthorized, NotFound,
    ))]
pub async fn get(
    State(state): State<AppState>,
    AdminPath(id): AdminPath<String>,
) -> Result<Json<GrantView>, AdminError> {
    let grant = state
        .core
        .store
        .get_grant(&id)
        .await?
        .ok_or_else(no_grant)?;
    Ok(Json(grant.into()))
}

/// Revoke one grant and every token under it. Revoking a revoked grant changes nothing and
/// answers 204 too.
#[utoipa::path(delete, path = "/admin/v1/grants/{grant_id}", operation_id = "revoke_grant", tag = "grants",
    params(GrantId),
    responses(
        (status = 204, description = "Revoked"),
        Unauthorized, Forbidden, NotFound,
    ))]
pub async fn revoke(
    State(state): State<AppState>,
    Extension(caller): Extension<AdminCaller>,
    AdminPath(id): AdminPath<String>,
) -> Result<StatusCode, AdminError> {
    let now = state.core.now();
    let mut tx = state.core.store.begin().await?;
    let grant = tx.get_grant(&id).await?.ok_or_else(no_grant)?;
    let audit = caller
        .audit(
            "admin_grant_revoked",
            now,
            json!({ "user_id": grant.user_id }),
        )
        .client(grant.client_id)
        .grant(id.clone());
    tx.revoke_grant(&id, now, &audit).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes every active grant of `user_id` and/or `client_id` in `tx`, one audit event per
/// grant (so the trail can be searched by grant); returns how many.
///
/// # Errors
/// Store failures; the caller's transaction is then dropped, revoking nothing.
pub(super) async fn revoke_all(
    tx: &mut dyn StoreTx,
    caller: &AdminCaller,
    now: i64,
    user_id: Option<&str>,
    client_id: Option<&str>,
) -> Result<u64, StoreError> {
    let ids = tx.active_grant_ids(user_id, client_id).await?;
    let mut revoked = 0;
    for id in ids {
        let Some(grant) = tx.get_grant(&id).await? else {
            continue;
        };
        let audit = caller
            .audit(
                "admin_grant_revoked",
                now,
                json!({ "user_id": grant.user_id, "bulk": if user_id.is_some() { "user" } else { "client" } }),
            )
            .client(grant.client_id)
            .grant(id.clone());
        if tx.revoke_grant(&id, now, &audit).await? {
            revoked += 1;
        }
    }
    Ok(revoked)
}

fn no_grant() -> AdminError {
    AdminError::NotFound("no grant with this id".to_owned())
}
