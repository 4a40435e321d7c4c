//! Our own form and query parsing, so malformed input yields `invalid_request` JSON (STYLE 9)
//! and repeated parameters are detected (RFC 6749 §3.1/§3.2: parameters MUST NOT repeat).

use axum::http::{header, HeaderMap};

use crate::oauth::client_auth::ClientCredentials;
use crate::oauth::Error;

/// Parsed `application/x-www-form-urlencoded` pairs, in order.
#[derive(Debug, Default, Clone)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a query string or form body.
    ///
    /// # Errors
    /// `invalid_request` when the input is not valid urlencoded UTF-8.
    pub fn parse(raw: &[u8]) -> Result<Self, Error> {
        let malformed = || Error::InvalidRequest("malformed form or query encoding".into());
        let pairs =
            serde_urlencoded::from_bytes::<Vec<(String, String)>>(raw).map_err(|_| malformed())?;
        // The decoder is lossy: percent-escapes of invalid UTF-8 become U+FFFD. Refuse them
        // rather than let a mangled code or token through.
        let replaced = pairs
            .iter()
            .any(|(k, v)| k.contains('\u{FFFD}') || v.contains('\u{FFFD}'));
        if replaced {
            return Err(malformed());
        }
        Ok(Self(pairs))
    }

    /// The single value of `name`; `None` when absent or empty (RFC 6749 §3.1: parameters
    /// sent without a value MUST be treated as if omitted).
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    /// Every non-empty value of `name` (for `resource`, which may repeat per RFC 8707).
    #[must_use]
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Names given more than once, except those allowed to repeat.
    #[must_use]
    pub fn duplicated(&self, allowed: &[&str]) -> Vec<String> {
        let mut seen: Vec<&str> = Vec::new();
        let mut dups: Vec<String> = Vec::new();
        for (k, v) in &self.0 {
            if v.is_empty() || allowed.contains(&k.as_str()) {
                continue;
            }
            if seen.contains(&k.as_str()) {
                if !dups.contains(k) {
                    dups.push(k.clone());
                }
            } else {
                seen.push(k);
            }
        }
        dups
    }

    /// Fails with `invalid_request` naming the first repeated parameter.
    ///
    /// # Errors
    /// When a parameter other than `allowed` repeats.
    pub fn reject_duplicates(&self, allowed: &[&str]) -> Result<(), Error> {
        match self.duplicated(allowed).first() {
            Some(name) => Err(Error::InvalidRequest(format!(
                "parameter {name} was given more than once"
            ))),
            None => Ok(()),
        }
    }
}

/// Requires `Content-Type: application/x-www-form-urlencoded` (RFC 6749 §4.1.3).
///
/// # Errors
/// `invalid_request` for any other or missing content type.
pub fn require_form(headers: &HeaderMap) -> Result<(), Error> {
    let ok = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidRequest(
            "the body must be application/x-www-form-urlencoded".into(),
        ))
    }
}

/// The `x-request-id` set by the request-id middleware.
#[must_use]
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The credentials of an `Authorization` header with the given scheme, matched
/// case-insensitively (COMPAT C8).
#[must_use]
pub fn authorization<'a>(headers: &'a HeaderMap, scheme: &str) -> Option<&'a str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (given, rest) = value.split_once(' ')?;
    given.eq_ignore_ascii_case(scheme).then(|| rest.trim())
}

/// The client credentials of a token, revocation or introspection request: HTTP Basic and the
/// form's `client_id` / `client_secret` (RFC 6749 §2.3.1).
///
/// # Errors
/// As [`crate::oauth::client_auth::with_assertion`].
pub fn client_credentials(headers: &HeaderMap, form: &Params) -> Result<ClientCredentials, Error> {
    crate::oauth::client_auth::with_assertion(
        authorization(headers, "Basic"),
        form.get("client_id"),
        form.get("client_secret"),
        form.get("client_assertion_type"),
        form.get("client_assertion"),
    )
}

#[cfg(test)]
#[path = "form_tests.rs"]
mod tests;
