//! Signing in to the console by pasting an admin token, and signing out.
//!
//! A wrong token is audited (`admin_console_sign_in_failed`, with the client address and a
//! fingerprint of what was pasted, never the value) and counted per client address (IPv6 by
//! /64, as the public rate limits do): after [`MAX_FAILURES`] in [`WINDOW_SECONDS`] every
//! sign-in from that address is refused with 429 until the window has passed, the right token
//! included, so guessing gains nothing from the answers. Admin tokens carry 256 random bits;
//! the limit is against noise in the audit trail and against weak bootstrap tokens.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use minijinja::context;
use serde_json::json;

use super::guard::{form_body, same_origin, Signed};
use super::render::{html_response, Refusal};
use super::session::{self, cookie, Operator};
use super::{Console, HOME};
use crate::oauth::crypto;
use crate::store::AuditEvent;

/// Failed sign-ins from one address before it is refused.
pub const MAX_FAILURES: usize = 5;
/// The window the failures are counted in (seconds).
pub const WINDOW_SECONDS: i64 = 300;
/// Most addresses tracked at once (the oldest entries go first beyond it).
const MAX_TRACKED: usize = 10_000;

/// Recent failed sign-ins, by client address.
#[derive(Debug, Default)]
pub struct Failures {
    by_ip: Mutex<HashMap<IpAddr, Vec<i64>>>,
}

impl Failures {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Vec<i64>>> {
        self.by_ip
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Seconds until `ip` may try again, if it is over the limit.
    pub fn blocked(&self, ip: IpAddr, now: i64) -> Option<i64> {
        let mut map = self.lock();
        let times = map.get_mut(&ip)?;
        times.retain(|t| now - t < WINDOW_SECONDS);
        if times.len() < MAX_FAILURES {
            return None;
        }
        times.iter().min().map(|first| first + WINDOW_SECONDS - now)
    }

    /// Counts a failure of `ip` at `now`.
    pub fn record(&self, ip: IpAddr, now: i64) {
        let mut map = self.lock();
        if map.len() >= MAX_TRACKED {
            map.retain(|_, times| times.iter().any(|t| now - t < WINDOW_SECONDS));
        }
        if map.len() < MAX_TRACKED || map.contains_key(&ip) {
            map.entry(ip).or_default().push(now);
        }
    }
}

/// The sign-in page (or the overview, when already signed in).
pub async fn form(State(c): State<Console>, signed: Result<Signed, Refusal>) -> Response {
    if signed.is_ok() {
        return Redirect::to(HOME).into_response();
    }
    sign_in_page(&c, StatusCode::OK, None)
}

fn sign_in_page(c: &Console, status: StatusCode, error: Option<&str>) -> Response {
    match c
        .templates
        .render("admin/sign_in.html", context! { error => error })
    {
        Ok(html) => html_response(status, html),
        Err(e) => Refusal::Internal(e.into()).into_response(),
    }
}

/// The client address the failure count is kept by: the trusted proxy's header when
/// `rate_limit.client_ip_header` is set, else the peer.
fn client_ip(c: &Console, headers: &HeaderMap, peer: Option<SocketAddr>) -> IpAddr {
    let forwarded = c
        .app
        .config
        .rate_limit
        .client_ip_header
        .and_then(|h| crate::http::rate_limit::forwarded_for(headers, h));
    let ip = forwarded
        .or(peer.map(|p| p.ip()))
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    crate::http::rate_limit::bucket(ip)
}

/// Checks the pasted token; on success opens a session and goes to the overview.
pub async fn submit(State(c): State<Console>, req: Request) -> Result<Response, Refusal> {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| *a);
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    same_origin(&headers, &c)?;
    let ip = client_ip(&c, &headers, peer);
    let now = c.app.core.now();
    if let Some(wait) = c.failures.blocked(ip, now) {
        tracing::warn!(%ip, "admin console sign-in refused: too many failures");
        let mut res = Refusal::Page(
            StatusCode::TOO_MANY_REQUESTS,
            "too many failed sign-ins from this address: wait and try again".to_owned(),
        )
        .into_response();
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait.max(1)));
        return Ok(res);
    }
    let form = form_body(&headers, body).await?;
    let request_id = crate::http::form::request_id(&headers);
    let token = form.get("token").map(str::trim).unwrap_or_default();
    let token_hash = crypto::hash(token);
    let caller = if token.is_empty() || token.len() > 512 {
        None
    } else {
        session::caller_for(&c.app, &token_hash, request_id.clone()).await?
    };
    let Some(caller) = caller else {
        c.failures.record(ip, now);
        let fingerprint = crypto::fingerprint(token);
        tracing::warn!(%ip, token = %fingerprint, "admin console sign-in with an unknown or revoked token");
        let event = AuditEvent::new("admin_console_sign_in_failed", now)
            .request(request_id)
            .detail(&json!({ "ip": ip.to_string(), "token_fingerprint": fingerprint }));
        c.app.core.store.insert_audit_event(&event).await?;
        return Ok(sign_in_page(
            &c,
            StatusCode::UNAUTHORIZED,
            Some("unknown or revoked admin token"),
        ));
    };
    let event = caller.audit(
        "admin_console_signed_in",
        now,
        json!({ "ip": ip.to_string(), "read_only": caller.read_only }),
    );
    // A session id the browser already had is ended, not reused (session fixation).
    let old = cookie(&headers, c.secure());
    let id = session::open(&c.app, token_hash, old.as_deref(), &event, now).await?;
    let mut res = Redirect::to(HOME).into_response();
    if let Some(v) = session::set_cookie(&id, c.secure()) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

/// Ends the session (CSRF-checked like every POST, read-only tokens included) and clears the
/// cookie.
pub async fn sign_out(State(c): State<Console>, req: Request) -> Result<Response, Refusal> {
    let (parts, body) = req.into_parts();
    same_origin(&parts.headers, &c)?;
    let Some(Operator { caller, csrf }) =
        session::operator(&c.app, &parts.headers, c.secure()).await?
    else {
        return Ok(Redirect::to(super::SIGN_IN).into_response());
    };
    let form = form_body(&parts.headers, body).await?;
    if !crypto::ct_eq(
        form.get("csrf").unwrap_or_default().as_bytes(),
        csrf.as_bytes(),
    ) {
        return Err(Refusal::forbidden(
            "the form's CSRF token is missing or wrong",
        ));
    }
    if let Some(id) = cookie(&parts.headers, c.secure()) {
        session::close(&c.app, &id).await?;
    }
    let event = caller.audit("admin_console_signed_out", c.app.core.now(), json!({}));
    c.app.core.store.insert_audit_event(&event).await?;
    let mut res = Redirect::to(super::SIGN_IN).into_response();
    if let Some(v) = session::clear_cookie(c.secure()) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(res)
}

#[cfg(test)]
#[path = "signin_tests.rs"]
mod tests;
