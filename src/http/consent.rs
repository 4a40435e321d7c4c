//! `POST /consent`: the user's decision on the consent page. Accepted only with the form's CSRF
//! token, from the browser that loaded the page (binding cookie) and, when the browser sends one,
//! with our own Origin. Approve → 303 to the upstream with our client, PKCE, state and nonce.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde::{Deserialize, Serialize};

use crate::app::AppState;
use crate::http::authorize::redirect_error;
use crate::http::cookies;
use crate::http::form::{request_id, Params};
use crate::http::pages::ErrorPage;
use crate::idp::UpstreamAuthRequest;
use crate::oauth::{crypto, Error};
use crate::store::{AuditEvent, AuthRequestRecord, UpstreamLeg};

/// Consent routes (no CORS).
pub fn routes() -> Router<AppState> {
    Router::new().route("/consent", post(decide))
}

/// The upstream leg's secrets, sealed into the pending request.
#[derive(Serialize, Deserialize)]
pub struct UpstreamSecrets {
    /// Our PKCE verifier for the upstream.
    pub pkce_verifier: String,
    /// The nonce the upstream ID token must carry.
    pub nonce: String,
}

/// Associated data binding sealed upstream secrets to one pending request.
#[must_use]
pub fn secrets_aad(id_hash: &str) -> Vec<u8> {
    format!("auth_request:{id_hash}").into_bytes()
}

fn refuse(
    app: &AppState,
    status: StatusCode,
    title: &str,
    message: &str,
    rid: Option<&str>,
) -> Response {
    app.pages.error(
        status,
        &ErrorPage {
            title,
            message,
            code: None,
            request_id: rid,
            return_url: None,
        },
    )
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
            let mac = browser.as_ref().map(|b| consent_mac(&app, b, &request));
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

/// The MAC that remembers an approval of this request's client, redirect URI, scope and
/// resource in this browser.
#[must_use]
pub fn consent_mac(app: &AppState, browser: &str, r: &AuthRequestRecord) -> String {
    app.core.cipher.mac(
        "remembered-consent v1",
        &[
            browser,
            &r.client_id,
            &r.redirect_uri,
            &r.scope,
            &r.resource,
        ],
    )
}

/// Whether the client sent `prompt=login` (kept in the pending request's `extra`).
fn wants_login(request: &AuthRequestRecord) -> bool {
    request
        .extra
        .as_deref()
        .and_then(|e| serde_json::from_str::<serde_json::Value>(e).ok())
        .and_then(|v| {
            v.get("prompt")
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
        })
        .is_some_and(|p| p.split(' ').any(|x| x == "login"))
}

/// Records the upstream leg of an approved request and sends the browser upstream (303).
pub async fn approve(app: &AppState, request: AuthRequestRecord, rid: Option<&str>) -> Response {
    let Some(idp) = app.upstream(&request.upstream_id) else {
        let e = Error::server(anyhow::anyhow!(
            "upstream {} is not configured",
            request.upstream_id
        ));
        return redirect_error(
            app,
            &request.redirect_uri,
            request.client_state.as_deref(),
            &e,
        );
    };
    let now = app.core.now();
    let state = crypto::random_b64(32);
    let nonce = crypto::random_b64(32);
    let (pkce_verifier, pkce_challenge) = crate::idp::new_pkce();
    let secrets = UpstreamSecrets {
        pkce_verifier,
        nonce: nonce.clone(),
    };
    let sealed = match serde_json::to_vec(&secrets)
        .map_err(Error::server)
        .and_then(|plain| {
            app.core
                .cipher
                .seal(&plain, &secrets_aad(&request.id_hash))
                .map_err(Error::server)
        }) {
        Ok(s) => s,
        Err(e) => return page_error(app, &e, rid),
    };
    let leg = UpstreamLeg {
        state_hash: crypto::hash(&state),
        sealed,
        expires_at: now + app.core.settings.tokens.authorization_request_ttl,
    };
    match app
        .core
        .store
        .approve_auth_request(&request.id_hash, &leg, now)
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            return refuse(
                app,
                StatusCode::BAD_REQUEST,
                "This sign-in request has expired",
                "It was already answered or is too old. Start again from your application.",
                rid,
            )
        }
        Err(e) => return page_error(app, &e.into(), rid),
    }
    let url = match idp
        .authorization_url(&UpstreamAuthRequest {
            state,
            nonce,
            pkce_challenge,
            force_login: wants_login(&request),
        })
        .await
    {
        Ok(u) => u,
        Err(e) => {
            let err = Error::TemporarilyUnavailable(
                "the identity provider cannot be reached right now".into(),
            );
            tracing::warn!(upstream = %request.upstream_id, error = %e, "upstream authorization URL failed");
            return redirect_error(
                app,
                &request.redirect_uri,
                request.client_state.as_deref(),
                &err,
            );
        }
    };
    // RFC 9700 §4.12: after a POST, redirect with 303 so the form body is not re-sent.
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(url.as_str()) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
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

fn page_error(app: &AppState, e: &Error, rid: Option<&str>) -> Response {
    crate::http::error::log(e);
    refuse(
        app,
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "The request could not be completed. Try again later.",
        rid,
    )
}
