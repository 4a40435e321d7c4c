//! `/account`: the end user's "connected apps" page (issue 14). Sign-in goes through the
//! upstream login as a first-party flow ([`crate::oauth::flow`]: `start_account_login`, and the
//! shared `/oauth/callback`); the session, the list and "Remove access" are
//! [`crate::account`]'s. Server-rendered, no script; every form carries the session's CSRF
//! token and is refused from another origin.
//!
//! - `GET /account`: the page, or a 303 to the sign-in.
//! - `GET /account/login[?upstream=ID]`: one upstream (or the one named): 303 to its login;
//!   several: a page to choose.
//! - `POST /account/remove` (`grant_id`, `csrf_token`): revokes one of the user's grants.
//! - `POST /account/logout` (`csrf_token`): ends the session.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde::Serialize;

use crate::account::{account, AppView, Removed, Session};
use crate::app::AppState;
use crate::http::browser::{answer, page as error_page, same_origin, see_other};

use crate::http::account_cookie::{append, cookie_name, secure};
use crate::http::cookies;
use crate::http::form::{request_id, Params};
use crate::http::pages::html_response;
use crate::http::rate_limit::{Endpoint, RateLimits};
use crate::oauth::flow::FlowError;
use crate::oauth::Error;

/// Scripts, images, frames and foreign form targets are all refused: the page shows
/// client-chosen names (autoescaped) and must not load client-chosen URLs (no logos).
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'none'; \
                   frame-ancestors 'none'; form-action 'self'";

/// Account routes (no CORS); the sign-in start shares `/authorize`'s rate limit, since each
/// one stores a pending request.
pub fn routes(limits: &RateLimits) -> Router<AppState> {
    let login = Router::new().route("/account/login", get(login));
    Router::new()
        .route("/account", get(page))
        .route("/account/remove", post(remove))
        .route("/account/logout", post(logout))
        .merge(limits.apply(Endpoint::Authorize, login))
}

/// The session the request's cookie names, if valid; `Err` is the answer to a store failure.
async fn current(app: &AppState, headers: &HeaderMap) -> Result<Option<Session>, Response> {
    let Some(token) = cookies::value_of(headers, cookie_name(secure(app)))
        .filter(|v| (32..=128).contains(&v.len()))
    else {
        return Ok(None);
    };
    account(&app.core)
        .session(&token)
        .await
        .map_err(|e| answer(app, request_id(headers).as_deref(), FlowError::Internal(e)))
}

/// The `Set-Cookie` that drops the session cookie.
fn clear_session(app: &AppState) -> Option<HeaderValue> {
    let secure = secure(app);
    cookies::set_cookie(cookie_name(secure), String::new(), secure, Some(0))
}

#[derive(Serialize)]
struct IndexView<'a> {
    user: &'a str,
    csrf_token: &'a str,
    apps: Vec<AppView>,
    request_id: Option<&'a str>,
}

async fn page(State(app): State<AppState>, headers: HeaderMap) -> Response {
    let rid = request_id(&headers);
    let session = match current(&app, &headers).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            // Unknown, expired or tampered: sign in again (and forget a stale cookie).
            let mut res = see_other("/account/login");
            if cookies::value_of(&headers, cookie_name(secure(&app))).is_some() {
                append(&mut res, clear_session(&app));
            }
            return res;
        }
        Err(res) => return res,
    };
    let apps = match account(&app.core).apps(&session).await {
        Ok(apps) => apps,
        Err(e) => return answer(&app, rid.as_deref(), FlowError::Internal(e)),
    };
    let view = IndexView {
        user: &session.display_name,
        csrf_token: &session.csrf_token,
        apps,
        request_id: rid.as_deref(),
    };
    render(&app, rid.as_deref(), "account/index.html", &view)
}

#[derive(Serialize)]
struct Choice {
    name: String,
    login_url: String,
}

#[derive(Serialize)]
struct ChooseView<'a> {
    upstreams: Vec<Choice>,
    request_id: Option<&'a str>,
}

