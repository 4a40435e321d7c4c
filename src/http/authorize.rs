//! `GET|POST /authorize`: validates everything before anything leaves (STYLE 10: errors are
//! redirected only once client_id and redirect_uri are known good, and at once only for static
//! clients, RFC 9700 §4.11.2), records the pending request bound to this browser, and shows the
//! per-client consent page (MCP confused-deputy rule).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use url::Url;

use crate::app::AppState;
use crate::http::browser::{approve, redirect_error};
use crate::http::cookies;
use crate::http::form::{request_id, Params};
use crate::http::pages::{html_response, ErrorPage, ReturnLink};
use crate::oauth::authorize::{self, AuthorizeError, AuthorizeParams, ValidAuthorize};
use crate::oauth::flow::secrets::consent_mac;
use crate::oauth::{crypto, Error};
use crate::store::AuthRequestRecord;

/// Authorization endpoint routes (no CORS: RFC 9700 §2.6).
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
    let params = match Params::parse(raw) {
        Ok(p) => p,
        Err(e) => return page_for(app, &e, rid.as_deref()),
    };
    let client = match params.get("client_id") {
        Some(id) => match app.core.clients.resolve(id).await {
            Ok(c) => c,
            Err(e) => return page_for(app, &e, rid.as_deref()),
        },
        None => None,
    };
    // COMPAT C13: a client configured with the IdP's own client_id (copied from the IdP console)
    // gets an explanation instead of a bare "unknown client".
    if client.is_none() {
        if let Some(id) = params.get("client_id") {
            if app.core.upstreams.is_upstream_client_id(id) {
                let e = Error::invalid_client(
                    "this is the identity provider's client id, which only dcr-bridge uses; \
                     leave the client id empty so the application registers itself, or ask \
                     the administrator for a pre-registered client",
                );
                return page_for(app, &e, rid.as_deref());
            }
        }
    }
    let duplicated = params.duplicated(&["resource"]);
    let get = |k: &str| params.get(k).map(str::to_owned);
    let request = AuthorizeParams {
        response_type: get("response_type"),
        client_id: get("client_id"),
        redirect_uri: get("redirect_uri"),
        state: get("state"),
        scope: get("scope"),
        code_challenge: get("code_challenge"),
        code_challenge_method: get("code_challenge_method"),
        prompt: get("prompt"),
        nonce: get("nonce"),
        resource: params.all("resource"),
        duplicated,
        request: get("request"),
        request_uri: get("request_uri"),
    };
    let refused = match authorize::validate_authorize(request, client, &app.core.settings) {
        Ok(valid) => match consent_page(app, headers, &valid, rid.as_deref()).await {
            Ok(res) => return res,
            // Still before the user acted: the same rule as for validation errors.
            Err(e) => authorize::early_error(&valid.client, valid.redirect_uri, valid.state, e),
        },
        Err(refused) => refused,
    };
    match refused {
        AuthorizeError::Page(e) => page_for(app, &e, rid.as_deref()),
        AuthorizeError::Redirect {
            redirect_uri,
            state,
            error,
        } => redirect_error(app, &redirect_uri, state.as_deref(), &error),
        AuthorizeError::Inform {
            redirect_uri,
            state,
            error,
        } => inform(app, &redirect_uri, state.as_deref(), &error, rid.as_deref()),
    }
}

/// The status and message of an error page.
fn status_and_message(e: &Error) -> (StatusCode, &str) {
    let status = match e {
        Error::Server(_) => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    let message = e
        .description()
        .unwrap_or("Something went wrong on our side. Try again later.");
    (status, message)
}

/// An error that cannot be sent to the client: shown to the user, never redirected.
fn page_for(app: &AppState, e: &Error, rid: Option<&str>) -> Response {
    crate::http::error::log(e);
    let (status, message) = status_and_message(e);
    app.pages.error(
        status,
        &ErrorPage {
            title: "This sign-in request cannot continue",
            message,
            code: Some(e.code()),
            request_id: rid,
            return_url: None,
        },
    )
}

/// RFC 9700 §4.11.2 "inform the user": our error page, with the client's error response as a
/// link the user may choose (showing where it leads), never an automatic redirect (no 302, no
/// meta refresh, no script), so a link to `/authorize` cannot bounce through us to a host
/// anyone could register.
fn inform(
    app: &AppState,
    redirect_uri: &str,
    state: Option<&str>,
    e: &Error,
    rid: Option<&str>,
) -> Response {
    crate::http::error::log(e);
    let (status, message) = status_and_message(e);
    let url = authorize::error_redirect_url(redirect_uri, e, state, &app.core.settings.issuer);
    let host = display_host(redirect_uri);
    app.pages.error_with_link(
        status,
        &ErrorPage {
            title: "This sign-in request cannot continue",
            message,
            code: Some(e.code()),
            request_id: rid,
            return_url: None,
        },
        &ReturnLink {
            url: &url,
            host: &host,
        },
    )
}

/// `host[:port]` of a redirect URI as shown to the user (`scheme:` for private-use schemes).
fn display_host(redirect_uri: &str) -> String {
    Url::parse(redirect_uri)
        .map(|u| match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => format!("{}:", u.scheme()),
        })
        .unwrap_or_default()
}

