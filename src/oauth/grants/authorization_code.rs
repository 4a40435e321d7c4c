//! `grant_type=authorization_code` (RFC 6749 §4.1.3, OAuth 2.1 §4.1.3, RFC 7636 §4.6).

use super::check_resource;
use crate::oauth::crypto::{self, REFRESH_PREFIX};
use crate::oauth::tokens::{mint_access_scoped, TokenResponse, UserClaims};
use crate::oauth::{pkce, Core, Error, Result};
use crate::store::{
    AuditEvent, AuthCodeRecord, ClientRecord, FamilyRecord, RedeemOutcome, RefreshTokenRecord,
};

/// Redeems an authorization code for an access token (and a refresh token if the client may
/// use the `refresh_token` grant). `client` is already authenticated.
///
/// # Errors
/// `invalid_grant` for an unknown, expired, used or foreign code, a wrong or (when /authorize
/// had one) missing `redirect_uri`, or a PKCE mismatch; `invalid_request` when `code_verifier`
/// is missing;
/// `invalid_target` for a `resource` other than the code's.
pub async fn exchange(
    core: &Core,
    client: &ClientRecord,
    code: &str,
    redirect_uri: Option<&str>,
    code_verifier: Option<&str>,
    resource: &[String],
    request_id: Option<String>,
) -> Result<TokenResponse> {
    let now = core.now();
    let code_hash = crypto::hash(code);
    let bad_code = || Error::InvalidGrant("invalid authorization code".to_owned());
    let record = core
        .store
        .get_auth_code(&code_hash)
        .await?
        .ok_or_else(bad_code)?;

    // A used code goes straight to the store, which revokes what it issued (RFC 6749 §4.1.2),
    // whoever presents it: the code has leaked either way.
    if record.used_at.is_none() {
        if record.expires_at <= now {
            return Err(Error::InvalidGrant("authorization code expired".to_owned()));
        }
        // Same answer as an unknown code: don't confirm to another client that the code exists.
        if record.client_id != client.client_id {
            return Err(bad_code());
        }
        check_redirect_uri(redirect_uri, &record)?;
        // RFC 7636 §4.6: a missing verifier is a malformed request; a wrong one invalid_grant.
        let verifier = code_verifier
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Error::InvalidRequest("code_verifier is required".to_owned()))?;
        if !pkce::verify(verifier, &record.code_challenge) {
            return Err(Error::InvalidGrant(
                "code_verifier does not match the code_challenge".to_owned(),
            ));
        }
        check_resource(resource, &record.resource, &core.settings)?;
    }

    let grant = core
        .store
        .get_grant(&record.grant_id)
        .await?
        .filter(|g| g.revoked_at.is_none())
        .ok_or_else(bad_code)?;

    let family = FamilyRecord {
        id: uuid::Uuid::new_v4().to_string(),
        grant_id: grant.id.clone(),
        client_id: client.client_id.clone(),
        scope: record.scope.clone(),
        created_at: now,
        revoked_at: None,
    };
    // RFC 9700 §4.14.2: a refresh token only for clients registered for the refresh grant.
    let refresh = client
        .grant_types
        .iter()
        .any(|g| g == "refresh_token")
        .then(|| crypto::new_secret(REFRESH_PREFIX));
    let refresh_record = refresh.as_ref().map(|token| RefreshTokenRecord {
        token_hash: crypto::hash(token),
        family_id: family.id.clone(),
        parent_hash: None,
        created_at: now,
        expires_at: now
            + core
                .settings
                .tokens
                .refresh_token_ttl
                .min(core.settings.tokens.session_max_age),
        used_at: None,
    });
    // COMPAT C22: the client's rule may give it a longer (or shorter) access token.
    let ttl = core.settings.access_token_ttl(client);
    // The code's scope, not the grant's: a later consent may have changed the grant.
    let user = UserClaims::for_user(core, &grant.user_id).await?;
    let (jwt, access) = mint_access_scoped(
        core,
        &grant,
        &family.id,
        &client.client_id,
        &record.scope,
        ttl,
        &user,
    )?;
    let audit = AuditEvent::new("token_issued", now)
        .actor(grant.user_id.clone())
        .user(grant.user_id.clone())
        .client(client.client_id.clone())
        .grant(grant.id.clone())
        .request(request_id)
        .detail(&serde_json::json!({
            "grant_type": "authorization_code",
            "family_id": family.id,
            "jti": access.jti,
            "refresh_token": refresh.is_some(),
            "resource": grant.resource,
        }));

    match core
        .store
        .redeem_code(
            &code_hash,
            now,
            &family,
            refresh_record.as_ref(),
            &access,
            &audit,
        )
        .await?
    {
        RedeemOutcome::Redeemed(_) => {
            crate::metrics::token_issued("authorization_code");
            super::touch_client(core, &client.client_id, now).await;
            Ok(TokenResponse::new(jwt, ttl, refresh, record.scope))
        }
        RedeemOutcome::Replayed => Err(Error::InvalidGrant(
            "authorization code already used".to_owned(),
        )),
        RedeemOutcome::Invalid => Err(bad_code()),
    }
}

/// RFC 6749 §4.1.3: `redirect_uri` is REQUIRED at the token endpoint if it was included in
/// the authorization request, and then identical to it. When the client left it out there (one
/// URI registered), it may leave it out here too; if it sends one anyway, it must still be the
/// URI the code was issued to. Missing or different, the code does not fit the request:
/// `invalid_grant` (RFC 6749 §5.2).
fn check_redirect_uri(sent: Option<&str>, record: &AuthCodeRecord) -> Result<()> {
    match sent.filter(|r| !r.is_empty()) {
        None if !record.redirect_uri_sent => Ok(()),
        None => Err(Error::InvalidGrant(
            "redirect_uri is required: the authorization request included it".to_owned(),
        )),
        Some(uri) if uri == record.redirect_uri => Ok(()),
        Some(_) => Err(Error::InvalidGrant(
            "redirect_uri does not match the authorization request".to_owned(),
        )),
    }
}

#[cfg(test)]
#[path = "authorization_code_tests.rs"]
mod tests;
