//! Token introspection (RFC 7662) of our access tokens and refresh tokens. The HTTP layer
//! authenticates the caller; what that caller may see of the answer is decided here
//! ([`Caller::visible`]).

use serde_json::{json, Map, Value};

use super::crypto::{self, REFRESH_PREFIX};
use super::tokens::{verify_access, AccessClaims};
use super::{Core, Result};

/// `token_type` of an access token in introspection answers (the RFC 6749 §7.1 type).
pub const ACCESS_TOKEN_TYPE: &str = "Bearer";

/// Who is asking (RFC 7662 §2.1 requires the caller to be authorised).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A resource server, by its resource URI; sees access tokens whose audience it is.
    Resource(String),
    /// A confidential client, by its id; sees its own tokens.
    Client(String),
}

impl Caller {
    /// What this caller may see of `answer`: the answer itself when the token is active and
    /// theirs, `{"active": false}` otherwise, so callers cannot scan other parties' tokens
    /// (RFC 7662 §4).
    #[must_use]
    pub fn visible(&self, answer: Value) -> Value {
        let theirs = match self {
            // A resource server validates access tokens; refresh tokens are none of its business.
            Self::Resource(uri) => {
                answer.get("aud").and_then(Value::as_str) == Some(uri.as_str())
                    && answer.get("token_type").and_then(Value::as_str) == Some(ACCESS_TOKEN_TYPE)
            }
            Self::Client(id) => {
                answer.get("client_id").and_then(Value::as_str) == Some(id.as_str())
            }
        };
        if theirs && answer.get("active") == Some(&Value::Bool(true)) {
            answer
        } else {
            inactive()
        }
    }
}

/// Introspects `token`.
///
/// Anything invalid, expired, revoked (token, family or grant), foreign or unknown answers
/// `{"active": false}` and nothing else (RFC 7662 §2.2: no hint as to why).
///
/// - Access tokens: `token_type` is `Bearer` (the RFC 6749 §7.1 type the token is used with),
///   plus the JWT's claims (`scope`, `client_id`, `sub`, `aud`, `iss`, `exp`, `iat`, `nbf`,
///   `jti`), the user claims the token carries (`email`, `name`, `groups`, as `[tokens]
///   access_token_claims` chose), and `username` (the user's email, if known); a machine
///   client's token also `client_kind: "service"`, its `sub` being the client id.
/// - Refresh tokens: also introspectable, `token_type` is `refresh_token`; active while unused,
///   unexpired and its family and grant are not revoked. `scope` and `aud` are the grant's; `iat`
///   is the token's creation. A refresh token used within the grace window is already inactive.
///
/// # Errors
/// Store failures only.
pub async fn introspect(core: &Core, token: &str) -> Result<Value> {
    if token.starts_with(REFRESH_PREFIX) {
        return introspect_refresh(core, token).await;
    }
    let Ok(claims) = verify_access(core, token) else {
        return Ok(inactive());
    };
    let Some(view) = core.store.get_access_token(&claims.jti).await? else {
        return Ok(inactive());
    };
    // A machine client's token names the client as its subject (its grant's user row is the
    // service account's, see `grants::client_credentials`).
    let subject_ok = if claims.is_service() {
        view.grant.client_id == claims.sub
    } else {
        view.grant.user_id == claims.sub
    };
    let live = view.token.revoked_at.is_none()
        && view.family_revoked_at.is_none()
        && view.grant.revoked_at.is_none()
        && view.token.client_id == claims.client_id
        && subject_ok;
    if !live {
        return Ok(inactive());
    }
    let mut out = access_fields(&claims);
    if !claims.is_service() {
        add_username(core, &mut out, &claims.sub).await?;
    }
    Ok(Value::Object(out))
}

/// What this process holds in memory that answers an access token's introspection without the
/// database: the gateway's verified-token cache, revoked-token set and user cache (one copy of
/// each serves both, so a token checked at one is cheap at the other).
#[derive(Debug, Clone, Copy)]
pub struct Memory<'a> {
    /// Claims of tokens whose signature checked out.
    pub verified: &'a crate::gateway::auth::Verified,
    /// Revoked access token ids.
    pub revocations: &'a crate::gateway::revocation::Revocations,
    /// Users' email, name and groups.
    pub users: &'a crate::gateway::identity::Users,
    /// `gateway.revocation_poll_seconds`: how fresh `revocations` must be to answer alone.
    pub poll_every: std::time::Duration,
}

