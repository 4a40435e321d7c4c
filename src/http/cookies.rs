//! The browser-binding cookie: a random per-browser value whose hash is stored with each pending
//! authorization, so the consent POST and the upstream callback are accepted only from the browser
//! that started the flow (login CSRF and confused-deputy defence, MCP security best practices).
//!
//! Lifetimes: the binding cookie is a session cookie until the user ticks "don't ask again";
//! then it is set again with the same value and the remembered-consent cookie's lifetime
//! ([`REMEMBER_SECONDS`]), because the remembered approvals are MACs over the binding value and
//! would be useless once a browser restart dropped it (issue 11, finding 9). Only an explicit
//! choice makes it outlive the browser session: on a shared computer, a user who never ticked
//! the box leaves nothing behind that skips the consent page.

use axum::http::{header, HeaderMap, HeaderValue};
use axum_extra::extract::cookie::{Cookie, SameSite};

use crate::oauth::crypto;

/// Cookie name: `__Host-` prefixed (Secure, no Domain, Path=/) when served over https.
#[must_use]
pub fn name(secure: bool) -> &'static str {
    if secure {
        "__Host-dcrb-browser"
    } else {
        "dcrb-browser"
    }
}

/// The value of the first cookie called `wanted` in the request's `Cookie` headers.
pub fn value_of(headers: &HeaderMap, wanted: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| Cookie::parse(pair.trim().to_owned()).ok())
        .find(|c| c.name() == wanted)
        .map(|c| c.value().to_owned())
}

/// The binding value the browser presented, if any.
#[must_use]
pub fn read(headers: &HeaderMap, secure: bool) -> Option<String> {
    value_of(headers, name(secure)).filter(|v| (32..=128).contains(&v.len()))
}

/// How long a remembered approval, and then the binding cookie it is keyed to, lasts: 30 days.
pub const REMEMBER_SECONDS: i64 = 30 * 24 * 3600;

/// A `Set-Cookie` value: `Path=/`, `HttpOnly`, `SameSite=Lax`, `Secure` over https (required by
/// the `__Host-` prefix), and `Max-Age` when given (else a session cookie).
fn set_cookie(
    name: &'static str,
    value: String,
    secure: bool,
    max_age: Option<i64>,
) -> Option<HeaderValue> {
    let cookie = Cookie::build((name, value))
        .path("/")
        .http_only(true)
        .secure(secure)
        // Lax: sent on the top-level GET redirect back from the upstream to our callback.
        .same_site(SameSite::Lax)
        .build();
    let text = match max_age {
        Some(seconds) => format!("{cookie}; Max-Age={seconds}"),
        None => cookie.to_string(),
    };
    HeaderValue::from_str(&text).ok()
}

/// Returns the browser's binding value, creating one (and the `Set-Cookie` for it, a session
/// cookie) if absent.
#[must_use]
pub fn ensure(headers: &HeaderMap, secure: bool) -> (String, Option<HeaderValue>) {
    if let Some(v) = read(headers, secure) {
        return (v, None);
    }
    let value = crypto::random_b64(32);
    let cookie = set_cookie(name(secure), value.clone(), secure, None);
    (value, cookie)
}

/// The `Set-Cookie` that keeps the binding value `browser` for [`REMEMBER_SECONDS`], sent with
/// [`remember`] so both cookies expire together.
#[must_use]
pub fn persist(browser: &str, secure: bool) -> Option<HeaderValue> {
    set_cookie(
        name(secure),
        browser.to_owned(),
        secure,
        Some(REMEMBER_SECONDS),
    )
}

/// Name of the remembered-consent cookie.
#[must_use]
pub fn consent_name(secure: bool) -> &'static str {
    if secure {
        "__Host-dcrb-consent"
    } else {
        "dcrb-consent"
    }
}

/// Most remembered approvals one browser keeps (oldest dropped first).
const MAX_REMEMBERED: usize = 20;

/// Remembered approvals: MACs over (browser, client, redirect URI, scope, resource), so the
/// cookie is useless in another browser and cannot be forged without the server key.
#[must_use]
pub fn remembered(headers: &HeaderMap, secure: bool) -> Vec<String> {
    value_of(headers, consent_name(secure))
        .map(|v| {
            v.split('.')
                .filter(|m| m.len() == 22)
                .take(MAX_REMEMBERED)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The `Set-Cookie` that adds `mac` to the remembered approvals ([`REMEMBER_SECONDS`]).
#[must_use]
pub fn remember(headers: &HeaderMap, secure: bool, mac: &str) -> Option<HeaderValue> {
    let mut macs = vec![mac.to_owned()];
    macs.extend(remembered(headers, secure).into_iter().filter(|m| m != mac));
    macs.truncate(MAX_REMEMBERED);
    set_cookie(
        consent_name(secure),
        macs.join("."),
        secure,
        Some(REMEMBER_SECONDS),
    )
}

#[cfg(test)]
#[path = "cookies_tests.rs"]
mod tests;
