//! The `/account` session cookie: its name, whether it is `Secure`, and opening the session at
//! the end of a first-party sign-in. Shared by the account pages (`account.rs`) and the
//! upstream callback (`callback.rs`), which dispatches an `/account` sign-in here, so that no
//! endpoint file imports another.

use axum::http::{header, HeaderValue};
use axum::response::Response;

use crate::account::account;
use crate::app::AppState;
use crate::http::browser::{answer, see_other};
use crate::http::cookies;
use crate::oauth::flow::FlowError;
use crate::oauth::login::UpstreamUser;

/// The session cookie's name: `__Host-` prefixed (Secure, no Domain, Path=/) over https.
#[must_use]
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-dcrb-account"
    } else {
        "dcrb-account"
    }
}

/// Whether the cookie is `Secure` (and `__Host-` prefixed): the issuer is https.
pub fn secure(app: &AppState) -> bool {
    app.core.settings.issuer.starts_with("https://")
}

/// The end of a successful `/account` sign-in at the upstream callback: the session opens and
/// the browser goes to the page (303; `SameSite=Lax` lets the cookie ride on this redirect
/// chain, which began at the identity provider).
pub async fn signed_in(app: &AppState, user: &UpstreamUser, rid: Option<&str>) -> Response {
    match account(&app.core)
        .sign_in(user, rid.map(str::to_owned))
        .await
    {
        Ok(token) => {
            let secure = secure(app);
            let mut res = see_other("/account");
            append(
                &mut res,
                cookies::set_cookie(cookie_name(secure), token, secure, None),
            );
            res
        }
        Err(e) => answer(app, rid, FlowError::Internal(e)),
    }
}

/// Adds a `Set-Cookie` header, if there is one.
pub fn append(res: &mut Response, cookie: Option<HeaderValue>) {
    if let Some(c) = cookie {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
}
