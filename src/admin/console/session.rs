//! Console sessions: a random id in a `__Host-` cookie (HttpOnly, SameSite=Strict, Secure over
//! https), kept server-side by the SHA-256 of the id, with the hash of the admin token that
//! opened it, a per-session CSRF token, and idle and absolute expiry.
//!
//! Every request re-checks the admin token behind the session (`find_admin_token` by its hash,
//! or the configured bootstrap token), so revoking the token ends its console sessions at the
//! next request, whatever process served the sign-in. The sessions themselves live in this
//! process's memory: a restart, or a request routed to another replica, asks the operator to
//! sign in again (docs/admin-console.md says so). Nothing here outlives the process, so a
//! stolen database backup holds no console session.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::{HeaderMap, HeaderValue};
use axum_extra::extract::cookie::{Cookie, SameSite};
use secrecy::ExposeSecret as _;

use crate::admin::auth::{AdminCaller, BOOTSTRAP_NAME};
use crate::app::AppState;
use crate::oauth::crypto;

/// A session unused this long is over (seconds).
pub const IDLE_SECONDS: i64 = 30 * 60;
/// A session is over this long after sign-in, used or not (seconds).
pub const ABSOLUTE_SECONDS: i64 = 8 * 3600;
/// Most sessions kept at once; the least recently used goes first beyond it.
const MAX_SESSIONS: usize = 1_000;

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

/// Which admin token a session stands for.
#[derive(Debug, Clone)]
pub struct Session {
    /// SHA-256 of the admin token (stored tokens are found by it; the bootstrap one compared).
    token_hash: String,
    /// The CSRF token of every form of this session.
    pub csrf: String,
    created_at: i64,
    last_seen: i64,
}

/// The sessions of this process, keyed by the hash of the cookie value.
#[derive(Debug, Default)]
pub struct Sessions {
    by_hash: Mutex<HashMap<String, Session>>,
}

/// A signed-in operator: the admin caller (as the API sees it) and the session's CSRF token.
#[derive(Debug, Clone)]
pub struct Operator {
    pub caller: AdminCaller,
    pub csrf: String,
}

impl Sessions {
    /// Opens a session for the admin token whose hash is `token_hash`; returns the cookie value.
    pub fn open(&self, token_hash: String, now: i64) -> String {
        let id = crypto::random_b64(32);
        let session = Session {
            token_hash,
            csrf: crypto::random_b64(32),
            created_at: now,
            last_seen: now,
        };
        let mut map = self.lock();
        map.retain(|_, s| live(s, now));
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(crypto::hash(&id), session);
        id
    }

    /// The live session of cookie value `id`, its last use moved to `now`.
    pub fn touch(&self, id: &str, now: i64) -> Option<Session> {
        let key = crypto::hash(id);
        let mut map = self.lock();
        let session = map.get_mut(&key)?;
        if !live(session, now) {
            map.remove(&key);
            return None;
        }
        session.last_seen = now;
        Some(session.clone())
    }

    /// Ends the session of cookie value `id` (sign-out, or its token is gone).
    pub fn close(&self, id: &str) {
        self.lock().remove(&crypto::hash(id));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A panic while holding the lock cannot leave the map half-changed (single inserts and
        // removes), so a poisoned lock is still usable.
        self.by_hash
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn live(s: &Session, now: i64) -> bool {
    now - s.last_seen < IDLE_SECONDS && now - s.created_at < ABSOLUTE_SECONDS
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
) -> Result<Option<AdminCaller>, crate::store::StoreError> {
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
/// token still valid; a session whose token is gone is closed.
///
/// # Errors
/// Store failures.
pub async fn operator(
    state: &AppState,
    sessions: &Sessions,
    headers: &HeaderMap,
    secure: bool,
) -> Result<Option<Operator>, crate::store::StoreError> {
    let Some(id) = cookie(headers, secure) else {
        return Ok(None);
    };
    let Some(session) = sessions.touch(&id, state.core.now()) else {
        return Ok(None);
    };
    let request_id = crate::http::form::request_id(headers);
    match caller_for(state, &session.token_hash, request_id).await? {
        Some(caller) => Ok(Some(Operator {
            caller,
            csrf: session.csrf,
        })),
        None => {
            sessions.close(&id);
            Ok(None)
        }
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
