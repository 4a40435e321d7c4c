//! `POST /token`: authenticates the client (none, client_secret_post, client_secret_basic,
//! private_key_jwt) and runs the `authorization_code`, `refresh_token`, token exchange
//! (RFC 8693), `client_credentials` or `jwt-bearer` (ID-JAG) grant. JSON out, `no-store` always.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};

use crate::app::AppState;
use crate::http::error::no_store;
use crate::http::form::{client_credentials, request_id, require_form, Params};
use crate::oauth::client_assertion::authenticate_client;
use crate::oauth::grants::{
    authorization_code, client_credentials as machine, jwt_bearer, refresh_token, token_exchange,
};
use crate::oauth::Error;

/// Token routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/token", post(token))
}

async fn token(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Error> {
    let mut client_id = None;
    let result = grant(&app, &headers, &body, &mut client_id).await;
    // Why did this client's connection fail: the admin API shows it (issue 14). Built before
    // the await: the error is not `Sync`, so no borrow of it may live across one.
    let refused = match (&result, client_id) {
        (Err(e), Some(client_id)) => Some((
            client_id,
            match e.description() {
                Some(d) => format!("token request refused: {}: {d}", e.code()),
                None => format!("token request refused: {}", e.code()),
            },
        )),
        _ => None,
    };
    if let Some((client_id, reason)) = refused {
        crate::oauth::record_client_error(&app.core, &client_id, &reason, app.core.now()).await;
    }
    result
}

/// The token request proper; `client_id` is set once the client is authenticated.
async fn grant(
    app: &AppState,
    headers: &HeaderMap,
    body: &Bytes,
    client_id: &mut Option<String>,
) -> Result<Response, Error> {
    require_form(headers)?;
    let form = Params::parse(body)?;
    // RFC 8707 `resource` and RFC 8693 `audience` may repeat.
    form.reject_duplicates(&["resource", "audience"])?;
    let creds = client_credentials(headers, &form)?;
    let client = authenticate_client(&app.core, &creds).await?;
    *client_id = Some(client.client_id.clone());
    let rid = request_id(headers);
    let resource = form.all("resource");
    let response = match form.get("grant_type") {
        Some("authorization_code") => {
            let code = form
                .get("code")
                .ok_or_else(|| Error::InvalidRequest("code is required".into()))?;
            authorization_code::exchange(
                &app.core,
                &client,
                code,
                form.get("redirect_uri"),
                form.get("code_verifier"),
                &resource,
                rid,
            )
            .await
            .inspect_err(|e| crate::metrics::token_failed("authorization_code", e))?
        }
        Some("refresh_token") => {
            if !client.grant_types.iter().any(|g| g == "refresh_token") {
                return Err(Error::UnauthorizedClient(
                    "this client is not registered for the refresh_token grant".into(),
                ));
            }
            let token = form
                .get("refresh_token")
                .ok_or_else(|| Error::InvalidRequest("refresh_token is required".into()))?;
            refresh_token::refresh(&app.core, &client, token, form.get("scope"), &resource, rid)
                .await
                .inspect_err(|e| crate::metrics::token_failed("refresh_token", e))?
        }
        Some(token_exchange::GRANT_TYPE) => {
            let req = token_exchange::ExchangeRequest {
                subject_token: form.get("subject_token"),
                subject_token_type: form.get("subject_token_type"),
                requested_token_type: form.get("requested_token_type"),
                actor_token: form.get("actor_token"),
                actor_token_type: form.get("actor_token_type"),
                resource: resource.clone(),
                audience: form.all("audience"),
                scope: form.get("scope"),
            };
            let exchanged = token_exchange::exchange(&app.core, &client, &req, rid)
                .await
                .inspect_err(|e| crate::metrics::token_failed("token_exchange", e))?;
            return Ok(no_store(Json(exchanged).into_response()));
        }
        Some("client_credentials") => {
            machine::issue(&app.core, &client, form.get("scope"), &resource, rid)
                .await
                .inspect_err(|e| crate::metrics::token_failed("client_credentials", e))?
        }
        Some(jwt_bearer::GRANT_TYPE) if !app.core.settings.enterprise_idps.is_empty() => {
            jwt_bearer::exchange(
                &app.core,
                &client,
                form.get("assertion"),
                form.get("scope"),
                &resource,
                rid,
            )
            .await
            .inspect_err(|e| crate::metrics::token_failed("jwt-bearer", e))?
        }
        Some(other) => {
            return Err(Error::UnsupportedGrantType(format!(
                "grant_type {other} is not supported; use authorization_code or refresh_token \
                 (grant_types_supported in this server's metadata lists what else it enables)"
            )))
        }
        None => return Err(Error::InvalidRequest("grant_type is required".into())),
    };
    // Client use (last_used_at) is recorded once, by the grant that issued the tokens.
    Ok(no_store(Json(response).into_response()))
}
