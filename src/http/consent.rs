//! `POST /consent`: the user's decision on the consent page. Accepted only with the form's CSRF
//! token, from the browser that loaded the page (binding cookie) and, when the browser sends one,
//! with our own Origin. Approve → 303 to the upstream with our client, PKCE, state and nonce.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;

use crate::app::AppState;
use crate::http::browser::{approve, page_error, redirect_error, refuse};
use crate::http::cookies;
use crate::http::form::{request_id, Params};
use crate::oauth::flow::secrets::consent_mac;
use crate::oauth::{crypto, Error};
use crate::store::{AuditEvent, AuthRequestRecord};

/// Consent routes (no CORS).
pub fn routes() -> Router<AppState> {
    Router::new().route("/consent", post(decide))
}

async fn decide(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let rid = request_id(&headers);
    let rid = rid.as_deref();
    let Ok(form) = Params::parse(&body) else {
        return refuse(
            &app,
            StatusCode::BAD_REQUEST,
            "Invalid form",
            "The consent form was malformed.",
            rid,
        );
    };
    let (Some(consent_id), Some(csrf), Some(decision)) = (
        form.get("consent_id"),
        form.get("csrf_token"),
        form.get("decision"),
    ) else {
        return refuse(
            &app,
            StatusCode::BAD_REQUEST,
            "Invalid form",
            "The consent form was incomplete.",
            rid,
        );
    };
    if !same_origin(&headers, &app.core.settings.issuer) {
        return refuse(
            &app,
            StatusCode::FORBIDDEN,
            "Request refused",
            "The form was submitted from another site.",
            rid,
        );
    }
    let now = app.core.now();
    let id_hash = crypto::hash(consent_id);
    let request = match app.core.store.get_auth_request(&id_hash, now).await {
        Ok(Some(r)) if r.upstream.is_none() => r,
        Ok(_) => {
            return refuse(
                &app,
                StatusCode::BAD_REQUEST,
                "This sign-in request has expired",
                "It was already answered or is too old. Start again from your application.",
                rid,
            )
        }
        Err(e) => return page_error(&app, &e.into(), rid),
    };
    let secure = app.core.settings.issuer.starts_with("https://");
    let browser_ok = cookies::read(&headers, secure).is_some_and(|b| {
        crypto::ct_eq(crypto::hash(&b).as_bytes(), request.browser_hash.as_bytes())
    });
    let csrf_ok = crypto::ct_eq(crypto::hash(csrf).as_bytes(), request.csrf_hash.as_bytes());
    if !browser_ok || !csrf_ok {
        tracing::warn!(client_id = %request.client_id, browser_ok, csrf_ok, "consent refused: binding check failed");
        return refuse(
            &app,
            StatusCode::FORBIDDEN,
            "Request refused",
            "This consent form does not belong to this browser session. Start again from your application.",
            rid,
        );
    }
    match decision {
        "approve" => {
            let remember = form.get("remember") == Some("1");
            let browser = cookies::read(&headers, secure);
            let mac = browser
                .as_ref()
                .map(|b| consent_mac(&app.core.cipher, b, &request));
            let mut res = approve(&app, request, rid).await;
            if let (true, true, Some(mac), Some(browser)) = (
                remember,
                res.status() == StatusCode::SEE_OTHER,
                mac,
                browser,
            ) {
                // Both cookies get the same lifetime: the approval is keyed to the binding value.
                let cookies = [
                    cookies::remember(&headers, secure, &mac),
                    cookies::persist(&browser, secure),
                ];
                for c in cookies.into_iter().flatten() {
                    res.headers_mut().append(header::SET_COOKIE, c);
                }
            }
            res
        }
        "deny" => deny(&app, &id_hash, &request, rid).await,
        _ => refuse(
            &app,
            StatusCode::BAD_REQUEST,
            "Invalid form",
            "Unknown decision.",
            rid,
        ),
    }
}

/// The Origin check (defence in depth beside the CSRF token): absent is tolerated (older
/// browsers), present must be ours.
fn same_origin(headers: &HeaderMap, issuer: &str) -> bool {
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(origin) => origin.trim_end_matches('/') == issuer,
    }
}

async fn deny(
    app: &AppState,
    id_hash: &str,
    request: &AuthRequestRecord,
    rid: Option<&str>,
) -> Response {
    if let Err(e) = app.core.store.take_auth_request(id_hash).await {
        return page_error(app, &e.into(), rid);
    }
    let audit = AuditEvent::new("consent_denied", app.core.now())
        .client(request.client_id.clone())
        .request(rid.map(str::to_owned));
    if let Err(e) = app.core.store.insert_audit_event(&audit).await {
        tracing::warn!(error = %e, "audit write failed");
    }
    let e = Error::AccessDenied("the user denied the request".into());
    redirect_error(
        app,
        &request.redirect_uri,
        request.client_state.as_deref(),
        &e,
    )
}