/// [`introspect`], the same answer, from memory when it can be trusted to be the database's.
///
/// An access token's answer can change only by (the full list; docs/security.md, "Revocation"):
/// - its expiry or `nbf` passing: checked against the Clock on every call;
/// - the token, its family or its grant getting `revoked_at` (the revoke endpoint, the admin API,
///   the account page, refresh token reuse, a policy dropping the grant, client deletion, which
///   revokes the client's grants first): in the revoked set, at once for this process's own
///   revocations ([`Revocations::catch_up`](crate::gateway::revocation::Revocations::catch_up)),
///   within the poll or LISTEN/NOTIFY bound for another replica's;
/// - its row disappearing: housekeeping deletes only expired tokens, which are inactive anyway;
/// - the user's email (`username`) changing at a sign-in: at once for a sign-in on this
///   process, within [`USER_TTL`](crate::gateway::identity::USER_TTL) for another replica's.
///   Users are never deleted; a disabled client's tokens stay active here as they always were
///   (disabling stops new tokens, revoking its grants stops the old ones).
///
/// The database answers instead when the revoked set may be behind that bound (no successful
/// poll within two intervals, or ids lost to its capacity), and for refresh tokens (rare, and
/// their state, used or not, lives only there).
///
/// # Errors
/// Store failures only.
pub async fn introspect_in_memory(core: &Core, memory: Memory<'_>, token: &str) -> Result<Value> {
    if token.starts_with(REFRESH_PREFIX) {
        return introspect_refresh(core, token).await;
    }
    memory.revocations.catch_up(core).await?;
    if !memory.revocations.trustworthy(memory.poll_every) {
        return introspect(core, token).await;
    }
    let Ok(claims) = memory.verified.claims(core, token) else {
        return Ok(inactive());
    };
    if memory.revocations.is_revoked(&claims.jti) {
        return Ok(inactive());
    }
    let mut out = access_fields(&claims);
    if !claims.is_service() {
        if let Some(email) = &memory.users.get(core, &claims.sub).await?.email {
            out.insert("username".into(), email.clone().into());
        }
    }
    Ok(Value::Object(out))
}

async fn introspect_refresh(core: &Core, token: &str) -> Result<Value> {
    let Some(view) = core.store.get_refresh_token(&crypto::hash(token)).await? else {
        return Ok(inactive());
    };
    let live = view.token.used_at.is_none()
        && view.token.expires_at > core.now()
        && view.family.revoked_at.is_none()
        && view.grant.revoked_at.is_none();
    if !live {
        return Ok(inactive());
    }
    let mut out = Map::new();
    out.insert("active".into(), true.into());
    out.insert("token_type".into(), "refresh_token".into());
    // The family's scope: what this refresh token can still obtain (RFC 9700 §4.14.2).
    out.insert("scope".into(), view.family.scope.clone().into());
    out.insert("client_id".into(), view.family.client_id.clone().into());
    out.insert("sub".into(), view.grant.user_id.clone().into());
    out.insert("aud".into(), view.grant.resource.clone().into());
    out.insert("iss".into(), core.settings.issuer.clone().into());
    out.insert("iat".into(), view.token.created_at.into());
    out.insert("exp".into(), view.token.expires_at.into());
    add_username(core, &mut out, &view.grant.user_id).await?;
    Ok(Value::Object(out))
}

fn access_fields(c: &AccessClaims) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("active".into(), true.into());
    out.insert("token_type".into(), ACCESS_TOKEN_TYPE.into());
    out.insert("scope".into(), c.scope.clone().into());
    out.insert("client_id".into(), c.client_id.clone().into());
    out.insert("sub".into(), c.sub.clone().into());
    out.insert("aud".into(), c.aud.clone().into());
    out.insert("iss".into(), c.iss.clone().into());
    out.insert("exp".into(), c.exp.into());
    out.insert("iat".into(), c.iat.into());
    if let Some(nbf) = c.nbf {
        out.insert("nbf".into(), nbf.into());
    }
    out.insert("jti".into(), c.jti.clone().into());
    // The user claims `[tokens] access_token_claims` put into the token, as the token has them.
    if let Some(email) = &c.user.email {
        out.insert("email".into(), email.clone().into());
    }
    if let Some(name) = &c.user.name {
        out.insert("name".into(), name.clone().into());
    }
    if let Some(groups) = &c.user.groups {
        out.insert("groups".into(), groups.clone().into());
    }
    if let Some(kind) = &c.client_kind {
        out.insert("client_kind".into(), kind.clone().into());
    }
    out
}

async fn add_username(core: &Core, out: &mut Map<String, Value>, user_id: &str) -> Result<()> {
    if let Some(email) = core.store.get_user(user_id).await?.and_then(|u| u.email) {
        out.insert("username".into(), email.into());
    }
    Ok(())
}

fn inactive() -> Value {
    json!({ "active": false })
}

#[cfg(test)]
#[path = "introspect_tests.rs"]
mod tests;
