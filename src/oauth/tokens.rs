//! Our access tokens (RFC 9068 JWTs bound to one resource) and the token endpoint response.

use serde::{Deserialize, Serialize};

use super::crypto::random_b64;
use super::keys::AT_JWT_TYP;
use super::{Core, Result};
use crate::store::{AccessTokenRecord, GrantRecord};

/// RFC 9068 §2.2 claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Our issuer.
    pub iss: String,
    /// Our user id (stable, never the upstream's email).
    pub sub: String,
    /// The resource URI the token is for (RFC 8707), a single string.
    pub aud: String,
    /// The client the token was issued to.
    pub client_id: String,
    /// Space-separated scope of this token (may be narrower than the grant's).
    pub scope: String,
    pub iat: i64,
    pub exp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<i64>,
    /// Unique id; the store keeps it so the token can be revoked and introspected.
    pub jti: String,
    /// When the user authenticated, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
}

/// RFC 6749 §5.1 successful token response. Never serialises a null field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `bearer` (COMPAT C8: lowercase; clients compare case-insensitively).
    pub token_type: String,
    /// Lifetime of the access token in seconds.
    pub expires_in: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// Scope of the access token; always returned (TS SDK v2 decides step-up vs refresh on it).
    pub scope: String,
}

impl TokenResponse {
    /// A bearer response for an access token minted now.
    #[must_use]
    pub fn new(
        access_token: String,
        expires_in: i64,
        refresh_token: Option<String>,
        scope: String,
    ) -> Self {
        Self {
            access_token,
            token_type: "bearer".to_owned(),
            expires_in,
            refresh_token,
            scope,
        }
    }
}

/// Mints an access token for `grant` with the grant's full scope.
///
/// # Errors
/// Signing failure (internal).
pub fn mint_access(
    core: &Core,
    grant: &GrantRecord,
    family_id: &str,
    client_id: &str,
) -> Result<(String, AccessTokenRecord)> {
    let ttl = core.settings.tokens.access_token_ttl;
    mint_access_scoped(core, grant, family_id, client_id, &grant.scope, ttl)
}

/// Mints an access token with an explicit `scope` (a code's scope, or a down-scoped refresh),
/// valid for `ttl` seconds ([`crate::oauth::Settings::access_token_ttl`] for the client). The
/// caller has checked that `scope` is within what the grant allows.
///
/// # Errors
/// Signing failure (internal).
pub fn mint_access_scoped(
    core: &Core,
    grant: &GrantRecord,
    family_id: &str,
    client_id: &str,
    scope: &str,
    ttl: i64,
) -> Result<(String, AccessTokenRecord)> {
    let now = core.now();
    let exp = now + ttl;
    let claims = AccessClaims {
        iss: core.settings.issuer.clone(),
        sub: grant.user_id.clone(),
        aud: grant.resource.clone(),
        client_id: client_id.to_owned(),
        scope: scope.to_owned(),
        iat: now,
        exp,
        nbf: Some(now),
        jti: random_b64(16),
        auth_time: None,
    };
    let jwt = core.keys.sign(now, AT_JWT_TYP, &claims)?;
    let record = AccessTokenRecord {
        jti: claims.jti,
        family_id: family_id.to_owned(),
        grant_id: grant.id.clone(),
        client_id: client_id.to_owned(),
        created_at: now,
        expires_at: exp,
        revoked_at: None,
    };
    Ok((jwt, record))
}

/// Verifies one of our access tokens against the Clock and returns its claims. Revocation is
/// not checked here (see `introspect`).
///
/// # Errors
/// `InvalidToken` when the token is malformed, foreign, expired or not yet valid.
pub fn verify_access(core: &Core, jwt: &str) -> Result<AccessClaims> {
    core.keys.verify(jwt, &core.settings.issuer, core.now())
}
