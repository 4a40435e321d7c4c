//! `/admin/v1/initial-access-tokens` (list, create: the token is in the answer, once; revoke)
//! and `/admin/v1/registration-policy` (the policy in force). The CLI's `initial-access-token`
//! commands use the same records and audit kinds.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::auth::{self, AdminCaller};
use super::error::{AdminError, AdminJson, AdminPath};
use super::responses::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType,
};
use super::tokens::TokenRef;
use crate::app::AppState;
use crate::oauth::registration_policy::{check_limits, mint_initial_token};
use crate::store::InitialAccessTokenRecord;

/// An initial access token as listed: never the token itself. Times are Unix seconds.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "iat_0c1d2e3f405162738495a6b7c8d9e0f1", "name": "laptop-fleet", "max_uses": 50,
    "uses": 3, "expires_at": 1_767_600_000, "created_at": 1_765_000_000, "created_by": "cli",
    "last_used_at": 1_765_003_600, "state": "active"
}))]
pub struct InitialTokenView {
    pub id: String,
    /// Recorded in the audit event of every registration made with it.
    pub name: String,
    /// Most registrations it allows; absent, unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<i64>,
    /// Registrations made with it so far.
    pub uses: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    pub created_at: i64,
    /// `cli`, or `admin:<name>` of the admin token that created it.
    pub created_by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
    /// `active`, `revoked`, `expired` or `used_up`.
    pub state: String,
}

impl InitialTokenView {
    fn new(t: InitialAccessTokenRecord, now: i64) -> Self {
        Self {
            state: t.unusable(now).unwrap_or("active").to_owned(),
            id: t.id,
            name: t.name,
            max_uses: t.max_uses,
            uses: t.uses,
            expires_at: t.expires_at,
            created_at: t.created_at,
            created_by: t.created_by,
            last_used_at: t.last_used_at,
            revoked_at: t.revoked_at,
        }
    }
}

/// Every initial access token.
#[derive(Debug, Serialize, ToSchema)]
pub struct InitialTokenList {
    /// Newest first, revoked, expired and used-up ones included.
    pub items: Vec<InitialTokenView>,
}

/// An initial access token to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({ "name": "laptop-fleet", "max_uses": 50, "expires_in": 2_592_000 }))]
pub struct NewInitialToken {
    /// 1 to 64 of `A-Z a-z 0-9 . _ @ -`, unique among unrevoked initial access tokens.
    pub name: String,
    /// Most registrations it allows (at least 1); absent, unlimited.
    #[serde(default)]
    pub max_uses: Option<i64>,
    /// Lifetime in seconds (1 to about ten years); absent, it does not expire.
    #[serde(default)]
    pub expires_in: Option<i64>,
}

/// A created token: the only time its value is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedInitialToken {
    /// The bearer token to send to `POST /register`. Store it now: only its hash is kept.
    pub token: String,
    pub initial_access_token: InitialTokenView,
}

/// The registration policy in force (from the configuration's `[registration]`).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "mode": "initial_access_token", "allowed_redirect_schemes": ["https", "http"],
    "allowed_redirect_hosts": ["claude.ai", "*.corp.example"], "allow_loopback_redirects": true,
    "max_dynamic_clients": 500, "dynamic_clients": 42, "max_redirect_uris": 10,
    "unused_client_ttl_days": 90, "source": "config"
}))]
pub struct RegistrationPolicyView {
    /// `open`, `initial_access_token` or `closed`.
    pub mode: String,
    /// Empty: every scheme the built-in rules accept.
    pub allowed_redirect_schemes: Vec<String>,
    /// Empty: any https host.
    pub allowed_redirect_hosts: Vec<String>,
    pub allow_loopback_redirects: bool,
    /// Absent: no cap.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_dynamic_clients: Option<i64>,
    /// How many dynamically registered clients exist now.
    pub dynamic_clients: i64,
    pub max_redirect_uris: usize,
    /// 0: unused dynamic clients are kept forever.
    pub unused_client_ttl_days: i64,
    /// Where the policy comes from: always `config` (change it in the file and restart).
    pub source: String,
}