async fn login(State(app): State<AppState>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    let rid = request_id(&headers);
    let params = match Params::parse(q.unwrap_or_default().as_bytes()) {
        Ok(p) => p,
        Err(e) => return answer(&app, rid.as_deref(), FlowError::Page(e)),
    };
    if let Err(e) = params.reject_duplicates(&[]) {
        return answer(&app, rid.as_deref(), FlowError::Page(e));
    }
    let upstreams = &app.core.upstreams;
    let chosen = match params.get("upstream") {
        Some(id) => id.to_owned(),
        None => {
            let mut all = upstreams.iter();
            match (all.next(), all.next()) {
                (Some(only), None) => only.id.clone(),
                _ => {
                    let view = ChooseView {
                        upstreams: upstreams
                            .iter()
                            .map(|u| Choice {
                                name: u.display_name.clone(),
                                login_url: format!(
                                    "/account/login?{}",
                                    serde_urlencoded::to_string([("upstream", &u.id)])
                                        .unwrap_or_default()
                                ),
                            })
                            .collect(),
                        request_id: rid.as_deref(),
                    };
                    return render(&app, rid.as_deref(), "account/choose.html", &view);
                }
            }
        }
    };
    // The same browser-binding cookie as the MCP flow: the callback must reach the browser
    // that started the sign-in (login CSRF).
    let (browser, set_cookie) = cookies::ensure(&headers, secure(&app));
    match app.core.flow().start_account_login(&chosen, &browser).await {
        Ok(url) => {
            let mut res = see_other(&url);
            append(&mut res, set_cookie);
            res
        }
        Err(refused) => answer(&app, rid.as_deref(), refused),
    }
}

/// A form of the signed-in page: parsed, same-origin, with a valid session and CSRF token.
async fn signed_in_form(
    app: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Session, Params), Response> {
    let rid = request_id(headers);
    let refuse = |status, title: &str, message: &str| {
        error_page(app, status, title, message, None, rid.as_deref(), None)
    };
    let Ok(form) = Params::parse(body) else {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "Invalid form",
            "The form was malformed.",
        ));
    };
    if form.reject_duplicates(&[]).is_err() {
        return Err(refuse(
            StatusCode::BAD_REQUEST,
            "Invalid form",
            "The form repeated a field.",
        ));
    }
    if !same_origin(headers, &app.core.settings.issuer) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "Request refused",
            "The form was submitted from another site.",
        ));
    }
    let Some(session) = current(app, headers).await? else {
        return Err(refuse(
            StatusCode::UNAUTHORIZED,
            "You are signed out",
            "Your session has ended. Open /account to sign in again.",
        ));
    };
    let csrf_ok = form
        .get("csrf_token")
        .is_some_and(|t| account(&app.core).csrf_ok(&session, t));
    if !csrf_ok {
        tracing::warn!("account form refused: CSRF token missing or wrong");
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "Request refused",
            "This form does not belong to your session. Reload the page and try again.",
        ));
    }
    Ok((session, form))
}

async fn remove(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let rid = request_id(&headers);
    let (session, form) = match signed_in_form(&app, &headers, &body).await {
        Ok(ok) => ok,
        Err(res) => return res,
    };
    let grant_id = form.get("grant_id").unwrap_or_default();
    let removed = if grant_id.is_empty() || grant_id.len() > 128 {
        Ok(Removed::NotFound)
    } else {
        account(&app.core)
            .remove(&session, grant_id, rid.clone())
            .await
    };
    match removed {
        Ok(Removed::Revoked) => {
            let mut res = see_other("/account");
            // This browser's remembered approvals ("don't ask again") are MACs the server
            // cannot take back; dropping them here makes the removed app ask again in it.
            let secure = secure(&app);
            append(
                &mut res,
                cookies::set_cookie(
                    cookies::consent_name(secure),
                    String::new(),
                    secure,
                    Some(0),
                ),
            );
            res
        }
        Ok(Removed::NotFound) => error_page(
            &app,
            StatusCode::NOT_FOUND,
            "Not found",
            "None of your connected apps has this id. Reload the page.",
            None,
            rid.as_deref(),
            None,
        ),
        Err(e) => answer(&app, rid.as_deref(), FlowError::Internal(e)),
    }
}

#[derive(Serialize)]
struct PlainView<'a> {
    request_id: Option<&'a str>,
}

async fn logout(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let rid = request_id(&headers);
    let (session, _) = match signed_in_form(&app, &headers, &body).await {
        Ok(ok) => ok,
        Err(res) => return res,
    };
    if let Err(e) = account(&app.core).sign_out(&session, rid.clone()).await {
        return answer(&app, rid.as_deref(), FlowError::Internal(e));
    }
    let view = PlainView {
        request_id: rid.as_deref(),
    };
    let mut res = render(&app, rid.as_deref(), "account/signed_out.html", &view);
    append(&mut res, clear_session(&app));
    res
}

fn render(app: &AppState, rid: Option<&str>, template: &str, view: &impl Serialize) -> Response {
    match app.pages.render(template, view) {
        Ok(html) => html_response(StatusCode::OK, html, CSP),
        Err(e) => answer(app, rid, FlowError::Internal(Error::server(e))),
    }
}
