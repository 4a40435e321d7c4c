//! `grant_type=urn:ietf:params:oauth:grant-type:token-exchange` (RFC 8693): a resource's MCP
//! server, authenticated as the confidential `[[clients]]` entry an admin named in that
//! resource's `token_exchange_client`, presents a user's access token for that resource and gets
//! the user's upstream access token, fresh from the vault (refreshed upstream first when it
//! expires within [`HANDOUT_MARGIN`], under the vault's lease). Every answer is counted, every
//! exchange audited (`token_exchanged`, `token_exchange_refused`), never with a token in it.
//!
//! The issued token is the identity provider's, as it issued it: nothing here can narrow its
//! scope or retarget it, so `scope` is refused and `resource` / `audience` may only name the
//! client's own resource (what the subject token is for).

use secrecy::ExposeSecret as _;
use serde::Serialize;

use crate::oauth::crypto::REFRESH_PREFIX;
use crate::oauth::resource::{self, normalise};
use crate::oauth::tokens::{verify_access, AccessClaims};
use crate::oauth::{vault, Core, Error, Resource, Result, Settings};
use crate::store::{AccessTokenView, AuditEvent, ClientKind, ClientRecord};

/// The grant type (RFC 8693 §2.1).
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// The one token type taken as subject and issued (RFC 8693 §3).
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// An upstream access token that expires within this many seconds is refreshed before it is
/// handed out, so that its holder can still use it.
pub const HANDOUT_MARGIN: i64 = 30;
/// Longest `subject_token` read: our access tokens are JWTs of well under 2 KiB.
pub const MAX_SUBJECT_TOKEN: usize = 4096;

/// The RFC 8693 §2.1 parameters, as sent (absent and empty alike are `None` / empty).
#[derive(Debug, Default, Clone)]
pub struct ExchangeRequest<'a> {
    pub subject_token: Option<&'a str>,
    pub subject_token_type: Option<&'a str>,
    pub requested_token_type: Option<&'a str>,
    pub actor_token: Option<&'a str>,
    pub actor_token_type: Option<&'a str>,
    pub resource: Vec<String>,
    pub audience: Vec<String>,
    pub scope: Option<&'a str>,
}

/// The RFC 8693 §2.2.1 answer. Holds the upstream access token: never logged (no `Debug` of
/// the token), sent once with `Cache-Control: no-store`.
#[derive(Clone, Serialize)]
pub struct ExchangeResponse {
    pub access_token: String,
    pub issued_token_type: &'static str,
    /// `Bearer`: every upstream client of ours takes bearer tokens only (RFC 6750); a token of
    /// another type would not be an access token we could hand out as one.
    pub token_type: &'static str,
    /// Seconds until the upstream token expires, when the upstream said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_in: Option<i64>,
}

impl std::fmt::Debug for ExchangeResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExchangeResponse")
            .field("access_token", &"[redacted]")
            .field("issued_token_type", &self.issued_token_type)
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .finish()
    }
}

/// Exchanges the user's access token in `req` for their upstream access token. `client` is
/// already authenticated.
///
/// # Errors
/// `unauthorized_client` for a client no resource enabled, or a `resource` / `audience` it is
/// not enabled for; `invalid_request` for missing or unsupported parameters and for a subject
/// token that is not a live access token of ours for the client's resource (RFC 8693 §2.2.2);
/// `invalid_scope` for any `scope`; `invalid_target` for an unknown resource; `invalid_grant`
/// when the user's sign-in holds no usable upstream token (or the IdP ended it just now);
/// `temporarily_unavailable` when the upstream cannot refresh it.
pub async fn exchange(
    core: &Core,
    client: &ClientRecord,
    req: &ExchangeRequest<'_>,
    request_id: Option<String>,
) -> Result<ExchangeResponse> {
    let resource = exchange_resource(&core.settings, client).inspect_err(|e| {
        crate::metrics::upstream_token_handout(crate::metrics::Handout::Exchange, Err(e));
    })?;
    let result = exchange_for(core, client, resource, req, request_id.clone()).await;
    let outcome = result.as_ref().map(|_| ());
    if outcome.is_ok() {
        crate::metrics::token_issued("token_exchange");
    }
    crate::metrics::upstream_token_handout(crate::metrics::Handout::Exchange, outcome);
    if let Err(e) = &result {
        // A refusal of an enabled client is a security fact too (a compromised MCP server
        // probing with other tokens). Best effort: the answer is decided already.
        let audit = AuditEvent::new("token_exchange_refused", core.now())
            .actor(client.client_id.clone())
            .client(client.client_id.clone())
            .request(request_id)
            .detail(&serde_json::json!({ "resource": resource.id, "error": e.code() }));
        if let Err(err) = core.store.insert_audit_event(&audit).await {
            tracing::warn!(error = %err, "could not audit a refused token exchange");
        }
    }
    result
}

