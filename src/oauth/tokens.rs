//! Our access tokens (RFC 9068 JWTs bound to one resource) and the token endpoint response.

use serde::{Deserialize, Serialize};

use super::crypto::random_b64;
use super::keys::AT_JWT_TYP;
use super::{Core, Result};
use crate::config::AccessTokenClaim;
use crate::store::{AccessTokenRecord, GrantRecord, UserRecord};

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
    /// The user's claims `[tokens] access_token_claims` asks for (none by default).
    #[serde(flatten)]
    pub user: UserClaims,
    /// [`SERVICE_KIND`] when no user stands behind the token (`client_credentials`: `sub` is
    /// then the client id, RFC 9068 §2.2); absent for a user's token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_kind: Option<String>,
}

/// The user claims an access token may carry (`[tokens] access_token_claims`), from the user's
/// last sign-in at the upstream. Each is left out when not configured or not known.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserClaims {
    /// The upstream's email (GitHub: the primary verified one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The upstream's display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The upstream's groups (GitHub: organisations and `org/team` slugs); `[]` when the user
    /// has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
}

impl UserClaims {
    /// The configured claims of user `user_id`; no store read when none is configured.
    ///
    /// # Errors
    /// Store failures.
    pub async fn for_user(core: &Core, user_id: &str) -> Result<Self> {
        if core.settings.tokens.access_token_claims.is_empty() {
            return Ok(Self::default());
        }
        let user = core.store.get_user(user_id).await?;
        Ok(Self::of(core, user.as_ref()))
    }

    /// The configured claims of `user`, already read (no user: none).
    #[must_use]
    pub fn of(core: &Core, user: Option<&UserRecord>) -> Self {
        let wanted = &core.settings.tokens.access_token_claims;
        let Some(user) = user.filter(|_| !wanted.is_empty()) else {
            return Self::default();
        };
        let has = |c: AccessTokenClaim| wanted.contains(&c);
        Self {
            email: user.email.clone().filter(|_| has(AccessTokenClaim::Email)),
            name: user.name.clone().filter(|_| has(AccessTokenClaim::Name)),
            groups: has(AccessTokenClaim::Groups).then(|| user.groups.clone()),
        }
    }
}

/// `client_kind` of a machine client's token (MCP client-credentials extension).
pub const SERVICE_KIND: &str = "service";

impl AccessClaims {
    /// Whether the token was issued to a machine client for itself, with no user.
    #[must_use]
    pub fn is_service(&self) -> bool {
        self.client_kind.as_deref() == Some(SERVICE_KIND)
    }
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
    user: &UserClaims,
) -> Result<(String, AccessTokenRecord)> {
    let ttl = core.settings.tokens.access_token_ttl;
    mint_access_scoped(core, grant, family_id, client_id, &grant.scope, ttl, user)
}

/// Mints an access token with an explicit `scope` (a code's scope, or a down-scoped refresh),
/// valid for `ttl` seconds ([`crate::oauth::Settings::access_token_ttl`] for the client). The
/// caller has checked that `scope` is within what the grant allows. `user`: the claims
/// [`UserClaims::for_user`] found for the grant's user.
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
    user: &UserClaims,
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
        user: user.clone(),
        client_kind: None,
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

/// Mints a machine client's access token (`client_credentials`): `sub` is the client id and
/// `client_kind` says so (RFC 9068 §2.2). The record's family and grant are the store's to set
/// (`Store::issue_direct_token`).
///
/// # Errors
/// Signing failure (internal).
pub fn mint_service_access(
    core: &Core,
    client_id: &str,
    resource: &str,
    scope: &str,
    ttl: i64,
) -> Result<(String, AccessTokenRecord)> {
    let now = core.now();
    let exp = now + ttl;
    let claims = AccessClaims {
        iss: core.settings.issuer.clone(),
        sub: client_id.to_owned(),
        aud: resource.to_owned(),
        client_id: client_id.to_owned(),
        scope: scope.to_owned(),
        iat: now,
        exp,
        nbf: Some(now),
        jti: random_b64(16),
        auth_time: None,
        user: UserClaims::default(),
        client_kind: Some(SERVICE_KIND.to_owned()),
    };
    let jwt = core.keys.sign(now, AT_JWT_TYP, &claims)?;
    let record = AccessTokenRecord {
        jti: claims.jti,
        family_id: String::new(),
        grant_id: String::new(),
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
