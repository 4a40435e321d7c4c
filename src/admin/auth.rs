//! Who is calling the admin API: bearer tokens (stored ones, by hash, and the bootstrap token
//! from the configuration), the read-only rule, and the audit events every write records.
//!
//! Stored tokens are looked up by their SHA-256. A fast hash is enough here (no salt, no
//! Argon2): the tokens are 256 random bits that no one chose, so there is no dictionary to
//! try and a brute force of the hash is as hopeless as one of the token; a slow hash would only
//! cost every request. Comparing by an indexed hash lookup leaks, through timing, at most
//! something about the hash of a wrong guess, which tells nothing about any stored token.

use axum::body::Body;
use axum::extract::State;
use std::net::{IpAddr, Ipv4Addr};

use axum::http::{header, HeaderMap, HeaderValue, Method, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse as _, Response};
use secrecy::ExposeSecret as _;

use super::error::AdminError;
use crate::app::AppState;
use crate::http::rate_limit::AdminAuthLimit;
use crate::oauth::crypto;
use crate::store::{AdminTokenRecord, AuditEvent};

/// Prefix of every admin token, so a leaked one is recognisable (secret scanners, logs).
pub const TOKEN_PREFIX: &str = "dcrb_adm_";

/// The audit name of the bootstrap token (`DCR_BRIDGE_ADMIN_TOKEN`); no stored token may take it.
pub const BOOTSTRAP_NAME: &str = "bootstrap";

/// The authenticated caller of an admin request, put in the request's extensions by
/// [`require_token`].
#[derive(Debug, Clone)]
pub struct AdminCaller {
    /// The token's name (`bootstrap` for the configured one).
    pub name: String,
    /// The stored token's id; `None` for the bootstrap token.
    pub token_id: Option<String>,
    pub read_only: bool,
    /// The request id (`X-Request-Id`), for the audit trail.
    pub request_id: Option<String>,
}

impl AdminCaller {
    /// The actor recorded in the audit trail.
    #[must_use]
    pub fn actor(&self) -> String {
        format!("admin:{}", self.name)
    }

    /// An audit event of `kind` by this caller at `now`, with the token id in its detail.
    #[must_use]
    pub fn audit(&self, kind: &str, now: i64, detail: serde_json::Value) -> AuditEvent {
        let mut detail = detail;
        if let (Some(map), Some(id)) = (detail.as_object_mut(), &self.token_id) {
            map.insert("admin_token_id".to_owned(), id.clone().into());
        }
        AuditEvent::new(kind, now)
            .actor(self.actor())
            .request(self.request_id.clone())
            .detail(&detail)
    }
}

/// A new admin token: the plain value (shown once) and the record to store.
#[must_use]
pub fn mint(name: &str, read_only: bool, created_by: &str, now: i64) -> (String, AdminTokenRecord) {
    let plain = crypto::new_secret(TOKEN_PREFIX);
    let record = AdminTokenRecord {
        id: format!("adm_{}", uuid::Uuid::new_v4().simple()),
        name: name.to_owned(),
        token_hash: crypto::hash(&plain),
        read_only,
        created_at: now,
        created_by: created_by.to_owned(),
        last_used_at: None,
        revoked_at: None,
    };
    (plain, record)
}

/// Checks a token name: 1 to 64 of `A-Z a-z 0-9 . _ @ -`, not the bootstrap token's name. The
/// name goes into every audit row written with the token, so it stays plain.
///
/// # Errors
/// A message saying what is wrong.
pub fn check_name(name: &str) -> Result<(), String> {
    let plain = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'));
    if !plain {
        return Err("a token name is 1 to 64 of A-Z a-z 0-9 . _ @ -".to_owned());
    }
    if name == BOOTSTRAP_NAME {
        return Err(format!("{BOOTSTRAP_NAME} is the configured token's name"));
    }
    Ok(())
}

