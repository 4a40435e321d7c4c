//! Console sessions: a random id in a `__Host-` cookie (HttpOnly, SameSite=Strict, Secure over
//! https), kept in the database by the SHA-256 of the id with the hash of the admin token that
//! opened it, and idle and absolute expiry. The CSRF token of a session's forms is a MAC of the
//! cookie value under the secret key: the same on every replica, never stored.
//!
//! Every request re-checks the admin token behind the session (`find_admin_token` by its hash,
//! or the configured bootstrap token), so revoking the token ends its console sessions at the
//! next request, whatever process served the sign-in. A restart, or a request routed to another
//! replica, keeps the operator signed in. Only hashes are stored: a stolen database backup holds
//! no session anyone could present.

use axum::http::{HeaderMap, HeaderValue};
use axum_extra::extract::cookie::{Cookie, SameSite};
use secrecy::ExposeSecret as _;

use crate::admin::auth::{AdminCaller, BOOTSTRAP_NAME};
use crate::app::AppState;
use crate::oauth::crypto;
use crate::store::{AuditEvent, ConsoleSessionRecord, StoreError};

/// A session unused this long is over (seconds). Its last use is recorded at most once a
/// minute, so a session may end up to a minute early.
pub const IDLE_SECONDS: i64 = 30 * 60;
/// A session is over this long after sign-in, used or not (seconds).
pub const ABSOLUTE_SECONDS: i64 = 8 * 3600;

/// Cookie name: `__Host-` prefixed (Secure, no Domain, Path=/) when served over https, as the
/// browser-binding cookie does (src/http/cookies.rs); plain on http (tests, loopback trials).
#[must_use]
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-dcrb-admin"
    } else {
        "dcrb-admin"
    }
}

/// A signed-in operator: the admin caller (as the API sees it) and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct Operator {
    pub caller: AdminCaller,
    pub csrf: String,
}

/// Whether a stored session is still usable at `now`: neither idle too long nor too old.
#[must_use]
pub fn live(s: &ConsoleSessionRecord, now: i64) -> bool {
    now - s.last_seen_at < IDLE_SECONDS
        && now - s.created_at < ABSOLUTE_SECONDS
        && now < s.expires_at
}

/// The CSRF token of the session whose cookie value is `id`.
fn csrf_of(state: &AppState, id: &str) -> String {
    state.core.cipher.mac("admin-console-csrf", &[id])
}

/// Opens a session for the admin token whose hash is `token_hash`, ending the one the browser
/// already had (`old_cookie`: never reused, session fixation), with `audit` in the same
/// transaction. Returns the new cookie value.
///
/// # Errors
/// Store failures.
pub async fn open(
    state: &AppState,
    token_hash: String,
    old_cookie: Option<&str>,
    audit: &AuditEvent,
    now: i64,
) -> Result<String, StoreError> {
    let id = crypto::random_b64(32);
    let record = ConsoleSessionRecord {
        id_hash: crypto::hash(&id),
        token_hash,
        created_at: now,
        last_seen_at: now,
        expires_at: now + ABSOLUTE_SECONDS,
    };
    let replaces = old_cookie.map(crypto::hash);
    state
        .core
        .store
        .open_console_session(&record, replaces.as_deref(), audit)
        .await?;
    Ok(id)
}

/// Ends the session of cookie value `id` (sign-out, or its token is gone).
///
/// # Errors
/// Store failures.
pub async fn close(state: &AppState, id: &str) -> Result<(), StoreError> {
    state
        .core
        .store
        .delete_console_session(&crypto::hash(id))
        .await?;
    Ok(())
}

/// The session cookie's value, if the request has one of a plausible length.
#[must_use]
pub fn cookie(headers: &HeaderMap, secure: bool) -> Option<String> {
    crate::http::cookies::value_of(headers, cookie_name(secure))
        .filter(|v| (32..=128).contains(&v.len()))
}

/// `Set-Cookie` for a new session: HttpOnly, SameSite=Strict (never sent on a cross-site
/// request, so a forged form post arrives without a session), Path=/ (the `__Host-` prefix
/// requires it), Secure over https; a session cookie for the browser, the server enforcing
/// the expiry.
#[must_use]
pub fn set_cookie(value: &str, secure: bool) -> Option<HeaderValue> {
    let cookie = Cookie::build((cookie_name(secure), value.to_owned()))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .build();
    HeaderValue::from_str(&cookie.to_string()).ok()
}

/// `Set-Cookie` that removes the session cookie.
#[must_use]
pub fn clear_cookie(secure: bool) -> Option<HeaderValue> {
    let cookie = Cookie::build((cookie_name(secure), ""))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Strict)
        .build();
    HeaderValue::from_str(&format!("{cookie}; Max-Age=0")).ok()
}

/// Resolves an admin token's hash to the caller it stands for now: the bootstrap token if it is
/// still configured, else an unrevoked stored token. `None` when the token is gone.
///
/// # Errors
/// Store failures.
pub async fn caller_for(
    state: &AppState,
    token_hash: &str,
    request_id: Option<String>,
) -> Result<Option<AdminCaller>, StoreError> {
    if let Some(bootstrap) = &state.config.admin_token {
        let configured = crypto::hash(bootstrap.expose_secret());
        if crypto::ct_eq(token_hash.as_bytes(), configured.as_bytes()) {
            return Ok(Some(AdminCaller {
                name: BOOTSTRAP_NAME.to_owned(),
                token_id: None,
                read_only: false,
                request_id,
            }));
        }
    }
    let store = &state.core.store;
    let Some(found) = store.find_admin_token(token_hash).await? else {
        return Ok(None);
    };
    if let Err(e) = store.touch_admin_token(&found.id, state.core.now()).await {
        tracing::warn!(error = %e, "recording the admin token's last use failed");
    }
    Ok(Some(AdminCaller {
        name: found.name,
        token_id: Some(found.id),
        read_only: found.read_only,
        request_id,
    }))
}

/// The operator behind the request's session cookie, if the session is live and its admin
/// token still valid; a session found idle, or whose token is gone, is ended.
///
/// # Errors
/// Store failures.
pub async fn operator(
    state: &AppState,
    headers: &HeaderMap,
    secure: bool,
) -> Result<Option<Operator>, StoreError> {
    let Some(id) = cookie(headers, secure) else {
        return Ok(None);
    };
    let now = state.core.now();
    let store = &state.core.store;
    let id_hash = crypto::hash(&id);
    let Some(session) = store.get_console_session(&id_hash, now).await? else {
        return Ok(None);
    };
    if !live(&session, now) {
        store.delete_console_session(&id_hash).await?;
        return Ok(None);
    }
    let request_id = crate::http::form::request_id(headers);
    let Some(caller) = caller_for(state, &session.token_hash, request_id).await? else {
        store.delete_console_session(&id_hash).await?;
        return Ok(None);
    };
    store.touch_console_session(&id_hash, now).await?;
    Ok(Some(Operator {
        caller,
        csrf: csrf_of(state, &id),
    }))
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
