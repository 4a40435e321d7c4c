//! The browser-binding cookie: a random per-browser value whose hash is stored with each pending
//! authorization, so the consent POST and the upstream callback are accepted only from the browser
//! that started the flow (login CSRF and confused-deputy defence, MCP security best practices).

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
fn value_of(headers: &HeaderMap, wanted: &str) -> Option<String> {
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

/// Returns the browser's binding value, creating one (and the `Set-Cookie` for it) if absent.
#[must_use]
pub fn ensure(headers: &HeaderMap, secure: bool) -> (String, Option<HeaderValue>) {
    if let Some(v) = read(headers, secure) {
        return (v, None);
    }
    let value = crypto::random_b64(32);
    let cookie = Cookie::build((name(secure), value.clone()))
        .path("/")
        .http_only(true)
        .secure(secure)
        // Lax: sent on the top-level GET redirect back from the upstream to our callback.
        .same_site(SameSite::Lax)
        .build();
    (value, HeaderValue::from_str(&cookie.to_string()).ok())
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

/// The `Set-Cookie` that adds `mac` to the remembered approvals (30 days).
#[must_use]
pub fn remember(headers: &HeaderMap, secure: bool, mac: &str) -> Option<HeaderValue> {
    let mut macs = vec![mac.to_owned()];
    macs.extend(remembered(headers, secure).into_iter().filter(|m| m != mac));
    macs.truncate(MAX_REMEMBERED);
    let cookie = Cookie::build((consent_name(secure), macs.join(".")))
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .build();
    HeaderValue::from_str(&format!("{cookie}; Max-Age={}", 30 * 24 * 3600)).ok()
}