/// Middleware of every admin route but the OpenAPI document: authenticates the bearer token,
/// refuses writes by read-only tokens (anything but GET and HEAD), and hands the handler an
/// [`AdminCaller`].
pub async fn require_token(
    State(state): State<AppState>,
    mut req: Request<Body>,
    next: Next,
) -> Response {
    let limit = state.rate_limits.admin_auth();
    let ip = crate::http::rate_limit::client_ip(&req, state.config.rate_limit.client_ip_header)
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    if let Some(retry_after) = limit.and_then(|l| l.blocked(ip)) {
        return too_many(retry_after);
    }
    let caller = match authenticate(&state, req.headers()).await {
        Ok(caller) => caller,
        Err(e) => {
            if let (
                Some(limit),
                AdminError::Unauthorized {
                    presented: true, ..
                },
            ) = (limit, &e)
            {
                if let Some(retry_after) = sign_in_failed(&state, limit, ip, req.headers()).await {
                    return too_many(retry_after);
                }
            }
            return e.into_response();
        }
    };
    if caller.read_only && !matches!(*req.method(), Method::GET | Method::HEAD) {
        return AdminError::Forbidden(format!("the admin token {} is read-only", caller.name))
            .into_response();
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

/// Records a failed sign-in with a presented token: an `admin_auth_failed` audit event (the
/// token only as a fingerprint), and, when this failure used up the address's allowance, an
/// `admin_auth_blocked` one. Returns the seconds the address is blocked for, if it now is.
async fn sign_in_failed(
    state: &AppState,
    limit: &AdminAuthLimit,
    ip: IpAddr,
    headers: &HeaderMap,
) -> Option<u64> {
    let now = state.core.now();
    let fingerprint = crate::http::form::authorization(headers, "Bearer").map(crypto::fingerprint);
    let blocked = limit.failed(ip);
    let mut events = vec![AuditEvent::new("admin_auth_failed", now)
        .detail(&serde_json::json!({ "token_fingerprint": fingerprint }))];
    if let Some(seconds) = blocked {
        tracing::warn!(%ip, seconds, "admin sign-in failures from one address: blocked");
        events.push(
            AuditEvent::new("admin_auth_blocked", now)
                .detail(&serde_json::json!({ "blocked_seconds": seconds })),
        );
    }
    for event in &events {
        if let Err(e) = state.core.store.insert_audit_event(event).await {
            tracing::warn!(error = %e, "auditing a failed admin sign-in failed");
        }
    }
    blocked
}

/// 429 with the seconds until the address may try again.
fn too_many(retry_after: u64) -> Response {
    let mut res = AdminError::Status {
        status: StatusCode::TOO_MANY_REQUESTS,
        code: "too_many_requests",
        detail: "too many failed admin sign-ins from this address, retry later".to_owned(),
    }
    .into_response();
    res.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    res
}

async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<AdminCaller, AdminError> {
    let unauthorized = |presented: bool, detail: &str| AdminError::Unauthorized {
        presented,
        detail: detail.to_owned(),
    };
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    match (values.next(), values.next()) {
        (None, _) => return Err(unauthorized(false, "send an admin token as a Bearer token")),
        (Some(_), Some(_)) => return Err(unauthorized(true, "more than one Authorization header")),
        (Some(_), None) => {}
    }
    let token = crate::http::form::authorization(headers, "Bearer")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| unauthorized(true, "send an admin token as a Bearer token"))?;
    let request_id = crate::http::form::request_id(headers);
    let hashed = crypto::hash(token);
    if let Some(bootstrap) = &state.config.admin_token {
        // Equal-length digests, compared in constant time: the configured value is a secret
        // that, unlike stored tokens, may not be random.
        if crypto::ct_eq(
            hashed.as_bytes(),
            crypto::hash(bootstrap.expose_secret()).as_bytes(),
        ) {
            return Ok(AdminCaller {
                name: BOOTSTRAP_NAME.to_owned(),
                token_id: None,
                read_only: false,
                request_id,
            });
        }
    }
    let store = &state.core.store;
    let found = store
        .find_admin_token(&hashed)
        .await
        .map_err(|e| AdminError::Internal(e.into()))?
        .ok_or_else(|| {
            // STYLE 20: a fingerprint of the presented value, never the value.
            tracing::warn!(
                token = %crypto::fingerprint(token),
                "admin request with an unknown or revoked token"
            );
            unauthorized(true, "unknown or revoked admin token")
        })?;
    if let Err(e) = store.touch_admin_token(&found.id, state.core.now()).await {
        tracing::warn!(error = %e, "recording the admin token's last use failed");
    }
    Ok(AdminCaller {
        name: found.name,
        token_id: Some(found.id),
        read_only: found.read_only,
        request_id,
    })
}
