//! Browser-facing answers shared by the flow's endpoints (authorize, consent, callback): error
//! redirects to the client, error pages, and sending the browser upstream.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use crate::app::AppState;
use crate::http::pages::ErrorPage;
use crate::idp::UpstreamAuthRequest;
use crate::oauth::flow::secrets::{secrets_aad, UpstreamSecrets};
use crate::oauth::{authorize, crypto, Error};
use crate::store::{AuthRequestRecord, UpstreamLeg};

/// RFC 6749 §4.1.2.1 error redirect with `iss` (RFC 9207); 302 per COMPAT C7.
pub fn redirect_error(
    app: &AppState,
    redirect_uri: &str,
    state: Option<&str>,
    e: &Error,
) -> Response {
    crate::http::error::log(e);
    let url = authorize::error_redirect_url(redirect_uri, e, state, &app.core.settings.issuer);
    found(&url)
}

/// A 302 Found to `url` (COMPAT C7: claude.ai needs 302, not 303 or 307).
#[must_use]
pub fn found(url: &str) -> Response {
    match HeaderValue::from_str(url) {
        Ok(v) => {
            let mut res = StatusCode::FOUND.into_response();
            res.headers_mut().insert(header::LOCATION, v);
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(_) => Redirect::to("/").into_response(),
    }
}

/// An error page with no OAuth error code and no way back to the client.
pub fn refuse(
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

/// An internal failure as a page (the cause is logged, not shown).
pub fn page_error(app: &AppState, e: &Error, rid: Option<&str>) -> Response {
    crate::http::error::log(e);
    refuse(
        app,
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "The request could not be completed. Try again later.",
        rid,
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
    let Some(idp) = app.core.upstreams.get(&request.upstream_id).map(|u| &u.idp) else {
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
