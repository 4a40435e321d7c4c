//! Who is calling, told to the MCP server: the headers an admin names in
//! `[resources.identity_headers]` and, when configured, a short-lived identity JWT signed with
//! our keys (its own `typ` and audience, so it can never pass as an access token here and an
//! MCP server can verify it with `/jwks` rather than trust a header).
//!
//! The user's email, name and groups are not in the access token; they come from the user
//! record through a small cache (one database read per user per [`USER_TTL`], not per request),
//! which introspection shares for its `username`.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;

use crate::config::IdentityHeaders;
use crate::oauth::crypto::random_b64;
use crate::oauth::tokens::AccessClaims;
use crate::oauth::Core;

/// JOSE `typ` of the identity JWT.
pub const IDENTITY_JWT_TYP: &str = "identity+jwt";
/// Lifetime of an identity JWT, in seconds: one request's worth, with room for clock skew.
pub const IDENTITY_JWT_TTL: i64 = 60;
/// How long a user's email, name and groups are reused before being read again.
pub const USER_TTL: Duration = Duration::from_secs(60);
/// Most users cached.
const USER_CAPACITY: u64 = 50_000;

/// What the user record adds to the token's claims.
#[derive(Debug, Clone, Default)]
pub struct UserInfo {
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
}

/// Claims of the identity JWT.
#[derive(Debug, Serialize)]
struct IdentityClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    /// The MCP server (`upstream_url`), never the resource URI: an identity JWT is not an
    /// access token anywhere.
    aud: &'a str,
    iat: i64,
    exp: i64,
    jti: String,
    client_id: &'a str,
    scope: &'a str,
    /// `service` for a machine client's token (no user: `sub` is the client id).
    #[serde(skip_serializing_if = "Option::is_none")]
    client_kind: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    groups: &'a [String],
}

/// The users seen recently, each with the store's count of this process's user writes
/// ([`crate::store::LocalChanges::users`]) taken before it was read: an entry read before a
/// sign-in here rewrote a user is not used again, so this process's own user changes show at
/// once; another replica's within [`USER_TTL`].
pub struct Users {
    cache: moka::future::Cache<String, (u64, Arc<UserInfo>)>,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Users").finish_non_exhaustive()
    }
}

impl Default for Users {
    fn default() -> Self {
        Self {
            cache: moka::future::Cache::builder()
                .max_capacity(USER_CAPACITY)
                .time_to_live(USER_TTL)
                .build(),
        }
    }
}

impl Users {
    /// The user's details, from the cache or the store. A missing user (deleted since the
    /// token was issued) has none; a store failure is not cached.
    ///
    /// # Errors
    /// Store failures.
    pub async fn get(
        &self,
        core: &Core,
        user_id: &str,
    ) -> Result<Arc<UserInfo>, crate::store::StoreError> {
        let written = core.store.local_changes().users();
        let cached = self
            .cache
            .get(user_id)
            .await
            .filter(|(read_at, _)| *read_at == written);
        crate::metrics::cache(crate::metrics::Cache::GatewayUsers, cached.is_some());
        if let Some((_, hit)) = cached {
            return Ok(hit);
        }
        let info = Arc::new(
            core.store
                .get_user(user_id)
                .await?
                .map(|u| UserInfo {
                    email: u.email,
                    name: u.name,
                    groups: u.groups,
                })
                .unwrap_or_default(),
        );
        self.cache
            .insert(user_id.to_owned(), (written, info.clone()))
            .await;
        Ok(info)
    }
}

/// The header names removed from every incoming request of a resource.
#[must_use]
pub fn strip_list(named: &IdentityHeaders) -> Vec<HeaderName> {
    named
        .named()
        .into_iter()
        .filter_map(|(_, n)| HeaderName::from_bytes(n.as_bytes()).ok())
        .collect()
}

/// Whether any configured header needs the user record of a token with `claims`: never for a
/// machine client's token, which has no user.
#[must_use]
pub fn needs_user(named: &IdentityHeaders, claims: &AccessClaims) -> bool {
    !claims.is_service()
        && (named.email.is_some()
            || named.name.is_some()
            || named.groups.is_some()
            || named.jwt.is_some())
}

/// The identity headers for a request made with `claims`.
///
/// # Errors
/// Signing failure of the identity JWT.
pub fn headers(
    core: &Core,
    named: &IdentityHeaders,
    upstream_url: &str,
    claims: &AccessClaims,
    user: &UserInfo,
) -> crate::oauth::Result<HeaderMap> {
    let mut out = HeaderMap::new();
    let mut put = |name: &Option<String>, value: Option<&str>| {
        let (Some(name), Some(value)) = (name, value) else {
            return;
        };
        // A value that cannot be a header (control characters) is left out, not mangled.
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()),
            HeaderValue::from_str(value),
        ) {
            out.insert(n, v);
        }
    };
    put(&named.user_id, Some(&claims.sub));
    put(&named.client_id, Some(&claims.client_id));
    put(&named.scopes, Some(&claims.scope));
    put(
        &named.client_kind,
        Some(if claims.is_service() {
            "service"
        } else {
            "user"
        }),
    );
    put(&named.email, user.email.as_deref());
    put(&named.name, user.name.as_deref());
    let groups = user.groups.join(",");
    put(
        &named.groups,
        (!user.groups.is_empty()).then_some(groups.as_str()),
    );
    if named.jwt.is_some() {
        let now = core.now();
        let jwt = core.keys.sign(
            now,
            IDENTITY_JWT_TYP,
            &IdentityClaims {
                iss: &core.settings.issuer,
                sub: &claims.sub,
                aud: upstream_url,
                iat: now,
                exp: now + IDENTITY_JWT_TTL,
                jti: random_b64(16),
                client_id: &claims.client_id,
                scope: &claims.scope,
                client_kind: claims.client_kind.as_deref(),
                email: user.email.as_deref(),
                name: user.name.as_deref(),
                groups: &user.groups,
            },
        )?;
        put(&named.jwt, Some(&jwt));
    }
    Ok(out)
}
