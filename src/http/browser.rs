//! The one place the authorization flow's answers become browser responses: every
//! [`FlowError`] to a page or a redirect (logged here, once, inside the request span), and the
//! flow's redirects (302 to the client, 303 upstream).

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use crate::app::AppState;
use crate::http::pages::{ErrorPage, ReturnLink};
use crate::oauth::authorize::error_redirect_url;
use crate::oauth::flow::{display_host, FlowError, Notice};
use crate::oauth::Error;

/// The browser's answer to a flow that cannot go on.
pub fn answer(app: &AppState, rid: Option<&str>, refused: FlowError) -> Response {
    let issuer = &app.core.settings.issuer;
    match refused {
        FlowError::Notice(notice) => {
            tracing::debug!(?notice, "flow refused");
            let (status, title, message) = notice_text(notice);
            page(app, status, title, message, None, rid, None)
        }
        FlowError::Page(e) => {
            log(&e);
            let (status, message) = status_and_message(&e);
            page(
                app,
                status,
                CANNOT_CONTINUE,
                message,
                Some(e.code()),
                rid,
                None,
            )
        }
        // The database is away (oauth::Error from an unavailable store): a 503 page that says
        // to retry, not a 500.
        FlowError::Internal(e @ crate::oauth::Error::TemporarilyUnavailable(_)) => {
            log(&e);
            page(
                app,
                StatusCode::SERVICE_UNAVAILABLE,
                "Temporarily unavailable",
                "The service is temporarily unavailable. Try again in a moment.",
                Some(e.code()),
                rid,
                None,
            )
        }
        FlowError::Internal(e) => {
            log(&e);
            page(
                app,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "The request could not be completed. Try again later.",
                None,
                rid,
                None,
            )
        }
        FlowError::Redirect {
            redirect_uri,
            state,
            error,
            iss,
        } => {
            log(&error);
            found(&error_redirect_url(
                &redirect_uri,
                &error,
                state.as_deref(),
                iss.then_some(issuer.as_str()),
            ))
        }
        // RFC 9700 §4.11.2 "inform the user": our error page, with the client's error response
        // as a link the user may choose (showing where it leads), never an automatic redirect
        // (no 302, no meta refresh, no script), so a link to `/authorize` cannot bounce
        // through us to a host anyone could register.
        FlowError::Inform {
            redirect_uri,
            state,
            error,
            iss,
        } => {
            log(&error);
            let (status, message) = status_and_message(&error);
            let url = error_redirect_url(
                &redirect_uri,
                &error,
                state.as_deref(),
                iss.then_some(issuer.as_str()),
            );
            app.pages.error_with_link(
                status,
                &ErrorPage {
                    title: CANNOT_CONTINUE,
                    message,
                    code: Some(error.code()),
                    request_id: rid,
                    return_url: None,
                },
                &ReturnLink {
                    url: &url,
                    host: &display_host(&redirect_uri),
                },
            )
        }
        // After the upstream sign-in the user chose this client: the page returns to it.
        FlowError::Return {
            redirect_uri,
            state,
            error,
            iss,
        } => {
            log(&error);
            let url = error_redirect_url(
                &redirect_uri,
                &error,
                state.as_deref(),
                iss.then_some(issuer.as_str()),
            );
            // The IdP cannot be reached (at the consent or the callback): a 503 that names the
            // cause and says to retry, while the client hears `temporarily_unavailable`.
            let (status, title, message) = match &error {
                Error::TemporarilyUnavailable(_) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Sign-in service unavailable",
                    "The identity provider cannot be reached right now, so the sign-in cannot \
                     go on. Nothing was changed; try again in a few minutes.",
                ),
                _ => (
                    StatusCode::BAD_REQUEST,
                    "Sign-in did not complete",
                    error.description().unwrap_or("The sign-in failed."),
                ),
            };
            page(
                app,
                status,
                title,
                message,
                Some(error.code()),
                rid,
                Some(&url),
            )
        }
    }
}

const CANNOT_CONTINUE: &str = "This sign-in request cannot continue";

/// Internal causes at error level; everything else is the client's or the user's business (the
/// flow logged any upstream cause where it happened).
fn log(e: &Error) {
    match e {
        Error::Server(source) => tracing::error!(error = %format!("{source:#}"), "internal error"),
        other => tracing::debug!(
            error = other.code(),
            description = other.description(),
            "flow refused"
        ),
    }
}

fn notice_text(notice: Notice) -> (StatusCode, &'static str, &'static str) {
    const BAD: StatusCode = StatusCode::BAD_REQUEST;
    const FORBIDDEN: StatusCode = StatusCode::FORBIDDEN;
    const INVALID_RESPONSE: &str = "Invalid sign-in response";
    match notice {
        Notice::MalformedForm => (BAD, "Invalid form", "The consent form was malformed."),
        Notice::IncompleteForm => (BAD, "Invalid form", "The consent form was incomplete."),
        Notice::UnknownDecision => (BAD, "Invalid form", "Unknown decision."),
        Notice::CrossSite => (
            FORBIDDEN,
            "Request refused",
            "The form was submitted from another site.",
        ),
        Notice::NotThisBrowser => (
            FORBIDDEN,
            "Request refused",
            "This consent form does not belong to this browser session. Start again from your application.",
        ),
        Notice::UnknownUpstream => (
            BAD,
            "Invalid form",
            "The chosen identity provider is not offered for this sign-in. Start again from your application.",
        ),
        Notice::NoUpstreamChosen => (
            BAD,
            "Invalid form",
            "Choose the identity provider to sign in with.",
        ),
        Notice::RequestExpired => (
            BAD,
            "This sign-in request has expired",
            "It was already answered or is too old. Start again from your application.",
        ),
        Notice::MalformedResponse => (
            BAD,
            INVALID_RESPONSE,
            "The response from the identity provider was malformed.",
        ),
        Notice::RepeatedParameter => (
            BAD,
            INVALID_RESPONSE,
            "The response from the identity provider repeated a parameter.",
        ),
        Notice::NoState => (
            BAD,
            INVALID_RESPONSE,
            "The response from the identity provider carried no state.",
        ),
        Notice::SignInExpired => (
            BAD,
            "This sign-in has expired or was already used",
            "Start again from your application.",
        ),
        Notice::OtherBrowser => (
            FORBIDDEN,
            "Sign-in refused",
            "This sign-in was started in a different browser. Start again from your application in this browser.",
        ),
    }
}

/// The status and message of a page naming an OAuth error.
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

/// An error page without a link to a client (`code`: the OAuth error it names, if any).
pub(crate) fn page(
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

/// A 302 Found to `url` (COMPAT C7: claude.ai needs 302, not 303 or 307).
#[must_use]
pub fn found(url: &str) -> Response {
    redirect(StatusCode::FOUND, url)
}

/// A 303 See Other to the upstream (RFC 9700 §4.12: after a POST, so the form body is not
/// re-sent).
#[must_use]
pub fn see_other(url: &str) -> Response {
    redirect(StatusCode::SEE_OTHER, url)
}

fn redirect(status: StatusCode, url: &str) -> Response {
    match HeaderValue::from_str(url) {
        Ok(v) => {
            let mut res = status.into_response();
            res.headers_mut().insert(header::LOCATION, v);
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(_) => Redirect::to("/").into_response(),
    }
}

/// The Origin check (defence in depth beside the CSRF token): absent is tolerated (older
/// browsers), present must be ours.
pub(crate) fn same_origin(headers: &HeaderMap, issuer: &str) -> bool {
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None => true,
        Some(origin) => origin.trim_end_matches('/') == issuer,
    }
}
