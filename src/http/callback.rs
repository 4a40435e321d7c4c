//! `GET /oauth/callback`: the upstream sends the user back here. The pending request is taken by
//! the upstream `state` (single use), the browser binding is checked, the upstream code is
//! exchanged and its ID token verified, and the client gets OUR code on its redirect URI (302).

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use crate::app::AppState;
use crate::http::browser::{found, redirect_error};
use crate::http::cookies;
use crate::http::form::{request_id, Params};
use crate::http::pages::ErrorPage;
use crate::idp::{IdpError, UpstreamLogin};
use crate::oauth::authorize::{code_redirect_url, error_redirect_url};
use crate::oauth::flow::secrets::{secrets_aad, UpstreamSecrets};
use crate::oauth::login::{finish_login, upstream_tokens_aad, UpstreamUser};
use crate::oauth::{crypto, policy, Error};
use crate::store::{AuditEvent, AuthRequestRecord};

/// Callback routes (no CORS).
pub fn routes() -> Router<AppState> {
    Router::new().route("/oauth/callback", get(callback))
}

fn page(
    app: &AppState,
    status: StatusCode,
    title: &str,
    message: &str,
    code: Option<&str>,
    rid: Option<&str>,
    return_url: Option<&str>,
) -> Response {
    app.pages.error(
        status,
        &ErrorPage {
            title,
            message,
            code,
            request_id: rid,
            return_url,
        },
    )
}

/// An error page with no OAuth error code and no way back to the client.
fn notice(
    app: &AppState,
    status: StatusCode,
    title: &str,
    message: &str,
    rid: Option<&str>,
) -> Response {
    page(app, status, title, message, None, rid, None)
}

async fn callback(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let rid = request_id(&headers);
    let rid = rid.as_deref();
    let Ok(params) = Params::parse(q.unwrap_or_default().as_bytes()) else {
        return notice(
            &app,
            StatusCode::BAD_REQUEST,
            "Invalid sign-in response",
            "The response from the identity provider was malformed.",
            rid,
        );
    };
    if params.reject_duplicates(&[]).is_err() {
        return notice(
            &app,
            StatusCode::BAD_REQUEST,
            "Invalid sign-in response",
            "The response from the identity provider repeated a parameter.",
            rid,
        );
    }
    let Some(state) = params.get("state") else {
        return notice(
            &app,
            StatusCode::BAD_REQUEST,
            "Invalid sign-in response",
            "The response from the identity provider carried no state.",
            rid,
        );
    };
    let now = app.core.now();
    let request = match app
        .core
        .store
        .take_auth_request_by_state(&crypto::hash(state), now)
        .await
    {
        Ok(Some(r)) => r,
        Ok(None) => {
            return notice(
                &app,
                StatusCode::BAD_REQUEST,
                "This sign-in has expired or was already used",
                "Start again from your application.",
                rid,
            )
        }
        Err(e) => {
            crate::http::error::log(&e.into());
            return notice(
                &app,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "Try again later.",
                rid,
            );
        }
    };
    let secure = app.core.settings.issuer.starts_with("https://");
    let bound = cookies::read(&headers, secure).is_some_and(|b| {
        crypto::ct_eq(crypto::hash(&b).as_bytes(), request.browser_hash.as_bytes())
    });
    if !bound {
        // Login CSRF / confused deputy: the response reached a browser that did not start it.
        audit_failure(&app, &request, "browser_binding_mismatch", rid).await;
        return notice(&app, StatusCode::FORBIDDEN, "Sign-in refused", "This sign-in was started in a different browser. Start again from your application in this browser.", rid);
    }
    let result = match exchange(&app, &request, &params).await {
        Ok(login) => match check_policy(&app, &request, &login) {
            Ok(()) => issue(&app, &request, &login, rid)
                .await
                .map_err(Failure::from),
            Err(refused) => Err(refused),
        },
        Err(e) => Err(Failure::from(e)),
    };
    match result {
        Ok(code) => {
            let url = code_redirect_url(
                &request.redirect_uri,
                &code,
                request.client_state.as_deref(),
                &app.core.settings.issuer,
            );
            found(&url)
        }
        Err(Failure { error: e, reason }) => {
            audit_failure(&app, &request, reason.unwrap_or(e.code()), rid).await;
            let return_url = error_redirect_url(
                &request.redirect_uri,
                &e,
                request.client_state.as_deref(),
                &app.core.settings.issuer,
            );
            if matches!(e, Error::Server(_)) {
                crate::http::error::log(&e);
                return redirect_error(
                    &app,
                    &request.redirect_uri,
                    request.client_state.as_deref(),
                    &e,
                );
            }
            crate::http::error::log(&e);
            let message = e.description().unwrap_or("The sign-in failed.");
            page(
                &app,
                StatusCode::BAD_REQUEST,
                "Sign-in did not complete",
                message,
                Some(e.code()),
                rid,
                Some(&return_url),
            )
        }
    }
}

