//! `/admin/v1/clients`: list (filter by kind and disabled), get, delete (revokes its grants), and
//! revoke every grant of a client; creating and changing one are in [`super::client_write`].
//!
//! A client id may be an https URL (CIMD): percent-encode it as one path segment.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::auth::AdminCaller;
use super::error::{AdminError, AdminPath, AdminQuery};
use super::grants::{revoke_all, RevokedCount};
use super::pagination::{self, List, Page};
use super::responses::{BadRequest, Forbidden, NotFound, Unauthorized};
use crate::app::AppState;
use crate::store::{ClientFilter, ClientKind, ClientRecord, ManagedBy};

/// How a client came to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = ClientKind)]
pub enum Kind {
    /// RFC 7591 dynamic registration.
    Dcr,
    /// Client ID Metadata Document (the client id is an https URL).
    Cimd,
    /// Configured in `[[clients]]`.
    Static,
}

impl From<Kind> for ClientKind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::Dcr => Self::Dcr,
            Kind::Cimd => Self::Cimd,
            Kind::Static => Self::Static,
        }
    }
}

impl From<ClientKind> for Kind {
    fn from(k: ClientKind) -> Self {
        match k {
            ClientKind::Dcr => Self::Dcr,
            ClientKind::Cimd => Self::Cimd,
            ClientKind::Static => Self::Static,
        }
    }
}

/// A client as the admin API shows it (no secret or token hashes). Times are Unix seconds.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "client_id": "dcrb_c_k3J9cQ2xS0a1b2c3d4e5fA", "kind": "dcr", "client_name": "Claude Code",
    "redirect_uris": ["http://127.0.0.1/callback"], "grant_types": ["authorization_code", "refresh_token"],
    "token_endpoint_auth_method": "none", "application_type": "native", "upstream_id": "corp",
    "created_at": 1_765_000_000, "updated_at": 1_765_000_000, "last_used_at": 1_765_003_600,
    "disabled": false, "service_account": false, "managed_by": "client",
    "last_error": { "at": 1_765_003_000, "reason": "token request refused: invalid_grant: the refresh token is not valid" }
}))]
pub struct ClientView {
    pub client_id: String,
    pub kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub application_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    /// The configured upstream this client is mapped to: its users sign in there, and a
    /// resource that does not accept it refuses the client. `null`: unmapped (the resource's
    /// upstream, or the user's choice among the resource's upstreams).
    pub upstream_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Last token issued or refreshed (written at most once a minute); absent if never used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<i64>,
    /// A disabled client can neither start a flow nor redeem or refresh a token.
    pub disabled: bool,
    /// A machine client (`[[clients]].service_account`, the MCP client-credentials
    /// extension): it gets tokens with `client_credentials` only, for itself, with no user.
    pub service_account: bool,
    /// Who manages its metadata: `client` (dynamic, CIMD), `config` (`[[clients]]`) or
    /// `admin` (created here).
    pub managed_by: ManagedByView,
    /// Its last refused token request or failed sign-in; absent if none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<LastError>,
}

/// Who manages a client's metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = ClientManagedBy)]
pub enum ManagedByView {
    /// The client itself (RFC 7592, its metadata document).
    Client,
    /// A `[[clients]]` entry; disabled at the next start once the entry is removed.
    Config,
    /// Created through this API; the start-up sync leaves it alone.
    Admin,
}

impl From<ManagedBy> for ManagedByView {
    fn from(m: ManagedBy) -> Self {
        match m {
            ManagedBy::Client => Self::Client,
            ManagedBy::Config => Self::Config,
            ManagedBy::Admin => Self::Admin,
        }
    }
}

/// A client's last refused token request or failed sign-in flow.
#[derive(Debug, Serialize, ToSchema)]
pub struct LastError {
    /// When (Unix seconds).
    pub at: i64,
    /// The OAuth error and its description, or the failed step and the upstream's words.
    pub reason: String,
}

