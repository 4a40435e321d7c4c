//! Token revocation (RFC 7009) of our refresh tokens and access tokens.

use super::crypto::{self, REFRESH_PREFIX};
use super::tokens::AccessClaims;
use super::{Core, Result};
use crate::store::{AuditEvent, ClientRecord};

/// Revokes `token` if it is ours and was issued to `client` (already authenticated).
///
/// The token's shape decides its type (our refresh tokens carry a prefix, access tokens are
/// JWTs), so `hint` is not needed and an unknown hint is ignored (RFC 7009 §2.1: the server may
/// ignore it). An unknown, invalid or foreign token is answered like a revoked one (RFC 7009
/// §2.2), and nothing is changed; the response does not tell the client which case it was.
///
/// A refresh token revokes its whole family, and so every access token issued from it
/// (RFC 7009 §2.1 "SHOULD also invalidate all access tokens based on the same grant").
/// An access token revokes only itself.
///
/// # Errors
/// Store failures only.
pub async fn revoke(
    core: &Core,
    client: &ClientRecord,
    token: &str,
    hint: Option<&str>,
    request_id: Option<String>,
) -> Result<()> {
    let _ = hint;
    let now = core.now();
    let audit = |grant_id: &str, user_id: &str, kind: &str| {
        AuditEvent::new("revoked", now)
            .actor(client.client_id.clone())
            .client(client.client_id.clone())
            .user(user_id.to_owned())
            .grant(grant_id.to_owned())
            .request(request_id.clone())
            .detail(&serde_json::json!({ "token_type": kind }))
    };

    if token.starts_with(REFRESH_PREFIX) {
        let hash = crypto::hash(token);
        if let Some(view) = core.store.get_refresh_token(&hash).await? {
            if view.family.client_id == client.client_id && view.family.revoked_at.is_none() {
                core.store
                    .revoke_refresh_family(
                        &hash,
                        now,
                        &audit(&view.grant.id, &view.grant.user_id, "refresh_token"),
                    )
                    .await?;
            }
        }
        return Ok(());
    }

    // An expired access token is still revoked quietly: it is ours and harmless to mark.
    let Ok(claims) = core
        .keys
        .verify_ignoring_expiry::<AccessClaims>(token, &core.settings.issuer)
    else {
        return Ok(());
    };
    if claims.client_id != client.client_id {
        return Ok(());
    }
    if let Some(view) = core.store.get_access_token(&claims.jti).await? {
        if view.token.client_id == client.client_id && view.token.revoked_at.is_none() {
            core.store
                .revoke_access_token(
                    &claims.jti,
                    now,
                    &audit(&view.grant.id, &view.grant.user_id, "access_token"),
                )
                .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "revoke_tests.rs"]
mod tests;