/// The registration policy.
#[utoipa::path(get, path = "/admin/v1/registration-policy", operation_id = "get_registration_policy", tag = "registration",
    responses(
        (status = 200, description = "The policy in force", body = RegistrationPolicyView),
        Unauthorized,
    ))]
pub async fn policy(
    State(state): State<AppState>,
) -> Result<Json<RegistrationPolicyView>, AdminError> {
    let r = &state.core.settings.registration;
    let inventory = state.core.store.inventory().await?;
    let dynamic_clients = inventory
        .clients_by_kind
        .iter()
        .filter(|(kind, _)| kind == "dcr")
        .map(|(_, n)| *n)
        .sum();
    Ok(Json(RegistrationPolicyView {
        mode: r.mode().as_str().to_owned(),
        allowed_redirect_schemes: r.allowed_redirect_schemes.clone(),
        allowed_redirect_hosts: r.allowed_redirect_hosts.clone(),
        allow_loopback_redirects: r.allow_loopback_redirects,
        max_dynamic_clients: r.max_dynamic_clients,
        dynamic_clients,
        max_redirect_uris: r.max_redirect_uris,
        unused_client_ttl_days: r.unused_client_ttl_days,
        source: "config".to_owned(),
    }))
}

/// List initial access tokens.
#[utoipa::path(get, path = "/admin/v1/initial-access-tokens", operation_id = "list_initial_access_tokens", tag = "registration",
    responses(
        (status = 200, description = "Every initial access token", body = InitialTokenList),
        Unauthorized,
    ))]
pub async fn list(State(state): State<AppState>) -> Result<Json<InitialTokenList>, AdminError> {
    let now = state.core.now();
    let items = state.core.store.list_initial_access_tokens().await?;
    Ok(Json(InitialTokenList {
        items: items
            .into_iter()
            .map(|t| InitialTokenView::new(t, now))
            .collect(),
    }))
}

/// Create an initial access token (RFC 7591 §3).
#[utoipa::path(post, path = "/admin/v1/initial-access-tokens", operation_id = "create_initial_access_token", tag = "registration",
    request_body = NewInitialToken,
    responses(
        (status = 201, description = "Created; the token is shown this once", body = CreatedInitialToken),
        BadRequest, Unauthorized, Forbidden, Conflict, PayloadTooLarge, UnsupportedMediaType,
    ))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<AdminCaller>,
    AdminJson(new): AdminJson<NewInitialToken>,
) -> Result<(StatusCode, Json<CreatedInitialToken>), AdminError> {
    auth::check_name(&new.name).map_err(AdminError::BadRequest)?;
    check_limits(new.max_uses, new.expires_in).map_err(AdminError::BadRequest)?;
    let now = state.core.now();
    let expires_at = new.expires_in.map(|s| now + s);
    let (token, record) =
        mint_initial_token(&new.name, new.max_uses, expires_at, &caller.actor(), now);
    let audit = caller.audit(
        "initial_access_token_created",
        now,
        json!({
            "created_token_id": record.id, "name": record.name,
            "max_uses": record.max_uses, "expires_at": record.expires_at,
        }),
    );
    let mut tx = state.core.store.begin().await?;
    tx.insert_initial_access_token(&record, &audit).await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedInitialToken {
            token,
            initial_access_token: InitialTokenView::new(record, now),
        }),
    ))
}

/// Revoke an initial access token (by id, or by the name of an unrevoked token).
#[utoipa::path(delete, path = "/admin/v1/initial-access-tokens/{id_or_name}", operation_id = "revoke_initial_access_token", tag = "registration",
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
    let audit = caller.audit("initial_access_token_revoked", now, json!({}));
    let mut tx = state.core.store.begin().await?;
    tx.revoke_initial_access_token(&id_or_name, now, &audit)
        .await
        .map_err(AdminError::not_found("unrevoked initial access token"))?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
