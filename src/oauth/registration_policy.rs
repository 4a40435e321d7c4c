//! Registration policy: who may register (open, RFC 7591 §3 initial access token, closed),
//! which redirect URIs any client may use (schemes, hosts, loopback), and the cap on dynamic
//! clients. [`admit_and_store`] is the service that owns the registration's transaction: it
//! counts the token's use, checks the cap and inserts the client together, so a refused
//! registration leaves no use counted and two registrations racing for a token's last use
//! cannot both succeed.

use serde_json::json;

use super::crypto;
use super::error::Error;
use super::redirect_uri::{RedirectKind, RedirectUri};
use crate::config::{RegistrationMode, RegistrationSettings};
use crate::store::{AuditEvent, ClientRecord, InitialAccessTokenRecord, InitialTokenUse, Store};

/// Prefix of initial access tokens, so a leaked one is recognisable.
pub const INITIAL_TOKEN_PREFIX: &str = "dcrb_iat_";
/// Longest bearer value looked at: ours are 52 characters; anything far longer is refused
/// before it is hashed or reaches the database.
pub const MAX_BEARER_LEN: usize = 512;
/// Longest lifetime an initial access token may be given (about ten years).
pub const MAX_TOKEN_LIFETIME: i64 = 3650 * 24 * 3600;

/// Checks one redirect URI, already valid by the built-in rules, against the configured
/// policy. Applies to registrations, RFC 7592 updates, admin changes and CIMD documents alike.
///
/// # Errors
/// `invalid_redirect_uri` naming the configuration key that refuses it.
pub fn check_redirect(reg: &RegistrationSettings, uri: &RedirectUri) -> Result<(), Error> {
    let refuse = |m: String| Err(Error::InvalidRedirectUri(m));
    let raw = uri.as_str();
    let scheme = raw
        .split_once(':')
        .map(|(s, _)| s.to_ascii_lowercase())
        .unwrap_or_default();
    if !reg.allowed_redirect_schemes.is_empty() && !reg.allowed_redirect_schemes.contains(&scheme) {
        return refuse(format!(
            "the {scheme} scheme is not in this server's registration.allowed_redirect_schemes ({})",
            reg.allowed_redirect_schemes.join(", ")
        ));
    }
    if uri.kind() == RedirectKind::PrivateUse {
        return Ok(());
    }
    let host = url::Url::parse(raw)
        .ok()
        .and_then(|u| {
            let loopback = crate::config::is_loopback_url(&u);
            u.host_str().map(|h| (h.to_ascii_lowercase(), loopback))
        })
        .unwrap_or_default();
    match host {
        (_, true) if reg.allow_loopback_redirects => Ok(()),
        (_, true) => refuse(
            "loopback redirect URIs are not accepted by this server \
             (registration.allow_loopback_redirects = false)"
                .to_owned(),
        ),
        (host, false) => {
            let patterns = reg.host_patterns();
            if patterns.is_empty() || patterns.iter().any(|p| p.matches(&host)) {
                Ok(())
            } else {
                refuse(format!(
                    "the host {host} is not in this server's registration.allowed_redirect_hosts"
                ))
            }
        }
    }
}

/// A new initial access token: the plain value (shown once) and the record to store.
#[must_use]
pub fn mint_initial_token(
    name: &str,
    max_uses: Option<i64>,
    expires_at: Option<i64>,
    created_by: &str,
    now: i64,
) -> (String, InitialAccessTokenRecord) {
    let plain = crypto::new_secret(INITIAL_TOKEN_PREFIX);
    let record = InitialAccessTokenRecord {
        id: format!("iat_{}", uuid::Uuid::new_v4().simple()),
        name: name.to_owned(),
        token_hash: crypto::hash(&plain),
        max_uses,
        uses: 0,
        expires_at,
        created_at: now,
        created_by: created_by.to_owned(),
        last_used_at: None,
        revoked_at: None,
    };
    (plain, record)
}

/// Checks what a new initial access token is given: `max_uses` at least 1, a lifetime of 1 s
/// to [`MAX_TOKEN_LIFETIME`].
///
/// # Errors
/// A message naming the value.
pub fn check_limits(max_uses: Option<i64>, lifetime: Option<i64>) -> Result<(), String> {
    if max_uses.is_some_and(|n| n < 1) {
        return Err("max_uses must be at least 1 (omit it for no limit)".to_owned());
    }
    if lifetime.is_some_and(|s| !(1..=MAX_TOKEN_LIFETIME).contains(&s)) {
        return Err(format!(
            "expires_in must be 1 to {MAX_TOKEN_LIFETIME} seconds (omit it for no expiry)"
        ));
    }
    Ok(())
}

/// Parses a lifetime such as `30d`, `12h`, `45m`, `90s` or `3600` (seconds).
///
/// # Errors
/// A message saying the accepted forms.
pub fn parse_lifetime(raw: &str) -> Result<i64, String> {
    let bad = || format!("{raw:?} is not a lifetime: use a number with s, m, h or d (30d, 12h)");
    let raw = raw.trim();
    let (digits, unit) = match raw.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&raw[..i], c),
        _ => (raw, 's'),
    };
    let factor = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    digits
        .parse::<i64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(bad)
}