impl From<ClientRecord> for ClientView {
    fn from(c: ClientRecord) -> Self {
        let upstream_id = c.mapped_upstream().map(str::to_owned);
        let service_account = c.grant_types.iter().any(|g| g == "client_credentials");
        Self {
            client_id: c.client_id,
            kind: c.kind.into(),
            client_name: c.client_name,
            redirect_uris: c.redirect_uris,
            grant_types: c.grant_types,
            token_endpoint_auth_method: c.token_endpoint_auth_method,
            application_type: c.application_type,
            scope: c.scope,
            software_id: c.software_id,
            software_version: c.software_version,
            upstream_id,
            created_at: c.created_at,
            updated_at: c.updated_at,
            last_used_at: c.last_used_at,
            disabled: c.disabled,
            service_account,
            managed_by: c.managed_by.into(),
            last_error: c.last_error.map(|e| LastError {
                at: e.at,
                reason: e.reason,
            }),
        }
    }
}

/// Query of the client list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ClientListQuery {
    /// Only clients of this kind.
    pub kind: Option<Kind>,
    /// Only disabled (`true`) or enabled (`false`) clients.
    pub disabled: Option<bool>,
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The client id path parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ClientId {
    /// The client id (percent-encoded when it is a URL).
    pub client_id: String,
}

/// List clients, newest first.
#[utoipa::path(get, path = "/admin/v1/clients", operation_id = "list_clients", tag = "clients",
    params(ClientListQuery),
    responses(
        (status = 200, description = "One page of clients", body = Page<ClientView>),
        BadRequest, Unauthorized,
    ))]
pub async fn list(
    State(state): State<AppState>,
    AdminQuery(q): AdminQuery<ClientListQuery>,
) -> Result<Json<Page<ClientView>>, AdminError> {
    let page = pagination::request(List::Clients, q.limit, q.cursor.as_deref())?;
    let filter = ClientFilter {
        kind: q.kind.map(Into::into),
        disabled: q.disabled,
    };
    let rows = state.core.store.list_clients(&filter, &page).await?;
    Ok(Json(pagination::page(
        List::Clients,
        &page,
        rows,
        |c| (c.created_at, c.client_id.as_str()),
        ClientView::from,
    )))
}

/// Get one client.
#[utoipa::path(get, path = "/admin/v1/clients/{client_id}", operation_id = "get_client", tag = "clients",
    params(ClientId),
    responses(
        (status = 200, description = "The client", body = ClientView),
        Unauthorized, NotFound,
    ))]
pub async fn get(
    State(state): State<AppState>,
    AdminPath(id): AdminPath<String>,
) -> Result<Json<ClientView>, AdminError> {
    let client = state
        .core
        .store
        .get_client(&id)
        .await?
        .ok_or_else(no_client)?;
    Ok(Json(client.into()))
}

/// Delete a client and revoke every grant it holds (its refresh tokens stop working at once,
/// its access tokens at the gateway within the revocation poll bound). A static client still
/// in `[[clients]]` comes back, without grants, at the next start.
#[utoipa::path(delete, path = "/admin/v1/clients/{client_id}", operation_id = "delete_client", tag = "clients",
    params(ClientId),
    responses(
        (status = 204, description = "Deleted"),
        Unauthorized, Forbidden, NotFound,
    ))]
pub async fn delete(
    State(state): State<AppState>,
    Extension(caller): Extension<AdminCaller>,
    AdminPath(id): AdminPath<String>,
) -> Result<StatusCode, AdminError> {
    let now = state.core.now();
    let audit = caller
        .audit("admin_client_deleted", now, json!({}))
        .client(id.clone());
    if state.core.store.delete_client(&id, now, &audit).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(no_client())
    }
}

/// Revoke every active grant of a client (the client stays registered).
#[utoipa::path(delete, path = "/admin/v1/clients/{client_id}/grants", operation_id = "revoke_client_grants", tag = "clients",
    params(ClientId),
    responses(
        (status = 200, description = "How many grants were revoked", body = RevokedCount),
        Unauthorized, Forbidden, NotFound,
    ))]
pub async fn revoke_grants(
    State(state): State<AppState>,
    Extension(caller): Extension<AdminCaller>,
    AdminPath(id): AdminPath<String>,
) -> Result<Json<RevokedCount>, AdminError> {
    let core = &state.core;
    let mut tx = core.store.begin().await?;
    tx.get_client(&id).await?.ok_or_else(no_client)?;
    let revoked = revoke_all(tx.as_mut(), &caller, core.now(), None, Some(&id)).await?;
    tx.commit().await?;
    Ok(Json(RevokedCount { revoked }))
}

pub(super) fn no_client() -> AdminError {
    AdminError::NotFound("no client with this id".to_owned())
}
