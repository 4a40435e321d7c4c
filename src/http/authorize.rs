//! `GET|POST /authorize`: reads the request and the browser's cookies, hands them to the flow
//! ([`crate::oauth::flow`]), and renders the consent page it asks for (MCP confused-deputy
//! rule: per client, before anything goes upstream). No CORS (RFC 9700 §2.6).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Serialize;

use crate::app::AppState;
use crate::http::browser::{answer, see_other};
use crate::http::cookies;
use crate::http::form::{request_id, Params};
use crate::http::pages::html_response;
use crate::oauth::authorize::AuthorizeParams;
use crate::oauth::flow::{ConsentPrompt, FlowError, StartRequest, Started};
use crate::oauth::Error;

/// Authorization endpoint routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/authorize", get(get_authorize).post(post_authorize))
}

async fn get_authorize(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    handle(&app, &headers, q.unwrap_or_default().as_bytes()).await
}

/// OAuth 2.1 §3.1: the authorization endpoint MAY accept POST with a form body.
async fn post_authorize(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    handle(&app, &headers, &body).await
}

async fn handle(app: &AppState, headers: &HeaderMap, raw: &[u8]) -> Response {
    let rid = request_id(headers);
    let rid = rid.as_deref();
    let params = match Params::parse(raw) {
        Ok(p) => p,
        Err(e) => return answer(app, rid, FlowError::Page(e)),
    };
    let secure = app.core.settings.issuer.starts_with("https://");
    let (browser, set_cookie) = cookies::ensure(headers, secure);
    let get = |k: &str| params.get(k).map(str::to_owned);
    let request = StartRequest {
        params: AuthorizeParams {
            response_type: get("response_type"),
            client_id: get("client_id"),
            redirect_uri: get("redirect_uri"),
            state: get("state"),
            scope: get("scope"),
            code_challenge: get("code_challenge"),
            code_challenge_method: get("code_challenge_method"),
            prompt: get("prompt"),
            nonce: get("nonce"),
            login_hint: get("login_hint"),
            resource: params.all("resource"),
            duplicated: params.duplicated(&["resource"]),
            request: get("request"),
            request_uri: get("request_uri"),
        },
        browser,
        remembered: cookies::remembered(headers, secure),
    };
    let mut res = match app.core.flow().start(request).await {
        Ok(Started::Upstream(url)) => see_other(&url),
        Ok(Started::Consent(prompt)) => match consent_page(app, &prompt, rid) {
            Ok(res) => res,
            Err(e) => answer(app, rid, (*prompt).refuse(&app.core.settings, e)),
        },
        Err(refused) => answer(app, rid, refused),
    };
    // A new binding cookie goes with the consent page only: a refusal stores nothing to bind,
    // and a remembered approval needs the cookie the browser already has.
    if let Some(c) = set_cookie.filter(|_| res.status().is_success()) {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

#[derive(Serialize)]
struct ConsentView<'a> {
    #[serde(flatten)]
    prompt: &'a ConsentPrompt,
    request_id: Option<&'a str>,
}

fn consent_page(
    app: &AppState,
    prompt: &ConsentPrompt,
    rid: Option<&str>,
) -> Result<Response, Error> {
    let html = app
        .pages
        .render(
            "consent.html",
            &ConsentView {
                prompt,
                request_id: rid,
            },
        )
        .map_err(Error::server)?;
    // COMPAT C17: browsers enforce CSP form-action on every redirect that follows the POST,
    // and an upstream login may hop across hosts (federation), so form-action is not set here;
    // autoescaped templates and `default-src 'none'` keep injected forms out instead.
    let csp = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";
    Ok(html_response(StatusCode::OK, html, csp))
}
