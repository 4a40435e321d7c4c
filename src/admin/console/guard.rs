//! What a console request must bring: a live session for every page ([`Signed`]), and for every
//! POST ([`Posted`]) also this origin (`Origin`, and `Sec-Fetch-Site` when the browser sends
//! it), a form body, the session's CSRF token, and a token that may write.
//!
//! Three layers against cross-site request forgery, each enough alone against today's
//! browsers: the SameSite=Strict cookie is not sent on a cross-site POST; the Origin check
//! refuses one whose cookie was sent anyway (an old browser, a same-site sibling host); the
//! CSRF token refuses one from a page that could not read ours.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};

use super::render::Refusal;
use super::session::{self, Operator};
use super::Console;
use crate::http::form::Params;
use crate::oauth::crypto;

/// The signed-in operator of a page request.
pub struct Signed(pub Operator);

impl FromRequestParts<Console> for Signed {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, c: &Console) -> Result<Self, Refusal> {
        let found = session::operator(&c.app, &parts.headers, c.secure()).await?;
        found.map(Signed).ok_or(Refusal::SignIn)
    }
}

/// A checked form POST of an operator whose token may write, with its fields.
pub struct Posted {
    pub operator: Operator,
    pub form: Params,
}

impl FromRequest<Console> for Posted {
    type Rejection = Refusal;

    async fn from_request(req: Request, c: &Console) -> Result<Self, Refusal> {
        let (parts, body) = req.into_parts();
        same_origin(&parts.headers, c)?;
        let operator = session::operator(&c.app, &parts.headers, c.secure())
            .await?
            .ok_or(Refusal::SignIn)?;
        if operator.caller.read_only {
            return Err(Refusal::forbidden(&format!(
                "the admin token {} is read-only: it changes nothing",
                operator.caller.name
            )));
        }
        let form = form_body(&parts.headers, body).await?;
        check_csrf(&form, &operator.csrf)?;
        Ok(Self { operator, form })
    }
}

/// The fields of a form POST.
///
/// # Errors
/// 415 for another content type, 413 for a body over the console's limit, 400 for bad
/// encoding or a repeated field.
pub async fn form_body(headers: &HeaderMap, body: axum::body::Body) -> Result<Params, Refusal> {
    if crate::http::form::require_form(headers).is_err() {
        return Err(Refusal::Page(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the form as application/x-www-form-urlencoded".to_owned(),
        ));
    }
    let bytes = axum::body::to_bytes(body, super::MAX_FORM_BYTES)
        .await
        .map_err(|_| {
            Refusal::Page(
                StatusCode::PAYLOAD_TOO_LARGE,
                "the form is too large".to_owned(),
            )
        })?;
    let form = Params::parse(&bytes).map_err(|_| Refusal::bad_request("malformed form"))?;
    if form.reject_duplicates(&[]).is_err() {
        return Err(Refusal::bad_request("a form field was sent twice"));
    }
    Ok(form)
}

/// The form's `csrf` must be the session's (compared in constant time).
fn check_csrf(form: &Params, expected: &str) -> Result<(), Refusal> {
    let given = form.get("csrf").unwrap_or_default();
    if crypto::ct_eq(given.as_bytes(), expected.as_bytes()) {
        Ok(())
    } else {
        Err(Refusal::forbidden(
            "the form's CSRF token is missing or wrong: reload the page and try again",
        ))
    }
}

/// A POST must say it comes from this origin: `Sec-Fetch-Site`, when sent, is `same-origin`,
/// and `Origin` (which every current browser sends on a form POST) is the public origin or the
/// origin of the host the request was sent to (the admin listener's own address).
///
/// # Errors
/// 403 otherwise.
pub fn same_origin(headers: &HeaderMap, c: &Console) -> Result<(), Refusal> {
    let refuse = || Refusal::forbidden("cross-origin form posts are refused");
    if let Some(site) = headers.get("sec-fetch-site") {
        if site.as_bytes() != b"same-origin" {
            return Err(refuse());
        }
    }
    let mut origins = headers.get_all(header::ORIGIN).iter();
    let (Some(origin), None) = (origins.next(), origins.next()) else {
        return Err(refuse());
    };
    let origin = origin.to_str().map_err(|_| refuse())?;
    let public = c.app.config.public_url.origin().ascii_serialization();
    if origin == public {
        return Ok(());
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .ok_or_else(refuse)?;
    let own = ["http://", "https://"]
        .iter()
        .any(|scheme| origin.strip_prefix(scheme) == Some(host));
    if own {
        Ok(())
    } else {
        Err(refuse())
    }
}
