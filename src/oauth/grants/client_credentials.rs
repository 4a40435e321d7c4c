//! `grant_type=client_credentials` (OAuth 2.1 §4.2, the MCP client-credentials extension): a
//! service account (a confidential `[[clients]]` entry with `service_account`) gets a token for
//! itself, for one of its resources and within its scopes. No user, so no upstream, consent,
//! vault or refresh token; `sub` is the client id and `client_kind` says so (RFC 9068 §2.2).

use crate::oauth::resource::{self, normalise};
use crate::oauth::scope::ScopeSet;
use crate::oauth::tokens::{mint_service_access, TokenResponse};
use crate::oauth::{Core, Error, Result};
use crate::store::{AuditEvent, ClientRecord, GrantRecord, UserRecord};

/// The issuer under which service accounts are kept as users (keyed by (issuer, client id)),
/// so that their tokens hang off a grant like every other token and revoke the same way.
pub const SERVICE_ACCOUNT_ISSUER: &str = "urn:dcr-bridge:service-account";
/// The `upstream_id` of a service account's user row: it signs in nowhere.
pub const SERVICE_ACCOUNT_UPSTREAM: &str = "service-account";

/// Issues a service account's access token. `client` is already authenticated.
///
/// # Errors
/// `unauthorized_client` for a client that is not a service account; `invalid_target` for a
/// missing (when it has several), unknown or not allowed `resource`; `invalid_scope` for a scope
/// beyond what it may get for that resource.
pub async fn issue(
    core: &Core,
    client: &ClientRecord,
    scope: Option<&str>,
    requested: &[String],
    request_id: Option<String>,
) -> Result<TokenResponse> {
    let account = core
        .settings
        .machine
        .account(&client.client_id)
        .filter(|_| client.grant_types.iter().any(|g| g == "client_credentials"))
        .ok_or_else(|| {
            Error::UnauthorizedClient(
                "client_credentials is for service accounts; this client is not one".to_owned(),
            )
        })?;
    let resource = if requested.iter().all(|v| v.trim().is_empty()) {
        // RFC 8707 §2: without `resource`, the only one it may use, if there is just one.
        match account.resources.as_slice() {
            [only] => core.settings.resource_by_uri(only),
            _ => None,
        }
        .ok_or_else(|| {
            Error::InvalidTarget(
                "resource is required: this service account may use several".to_owned(),
            )
        })?
    } else {
        resource::resolve_resource(requested, &core.settings)?
    };
    let allowed_resource = account
        .resources
        .iter()
        .any(|r| normalise(r).ok() == normalise(&resource.uri).ok());
    if !allowed_resource {
        return Err(Error::InvalidTarget(
            "this service account may not get tokens for this resource".to_owned(),
        ));
    }
    let allowed = ScopeSet::from_tokens(account.allowed_scopes(resource));
    let wanted = ScopeSet::parse(scope.unwrap_or_default())?;
    let granted = if wanted.is_empty() {
        allowed
    } else if wanted.is_subset_of(&allowed) {
        wanted
    } else {
        return Err(Error::InvalidScope(format!(
            "this service account may get at most \"{allowed}\" for this resource"
        )));
    };
    let scope = granted.to_string();

    let now = core.now();
    let ttl = core.settings.access_token_ttl(client);
    let (jwt, access) = mint_service_access(core, &client.client_id, &resource.uri, &scope, ttl)?;
    let user = UserRecord {
        id: uuid::Uuid::new_v4().to_string(),
        upstream_id: SERVICE_ACCOUNT_UPSTREAM.to_owned(),
        issuer: SERVICE_ACCOUNT_ISSUER.to_owned(),
        subject: client.client_id.clone(),
        email: None,
        name: client.client_name.clone(),
        groups: Vec::new(),
        created_at: now,
        last_login_at: now,
    };
    let grant = GrantRecord {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: String::new(),
        client_id: client.client_id.clone(),
        resource: resource.uri.clone(),
        scope: scope.clone(),
        upstream_tokens: None,
        created_at: now,
        updated_at: now,
        revoked_at: None,
    };
    let audit = AuditEvent::new("token_issued", now)
        .actor(client.client_id.clone())
        .client(client.client_id.clone())
        .request(request_id)
        .detail(&serde_json::json!({
            "grant_type": "client_credentials",
            "client_kind": "service",
            "jti": access.jti,
            "refresh_token": false,
            "resource": resource.uri,
            "scope": scope,
        }));
    core.store
        .issue_direct_token(&user, &grant, &access, &audit)
        .await?;
    crate::metrics::token_issued("client_credentials");
    super::touch_client(core, &client.client_id, now).await;
    Ok(TokenResponse::new(jwt, ttl, None, scope))
}
