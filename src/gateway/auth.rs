//! The token check of a proxied request, without a database round trip: our JWT verified
//! against the keys in memory (refreshed by the key reload of housekeeping), its audience, its
//! lifetime against the Clock, the revocations learned by polling ([`super::revocation`]), and
//! the scopes the request needs. A token's signature is checked once: the claims of verified
//! tokens are kept in memory ([`Verified`]) and every later request still checks their lifetime,
//! audience, revocation and scopes.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use sha2::{Digest as _, Sha256};

use super::revocation::Revocations;
use crate::http::error::no_store;
use crate::http::form::authorization;
use crate::oauth::tokens::AccessClaims;
use crate::oauth::{Core, Resource};

/// Why a request was refused (RFC 6750 §3.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// No bearer token: 401 with the bare challenge.
    Missing,
    /// Malformed, foreign, expired, revoked or other-audience token: 401 `invalid_token`.
    Invalid,
    /// A valid token without every scope in the list: 403 `insufficient_scope`.
    Scope(Vec<String>),
}

/// How many verified tokens are remembered (a few hundred bytes each: a miss costs one
/// verification, not a refusal).
const VERIFIED_CAPACITY: u64 = 10_000;
/// How long a verified token is remembered: also the longest a token signed by a key that was
/// withdrawn since (a key is only pruned once its tokens have expired) is still accepted.
const VERIFIED_TTL: Duration = Duration::from_secs(60);

/// The claims of access tokens whose signature checked out, by the token's SHA-256 (not the
/// token: smaller, and no bearer token kept in memory longer than needed). An RS256
/// verification is the largest CPU cost of a proxied request, and an MCP client sends the same
/// token for minutes. Failed verifications are not kept (a flood of garbage tokens cannot
/// evict good ones).
#[derive(Clone)]
pub struct Verified(moka::sync::Cache<[u8; 32], Arc<AccessClaims>>);

impl std::fmt::Debug for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verified")
            .field("entries", &self.0.entry_count())
            .finish()
    }
}

impl Default for Verified {
    fn default() -> Self {
        Self(
            moka::sync::Cache::builder()
                .max_capacity(VERIFIED_CAPACITY)
                .time_to_live(VERIFIED_TTL)
                .build(),
        )
    }
}

impl Verified {
    /// The claims of `token`: remembered, or verified now (signature by one of our published
    /// keys, RS256, typ at+jwt, iss, exp, nbf) and remembered. The lifetime is checked against
    /// `now` either way.
    ///
    /// # Errors
    /// [`Refusal::Invalid`] when the token does not verify or is not live now.
    pub fn claims(&self, core: &Core, token: &str) -> Result<Arc<AccessClaims>, Refusal> {
        let now = core.now();
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let cached = self.0.get(&key);
        crate::metrics::cache(crate::metrics::Cache::VerifiedTokens, cached.is_some());
        if let Some(c) = cached {
            let live = c.exp > now && c.nbf.is_none_or(|nbf| nbf <= now);
            return if live { Ok(c) } else { Err(Refusal::Invalid) };
        }
        let claims = crate::oauth::tokens::verify_access(core, token)
            .map(Arc::new)
            .map_err(|_| Refusal::Invalid)?;
        self.0.insert(key, claims.clone());
        Ok(claims)
    }
}

/// Checks the bearer token of `headers` for resource `r`; `needed` are the scopes this
/// request needs. Returns the token's claims.
///
/// # Errors
/// The [`Refusal`].
pub fn check(
    core: &Core,
    verified: &Verified,
    revocations: &Revocations,
    r: &Resource,
    headers: &HeaderMap,
    needed: &[String],
) -> Result<Arc<AccessClaims>, Refusal> {
    let Some(token) = authorization(headers, "Bearer") else {
        return Err(Refusal::Missing);
    };
    let claims = verified.claims(core, token)?;
    // RFC 8707 / MCP authorization: a token is accepted only by the resource it was issued for.
    if claims.aud != r.uri || revocations.is_revoked(&claims.jti) {
        return Err(Refusal::Invalid);
    }
    // Most resources need no scope beyond the token's audience: no split, no allocation.
    if !needed.is_empty() {
        let held: Vec<&str> = claims.scope.split(' ').collect();
        if needed.iter().any(|s| !held.contains(&s.as_str())) {
            return Err(Refusal::Scope(needed.to_vec()));
        }
    }
    Ok(claims)
}

/// The `WWW-Authenticate` challenge: `resource_metadata` (RFC 9728 §5.1), the scopes to ask
/// for, and the error code when there is one (RFC 6750 §3).
#[must_use]
pub fn challenge(core: &Core, r: &Resource, scopes: &[String], error: Option<&str>) -> String {
    let mut value = format!(
        "Bearer resource_metadata=\"{}\"",
        core.settings.resource_metadata_url(r)
    );
    if !scopes.is_empty() {
        value.push_str(&format!(", scope=\"{}\"", scopes.join(" ")));
    }
    if let Some(e) = error {
        value.push_str(&format!(", error=\"{e}\""));
    }
    value
}

/// The 401 / 403 answer of a refusal, JSON, `Cache-Control: no-store`.
#[must_use]
pub fn refuse(core: &Core, r: &Resource, refusal: &Refusal) -> Response {
    let (status, scopes, error, description) = match refusal {
        Refusal::Missing => (
            StatusCode::UNAUTHORIZED,
            r.scopes.clone(),
            None,
            "authorization required",
        ),
        Refusal::Invalid => (
            StatusCode::UNAUTHORIZED,
            r.scopes.clone(),
            Some("invalid_token"),
            "the access token is invalid, expired, revoked or for another resource",
        ),
        // MCP step-up (SEP-2350): one challenge naming every scope the operation needs, so the
        // client asks for all of them in one authorization.
        Refusal::Scope(needed) => (
            StatusCode::FORBIDDEN,
            needed.clone(),
            Some("insufficient_scope"),
            "the access token lacks a scope this request needs",
        ),
    };
    // RFC 6750 §3.1: a request without credentials gets no error code, only the challenge.
    let body = match error {
        Some(e) => json!({ "error": e, "error_description": description }),
        None => json!({ "error_description": description }),
    };
    let mut res = (status, Json(body)).into_response();
    if let Ok(v) = HeaderValue::from_str(&challenge(core, r, &scopes, error)) {
        res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    no_store(res)
}