#[derive(Serialize)]
struct ConsentView<'a> {
    client_name: &'a str,
    unverified: bool,
    client_id: &'a str,
    redirect_uri: &'a str,
    redirect_host: String,
    loopback: bool,
    resource: &'a str,
    resource_name: &'a str,
    scopes: Vec<&'a str>,
    upstream_name: String,
    consent_id: &'a str,
    csrf_token: &'a str,
    request_id: Option<&'a str>,
}

/// Stores the pending request and renders the consent page.
async fn consent_page(
    app: &AppState,
    headers: &HeaderMap,
    v: &ValidAuthorize,
    rid: Option<&str>,
) -> Result<Response, Error> {
    let now = app.core.now();
    let secure = app.core.settings.issuer.starts_with("https://");
    let (browser, set_cookie) = cookies::ensure(headers, secure);
    let consent_id = crypto::random_b64(32);
    let csrf_token = crypto::random_b64(32);
    let record = AuthRequestRecord {
        id_hash: crypto::hash(&consent_id),
        client_id: v.client.client_id.clone(),
        redirect_uri: v.redirect_uri.clone(),
        redirect_uri_sent: v.redirect_uri_sent,
        client_state: v.state.clone(),
        code_challenge: v.code_challenge.clone(),
        scope: v.scope.to_string(),
        resource: v.resource.uri.clone(),
        upstream_id: v.resource.upstream_id.clone(),
        browser_hash: crypto::hash(&browser),
        csrf_hash: crypto::hash(&csrf_token),
        extra: v
            .prompt
            .as_ref()
            .map(|p| serde_json::json!({ "prompt": p }).to_string()),
        created_at: now,
        expires_at: now + app.core.settings.tokens.authorization_request_ttl,
        upstream: None,
    };
    app.core.store.insert_auth_request(&record).await?;
    // No touch_client here: only a completed token request counts as use, so a flood of
    // /authorize requests cannot keep a spam registration from expiring.

    // Consent is per (browser, client): an approval this browser asked us to remember skips
    // the page, unless the client asks for the prompt (OIDC Core §3.1.2.1 prompt=consent|login).
    let forced = v
        .prompt
        .as_deref()
        .is_some_and(|p| p.split(' ').any(|x| x == "consent" || x == "login"));
    let mac = consent_mac(&app.core.cipher, &browser, &record);
    if !forced && cookies::remembered(headers, secure).contains(&mac) {
        tracing::info!(client_id = %v.client.client_id, "consent remembered in this browser");
        return Ok(approve(app, record, rid).await);
    }

    let redirect = Url::parse(&v.redirect_uri).ok();
    let redirect_host = display_host(&v.redirect_uri);
    let loopback = redirect
        .as_ref()
        .is_some_and(crate::config::is_loopback_url);
    // The resource's upstream, which `validate_authorize` checked the client may use.
    let upstream_name = app.core.upstreams.get(&v.resource.upstream_id).map_or_else(
        || v.resource.upstream_id.clone(),
        |u| u.display_name.clone(),
    );
    let scopes: Vec<&str> = v.scope.iter().collect();
    let view = ConsentView {
        client_name: v
            .client
            .client_name
            .as_deref()
            .unwrap_or("An unnamed application"),
        unverified: v.client.kind != crate::store::ClientKind::Static,
        client_id: &v.client.client_id,
        redirect_uri: &v.redirect_uri,
        redirect_host,
        loopback,
        resource: &v.resource.uri,
        resource_name: &v.resource.id,
        scopes,
        upstream_name,
        consent_id: &consent_id,
        csrf_token: &csrf_token,
        request_id: rid,
    };
    let html = app
        .pages
        .render("consent.html", &view)
        .map_err(Error::server)?;
    // COMPAT C17: browsers enforce CSP form-action on every redirect that follows the POST,
    // and an upstream login may hop across hosts (federation), so form-action is not set here;
    // autoescaped templates and `default-src 'none'` keep injected forms out instead.
    let csp = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";
    let mut res = html_response(StatusCode::OK, html, csp);
    if let Some(c) = set_cookie {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    Ok(res)
}