/// Who asks to register: the bearer value of `Authorization`, if any, and the request id.
#[derive(Debug, Clone, Copy)]
pub struct Applicant<'a> {
    pub bearer: Option<&'a str>,
    pub request_id: Option<&'a str>,
}

/// Refuses a registration before its body is read when the mode says so: `closed` always, and
/// `initial_access_token` without a plausible bearer value.
///
/// # Errors
/// `access_denied` (closed) or `invalid_token` (no or oversized token).
pub fn gate(reg: &RegistrationSettings, applicant: Applicant<'_>) -> Result<(), Error> {
    match reg.mode() {
        RegistrationMode::Open => Ok(()),
        RegistrationMode::Closed => Err(Error::AccessDenied(
            "dynamic client registration is closed on this server".into(),
        )),
        RegistrationMode::InitialAccessToken => match applicant.bearer {
            None | Some("") => Err(Error::InvalidToken(
                "this server requires an initial access token (RFC 7591 section 3) as a Bearer \
                 token to register"
                    .into(),
            )),
            Some(t) if t.len() > MAX_BEARER_LEN => {
                Err(Error::InvalidToken("invalid initial access token".into()))
            }
            Some(_) => Ok(()),
        },
    }
}

/// Stores a registration the policy admits, with its `registered` audit event (`audit`, whose
/// detail gains the initial access token's id and name when one was used), in one transaction
/// that also counts the token's use and checks `max_dynamic_clients`. A refusal rolls all of it
/// back and records a `registration_refused` event (except for unknown tokens: anyone can send
/// those, and they are only logged, by fingerprint).
///
/// # Errors
/// `invalid_token` (unknown, revoked, expired or used-up token), `access_denied` (the cap is
/// reached), `server_error`.
pub async fn admit_and_store(
    store: &dyn Store,
    reg: &RegistrationSettings,
    applicant: Applicant<'_>,
    client: &ClientRecord,
    audit: AuditEvent,
    now: i64,
) -> Result<(), Error> {
    gate(reg, applicant)?;
    let mut detail: serde_json::Value = audit
        .detail
        .as_deref()
        .and_then(|d| serde_json::from_str(d).ok())
        .unwrap_or_else(|| json!({}));
    let mut tx = store.begin().await?;
    let mut used = None;
    if reg.mode() == RegistrationMode::InitialAccessToken {
        let token = applicant.bearer.unwrap_or_default();
        match tx
            .use_initial_access_token(&crypto::hash(token), now)
            .await?
        {
            InitialTokenUse::Counted(record) => used = Some(record),
            InitialTokenUse::Refused(record) => {
                drop(tx);
                let reason = record.unusable(now).unwrap_or("refused");
                refused(store, applicant, now, reason, Some(&record)).await;
                return Err(Error::InvalidToken(format!(
                    "the initial access token is {}",
                    reason.replace('_', " ")
                )));
            }
            InitialTokenUse::Unknown => {
                tracing::warn!(
                    token = %crypto::fingerprint(token),
                    "registration with an unknown initial access token"
                );
                return Err(Error::InvalidToken("invalid initial access token".into()));
            }
        }
    }
    if let Some(max) = reg.max_dynamic_clients {
        if tx.count_dynamic_clients(true).await? >= max {
            drop(tx);
            refused(store, applicant, now, "max_dynamic_clients", used.as_ref()).await;
            return Err(Error::AccessDenied(format!(
                "this server has reached its limit of {max} registered clients; ask its \
                 administrator"
            )));
        }
    }
    if let (Some(map), Some(token)) = (detail.as_object_mut(), &used) {
        map.insert("initial_access_token_id".into(), token.id.clone().into());
        map.insert(
            "initial_access_token_name".into(),
            token.name.clone().into(),
        );
    }
    tx.insert_client(client, &audit.detail(&detail)).await?;
    tx.commit().await?;
    Ok(())
}

/// Records a refused registration (its own statement: the refused transaction rolled back).
async fn refused(
    store: &dyn Store,
    applicant: Applicant<'_>,
    now: i64,
    reason: &str,
    token: Option<&InitialAccessTokenRecord>,
) {
    tracing::warn!(reason, "registration refused by policy");
    let mut detail = json!({ "reason": reason });
    if let (Some(map), Some(t)) = (detail.as_object_mut(), token) {
        map.insert("initial_access_token_id".into(), t.id.clone().into());
        map.insert("initial_access_token_name".into(), t.name.clone().into());
    }
    let event = AuditEvent::new("registration_refused", now)
        .request(applicant.request_id.map(str::to_owned))
        .detail(&detail);
    if let Err(e) = store.insert_audit_event(&event).await {
        tracing::warn!(error = %e, "recording a refused registration failed");
    }
}

#[cfg(test)]
#[path = "registration_policy_tests.rs"]
mod tests;
