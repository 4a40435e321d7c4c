//! `grant_type=refresh_token` with rotation (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2): one winner per
//! token, an idempotent replay inside a short grace window (COMPAT C16), reuse after it revokes
//! the family.

use super::check_resource;
use crate::oauth::crypto::{self, REFRESH_PREFIX};
use crate::oauth::scope::ScopeSet;
use crate::oauth::tokens::{mint_access_scoped, TokenResponse, UserClaims};
use crate::oauth::vault;
use crate::oauth::{Core, Error, Result};
use crate::store::{AuditEvent, ClientRecord, RefreshTokenRecord, RotateOutcome};

/// How often the store records a client's use (`TOUCH_EVERY_SECONDS` of the SQL store).
const CLIENT_TOUCH_SECONDS: i64 = 60;

/// Exchanges a refresh token for a new access token and a new refresh token. `client` is
/// already authenticated.
///
/// # Errors
/// `invalid_grant` for an unknown, expired, revoked, foreign or reused token; `invalid_scope`
/// for a scope beyond the family's; `invalid_target` for a resource other than the grant's.
pub async fn refresh(
    core: &Core,
    client: &ClientRecord,
    refresh_token: &str,
    scope: Option<&str>,
    resource: &[String],
    request_id: Option<String>,
) -> Result<TokenResponse> {
    let now = core.now();
    let old_hash = crypto::hash(refresh_token);
    let unknown = || Error::InvalidGrant("invalid refresh token".to_owned());
    let view = core
        .store
        .get_refresh_token(&old_hash)
        .await?
        .ok_or_else(unknown)?;
    // Another client's token gets the unknown-token answer and changes nothing.
    if view.family.client_id != client.client_id {
        return Err(unknown());
    }
    if view.family.revoked_at.is_some() || view.grant.revoked_at.is_some() {
        return Err(Error::InvalidGrant("refresh token revoked".to_owned()));
    }
    // A used token is left to the store: grace replay or reuse detection.
    if view.token.used_at.is_none() && view.token.expires_at <= now {
        return Err(Error::InvalidGrant("refresh token expired".to_owned()));
    }
    // RFC 9700 §4.14.2: refresh tokens are bound to the consented resource and scope. The
    // scope is the family's, consented when its code was issued: a later authorization of the
    // same client rewrites the grant's scope but must not widen (or narrow) older families.
    check_resource(resource, &view.grant.resource, &core.settings)?;
    let access_scope = narrow_scope(scope, &view.family.scope)?;
    // The user's standing at the IdP first (the token vault). A used token is a replay or a
    // reuse, which the store answers without issuing anything new.
    if view.token.used_at.is_none() {
        vault::ensure_current_as_read(
            core,
            &view.grant,
            &view.upstream,
            view.user.as_ref(),
            &view.family.scope,
            request_id.as_deref(),
        )
        .await?;
    }

    let new_token = crypto::new_secret(REFRESH_PREFIX);
    let new_record = RefreshTokenRecord {
        token_hash: crypto::hash(&new_token),
        family_id: view.family.id.clone(),
        parent_hash: Some(old_hash.clone()),
        created_at: now,
        // Rotation renews the token, never the sign-in: the family ends at session_max_age.
        expires_at: (now + core.settings.tokens.refresh_token_ttl)
            .min(view.family.created_at + core.settings.tokens.session_max_age),
        used_at: None,
    };
    // COMPAT C22: the client's rule may give it a longer (or shorter) access token.
    let ttl = core.settings.access_token_ttl(client);
    let user = UserClaims::of(core, view.user.as_ref());
    let (jwt, access) = mint_access_scoped(
        core,
        &view.grant,
        &view.family.id,
        &client.client_id,
        &access_scope,
        ttl,
        &user,
    )?;
    let response = TokenResponse::new(jwt, ttl, Some(new_token), access_scope);
    let json = serde_json::to_vec(&response).map_err(Error::server)?;
    // Only a holder of the old token can read the saved response.
    let replay = crypto::seal_with_token(refresh_token, &json).map_err(Error::server)?;
    let audit = AuditEvent::new("refreshed", now)
        .actor(view.grant.user_id.clone())
        .user(view.grant.user_id.clone())
        .client(client.client_id.clone())
        .grant(view.grant.id.clone())
        .request(request_id)
        .detail(&serde_json::json!({ "family_id": view.family.id, "jti": access.jti, "scope": response.scope }));

    let outcome = core
        .store
        .rotate_refresh_token(
            &old_hash,
            now,
            core.settings.tokens.refresh_grace_seconds,
            &new_record,
            &access,
            &replay,
            &audit,
        )
        .await?;
    match outcome {
        RotateOutcome::Rotated => {
            crate::metrics::token_issued("refresh_token");
            // The store writes `last_used_at` at most once a minute; when the client record
            // read for its authentication already says it is that fresh, the write would
            // change nothing and is not sent (on SQLite it would queue for the write lock).
            if client
                .last_used_at
                .is_none_or(|at| at > now || now - at >= CLIENT_TOUCH_SECONDS)
            {
                super::touch_client(core, &client.client_id, now).await;
            }
            Ok(response)
        }
        RotateOutcome::Replay(sealed) => {
            crate::metrics::refresh_replayed();
            let plain = crypto::open_with_token(refresh_token, &sealed).map_err(Error::server)?;
            serde_json::from_slice(&plain).map_err(Error::server)
        }
        RotateOutcome::ReuseDetected => {
            crate::metrics::refresh_reuse_detected();
            Err(Error::InvalidGrant(
                "refresh token reuse detected; the grant's tokens were revoked".to_owned(),
            ))
        }
        RotateOutcome::Invalid => Err(unknown()),
    }
}

/// RFC 6749 §6: a requested scope must be within the family's; it narrows this access token
/// only (the new refresh token keeps the family's full scope). Absent or empty means the
/// family's scope.
fn narrow_scope(requested: Option<&str>, granted: &str) -> Result<String> {
    let requested = ScopeSet::parse(requested.unwrap_or_default())?;
    if requested.is_empty() {
        return Ok(granted.to_owned());
    }
    if !requested.is_subset_of(&ScopeSet::from_tokens(granted.split_whitespace())) {
        return Err(Error::InvalidScope(
            "the requested scope exceeds the granted scope".to_owned(),
        ));
    }
    Ok(requested.to_string())
}

#[cfg(test)]
#[path = "refresh_token_tests.rs"]
mod tests;