/// The upstream half: checks the response's issuer and error, redeems the upstream code, and
/// verifies the ID token.
async fn exchange(
    app: &AppState,
    request: &AuthRequestRecord,
    params: &Params,
) -> Result<UpstreamLogin, Error> {
    let idp = &app
        .core
        .upstreams
        .get(&request.upstream_id)
        .ok_or_else(|| {
            Error::server(anyhow::anyhow!(
                "upstream {} is not configured",
                request.upstream_id
            ))
        })?
        .idp;
    // RFC 9207 §2.4 (mix-up defence), for error responses too: `iss`, when sent, must equal the
    // issuer of the upstream's discovery document; when that document advertises
    // `authorization_response_iss_parameter_supported`, a response without `iss` is refused.
    let expected = idp.issuer_identification().await.map_err(idp_error)?;
    match params.get("iss") {
        // Exact string comparison; the one tolerance: a discovery issuer ending in `/` also
        // accepts `iss` without that slash.
        Some(iss) if iss != expected.issuer && expected.issuer.strip_suffix('/') != Some(iss) => {
            return Err(Error::AccessDenied(
                "the identity provider's response came from an unexpected issuer".into(),
            ));
        }
        None if expected.iss_required => {
            return Err(Error::AccessDenied(
                "the identity provider's response did not identify its issuer".into(),
            ));
        }
        _ => {}
    }
    if let Some(err) = params.get("error") {
        let detail = params.get("error_description").unwrap_or("");
        // Debug formatting: the upstream's text must not forge log lines either.
        tracing::info!(upstream_error = ?err, description = ?detail, "upstream returned an error");
        // The upstream's own words stay in the log: its `error_description` is never passed on,
        // and its error code only when it looks like one (RFC 6749 §4.1.2.1 error codes).
        return Err(match err {
            "access_denied" => Error::AccessDenied(
                "sign-in was cancelled or refused at the identity provider".into(),
            ),
            "temporarily_unavailable" | "server_error" => Error::TemporarilyUnavailable(
                "the identity provider could not complete the sign-in".into(),
            ),
            code if is_error_code(code) => Error::AccessDenied(format!(
                "the identity provider refused the sign-in ({code})"
            )),
            _ => Error::AccessDenied("the identity provider refused the sign-in".into()),
        });
    }
    let code = params.get("code").ok_or_else(|| {
        Error::AccessDenied("the identity provider returned neither a code nor an error".into())
    })?;
    let sealed = request
        .upstream
        .as_ref()
        .ok_or_else(|| Error::server(anyhow::anyhow!("approved request without upstream leg")))?;
    let plain = app
        .core
        .cipher
        .open(&sealed.sealed, &secrets_aad(&request.id_hash))
        .map_err(Error::server)?;
    let secrets: UpstreamSecrets = serde_json::from_slice(&plain).map_err(Error::server)?;
    idp.exchange_code(code, &secrets.pkce_verifier, &secrets.nonce)
        .await
        .map_err(idp_error)
}

/// An upstream error code worth naming to the client: a short lowercase token, as the RFC 6749
/// and OIDC codes are.
fn is_error_code(code: &str) -> bool {
    (1..=64).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

/// The access policy, after the ID token verified and before any code of ours exists.
fn check_policy(
    app: &AppState,
    request: &AuthRequestRecord,
    login: &UpstreamLogin,
) -> Result<(), Failure> {
    let Some(up) = app.core.upstreams.get(&request.upstream_id) else {
        return Ok(());
    };
    let subject = policy::Subject {
        email: login.identity.email.as_deref(),
        email_verified: login.identity.email_verified,
        groups: &login.identity.groups,
    };
    policy::check(&up.policy, subject).map_err(|refusal| {
        tracing::info!(upstream = %request.upstream_id, reason = refusal.as_str(), "sign-in refused by the access policy");
        Failure {
            error: refusal.to_error(),
            reason: Some(refusal.as_str()),
        }
    })
}

/// Our half: records the user, consent and grant, keeps the upstream tokens sealed, and mints
/// our code.
async fn issue(
    app: &AppState,
    request: &AuthRequestRecord,
    login: &UpstreamLogin,
    rid: Option<&str>,
) -> Result<String, Error> {
    let user = UpstreamUser {
        upstream_id: request.upstream_id.clone(),
        issuer: login.identity.issuer.clone(),
        subject: login.identity.subject.clone(),
        email: login.identity.email.clone(),
        name: login.identity.name.clone(),
        groups: login.identity.groups.clone(),
    };
    let aad = upstream_tokens_aad(
        &request.upstream_id,
        &user.subject,
        &request.client_id,
        &request.resource,
    );
    let sealed_tokens = app
        .core
        .cipher
        .seal(login.tokens.to_json().as_bytes(), &aad)
        .map_err(Error::server)?;
    finish_login(
        &app.core,
        request,
        &user,
        Some(sealed_tokens),
        rid.map(str::to_owned),
    )
    .await
}

/// A failed completion: what the client is told, and a more precise reason for the audit log.
struct Failure {
    error: Error,
    reason: Option<&'static str>,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Self {
            error,
            reason: None,
        }
    }
}

/// Maps upstream failures to what the client is told; the cause is logged, not shown.
fn idp_error(e: IdpError) -> Error {
    tracing::warn!(error = %e, "upstream code exchange failed");
    match e {
        IdpError::Unavailable(_) | IdpError::Discovery(_) => Error::TemporarilyUnavailable(
            "the identity provider cannot be reached right now".into(),
        ),
        IdpError::Rejected { .. } => {
            Error::AccessDenied("the identity provider rejected the sign-in".into())
        }
        IdpError::InvalidIdToken(_) => {
            Error::AccessDenied("the identity provider's ID token failed verification".into())
        }
        IdpError::Config(msg) => Error::server(anyhow::anyhow!("upstream configuration: {msg}")),
    }
}

async fn audit_failure(
    app: &AppState,
    request: &AuthRequestRecord,
    reason: &str,
    rid: Option<&str>,
) {
    let event = AuditEvent::new("login_failed", app.core.now())
        .client(request.client_id.clone())
        .request(rid.map(str::to_owned))
        .detail(&serde_json::json!({ "reason": reason, "upstream": request.upstream_id }));
    if let Err(e) = app.core.store.insert_audit_event(&event).await {
        tracing::warn!(error = %e, "audit write failed");
    }
}
