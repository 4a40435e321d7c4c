//! `POST /consent`: the user's decision on the consent page. Reads the form, the Origin and the
//! binding cookie; the flow checks them against the pending request. Approve → 303 upstream
//! (and, when asked, the cookies that remember the approval); everything else goes through the
//! one browser-error mapping.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::Response;
use axum::routing::post;
use axum::Router;

use crate::app::AppState;
use crate::http::browser::{answer, same_origin, see_other};
use crate::http::cookies;
use crate::http::form::{request_id, Params};
use crate::oauth::flow::{Decision, Notice};

/// Consent routes (no CORS).
pub fn routes() -> Router<AppState> {
    Router::new().route("/consent", post(decide))
}

async fn decide(State(app): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let rid = request_id(&headers);
    let Ok(form) = Params::parse(&body) else {
        return answer(&app, rid.as_deref(), Notice::MalformedForm.into());
    };
    // A "Sign in with …" button of the chooser posts `upstream` and approves.
    let upstream = form.get("upstream");
    let decision = form.get("decision").or_else(|| upstream.map(|_| "approve"));
    let (Some(consent_id), Some(csrf), Some(decision)) =
        (form.get("consent_id"), form.get("csrf_token"), decision)
    else {
        return answer(&app, rid.as_deref(), Notice::IncompleteForm.into());
    };
    if !same_origin(&headers, &app.core.settings.issuer) {
        return answer(&app, rid.as_deref(), Notice::CrossSite.into());
    }
    let secure = app.core.settings.issuer.starts_with("https://");
    let browser = cookies::read(&headers, secure);
    let decided = app
        .core
        .flow()
        .decide(Decision {
            consent_id: consent_id.to_owned(),
            csrf_token: csrf.to_owned(),
            decision: decision.to_owned(),
            upstream: upstream.map(str::to_owned),
            remember: form.get("remember") == Some("1"),
            browser: browser.clone(),
            request_id: rid.clone(),
        })
        .await;
    let approved = match decided {
        Ok(a) => a,
        Err(refused) => return answer(&app, rid.as_deref(), refused),
    };
    let mut res = see_other(&approved.upstream_url);
    if let (Some(mac), Some(browser)) = (approved.remember, browser) {
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