/// The resource whose MCP server `client` is: the one whose `token_exchange_client` names it
/// (configuration allows one), and only a confidential static client.
///
/// # Errors
/// `unauthorized_client` otherwise.
pub fn exchange_resource<'s>(
    settings: &'s Settings,
    client: &ClientRecord,
) -> Result<&'s Resource> {
    let confidential = client.kind == ClientKind::Static && client.secret_hash.is_some();
    match settings.exchange_resource(&client.client_id) {
        Some(r) if confidential => Ok(r),
        _ => Err(Error::UnauthorizedClient(
            "this client is not enabled for token exchange: an administrator names it in \
             token_exchange_client of the resource its MCP server serves"
                .to_owned(),
        )),
    }
}

async fn exchange_for(
    core: &Core,
    client: &ClientRecord,
    resource: &Resource,
    req: &ExchangeRequest<'_>,
    request_id: Option<String>,
) -> Result<ExchangeResponse> {
    let subject_token = check_request(req, resource, &core.settings)?;
    let (claims, view) = subject(core, subject_token, resource).await?;
    let tokens = vault::current_tokens(
        core,
        &view.grant,
        &claims.scope,
        request_id.as_deref(),
        HANDOUT_MARGIN,
    )
    .await?
    .ok_or_else(|| {
        Error::InvalidGrant(
            "the user's sign-in holds no upstream access token; the user must sign in again"
                .to_owned(),
        )
    })?;
    let now = core.now();
    let expires_in = usable_for(tokens.expires_at, tokens.refresh_token.is_some(), now)?;
    let audit = AuditEvent::new("token_exchanged", now)
        .actor(client.client_id.clone())
        .user(view.grant.user_id.clone())
        .client(client.client_id.clone())
        .grant(view.grant.id.clone())
        .request(request_id)
        .detail(&serde_json::json!({
            "resource": resource.id,
            // The subject token's id and client, never a token.
            "subject_jti": claims.jti,
            "subject_client_id": claims.client_id,
            "expires_in": expires_in,
        }));
    // No store change of its own (the vault's refresh is its own fact): the event alone, and
    // no token handed out unaudited.
    core.store.insert_audit_event(&audit).await?;
    super::touch_client(core, &client.client_id, now).await;
    Ok(ExchangeResponse {
        access_token: tokens.access_token.expose_secret().to_owned(),
        issued_token_type: ACCESS_TOKEN_TYPE,
        token_type: "Bearer",
        expires_in,
    })
}

