//! `GET /oauth/callback`: the upstream sends the user back here. Reads the upstream's response
//! and the binding cookie; the flow completes the sign-in ([`crate::oauth::flow`]) and the
//! client gets OUR code on its redirect URI (302), or the one browser-error mapping answers.

use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use crate::app::AppState;
use crate::http::browser::{answer, found};
use crate::http::cookies;
use crate::http::form::{request_id, Params};
use crate::oauth::flow::{CallbackParams, Completed, Notice};

/// Callback routes (no CORS).
pub fn routes() -> Router<AppState> {
    Router::new().route("/oauth/callback", get(callback))
}

async fn callback(
    State(app): State<AppState>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    let rid = request_id(&headers);
    let Ok(params) = Params::parse(q.unwrap_or_default().as_bytes()) else {
        return answer(&app, rid.as_deref(), Notice::MalformedResponse.into());
    };
    if params.reject_duplicates(&[]).is_err() {
        return answer(&app, rid.as_deref(), Notice::RepeatedParameter.into());
    }
    let Some(state) = params.get("state") else {
        return answer(&app, rid.as_deref(), Notice::NoState.into());
    };
    let secure = app.core.settings.issuer.starts_with("https://");
    let get = |k: &str| params.get(k).map(str::to_owned);
    let completed = app
        .core
        .flow()
        .complete_callback(CallbackParams {
            state: state.to_owned(),
            iss: get("iss"),
            code: get("code"),
            error: get("error"),
            error_description: get("error_description"),
            browser: cookies::read(&headers, secure),
            request_id: rid.clone(),
        })
        .await;
    match completed {
        Ok(Completed::Client(url)) => found(&url),
        // A first-party sign-in to /account (same callback URL at the upstream, COMPAT U1).
        Ok(Completed::Account(user)) => {
            crate::http::account_cookie::signed_in(&app, &user, rid.as_deref()).await
        }
        Err(refused) => answer(&app, rid.as_deref(), refused),
    }
}