/// Checks the parameters (RFC 8693 §2.1, §2.2.2) and returns the subject token.
///
/// # Errors
/// See [`exchange`].
pub fn check_request<'a>(
    req: &ExchangeRequest<'a>,
    resource: &Resource,
    settings: &Settings,
) -> Result<&'a str> {
    let subject_token = req
        .subject_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| Error::InvalidRequest("subject_token is required".to_owned()))?;
    if subject_token.len() > MAX_SUBJECT_TOKEN {
        return Err(Error::InvalidRequest(format!(
            "subject_token is longer than {MAX_SUBJECT_TOKEN} characters"
        )));
    }
    match req.subject_token_type.filter(|t| !t.is_empty()) {
        None => {
            return Err(Error::InvalidRequest(
                "subject_token_type is required".to_owned(),
            ))
        }
        Some(ACCESS_TOKEN_TYPE) => {}
        Some(_) => {
            return Err(Error::InvalidRequest(format!(
                "subject_token_type must be {ACCESS_TOKEN_TYPE}: the user's access token for \
                 this resource"
            )))
        }
    }
    if req
        .requested_token_type
        .is_some_and(|t| !t.is_empty() && t != ACCESS_TOKEN_TYPE)
    {
        return Err(Error::InvalidRequest(format!(
            "requested_token_type: only {ACCESS_TOKEN_TYPE} (the user's upstream access token) \
             can be issued"
        )));
    }
    if req.actor_token.is_some() || req.actor_token_type.is_some() {
        return Err(Error::InvalidRequest(
            "actor_token is not supported: the client that authenticated is the actor".to_owned(),
        ));
    }
    if req.scope.is_some_and(|s| !s.trim().is_empty()) {
        return Err(Error::InvalidScope(
            "the upstream access token is handed out as the identity provider issued it; its \
             scope cannot be narrowed or widened here: omit scope"
                .to_owned(),
        ));
    }
    for value in req.resource.iter().chain(&req.audience) {
        check_target(value, resource, settings)?;
    }
    Ok(subject_token)
}

/// A `resource` or `audience` value may name the client's own resource (its URI; an audience
/// also by its id), nothing else: the token handed out is for the identity provider's APIs.
fn check_target(value: &str, own: &Resource, settings: &Settings) -> Result<()> {
    let value = value.trim();
    if value.is_empty() || value == own.id {
        return Ok(());
    }
    let named = match settings.resources.iter().find(|r| r.id == value) {
        Some(r) => r,
        None => resource::resolve_resource(&[value.to_owned()], settings)?,
    };
    let same = match (normalise(&named.uri), normalise(&own.uri)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if same {
        Ok(())
    } else {
        Err(Error::UnauthorizedClient(format!(
            "token exchange is not enabled for resource {} for this client; it may exchange \
             tokens for {} only",
            named.id, own.id
        )))
    }
}

/// The subject token as a live access token of ours for `resource`, with its grant.
///
/// # Errors
/// `invalid_request` (RFC 8693 §2.2.2: the subject token is invalid or unacceptable).
async fn subject(
    core: &Core,
    token: &str,
    resource: &Resource,
) -> Result<(AccessClaims, AccessTokenView)> {
    let refused = |why: &str| Error::InvalidRequest(format!("subject_token {why}"));
    if token.starts_with(REFRESH_PREFIX) {
        return Err(refused(
            "is a refresh token; present the user's access token",
        ));
    }
    let claims = verify_access(core, token).map_err(|_| {
        refused("is not a valid access token of this server (malformed, foreign or expired)")
    })?;
    if claims.aud != resource.uri {
        return Err(refused(&format!(
            "was issued for another resource; this client exchanges tokens for {} only",
            resource.id
        )));
    }
    let view = core
        .store
        .get_access_token(&claims.jti)
        .await?
        .filter(|v| v.token.client_id == claims.client_id && v.grant.user_id == claims.sub)
        .ok_or_else(|| refused("is unknown"))?;
    if view.token.revoked_at.is_some()
        || view.family_revoked_at.is_some()
        || view.grant.revoked_at.is_some()
    {
        return Err(refused("was revoked"));
    }
    Ok((claims, view))
}

/// Seconds the upstream access token is still good for (`None`: the upstream did not say);
/// an expired one is refused: without an upstream refresh token it cannot get better, with one
/// the upstream could not be reached to refresh it.
///
/// # Errors
/// `invalid_grant` or `temporarily_unavailable` as said.
pub fn usable_for(expires_at: Option<i64>, refreshable: bool, now: i64) -> Result<Option<i64>> {
    match expires_at {
        Some(at) if at <= now && !refreshable => Err(Error::InvalidGrant(
            "the user's upstream access token expired and the identity provider issued no \
             refresh token; the user must sign in again"
                .to_owned(),
        )),
        Some(at) if at <= now => Err(Error::TemporarilyUnavailable(
            "the identity provider cannot refresh the user's upstream access token now; try \
             again later"
                .to_owned(),
        )),
        Some(at) => Ok(Some(at - now)),
        None => Ok(None),
    }
}

#[cfg(test)]
#[path = "token_exchange_tests.rs"]
mod tests;
