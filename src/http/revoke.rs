//! `POST /revoke`: RFC 7009 token revocation. The client authenticates as at /token; any
//! token, valid or not, answers 200 (§2.2) so revocation cannot be used to probe tokens.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;

use crate::app::AppState;
use crate::http::error::no_store;
use crate::http::form::{client_credentials, request_id, require_form, Params};
use crate::oauth::client_auth::authenticate_client;
use crate::oauth::{revoke, Error};

/// Revocation routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/revoke", post(revoke_token))
}

async fn revoke_token(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Error> {
    require_form(&headers)?;
    let form = Params::parse(&body)?;
    form.reject_duplicates(&[])?;
    let creds = client_credentials(&headers, &form)?;
    let client = authenticate_client(app.core.clients.as_ref(), &creds).await?;
    let token = form
        .get("token")
        .ok_or_else(|| Error::InvalidRequest("token is required".into()))?;
    revoke::revoke(
        &app.core,
        &client,
        token,
        form.get("token_type_hint"),
        request_id(&headers),
    )
    .await?;
    Ok(no_store(StatusCode::OK.into_response()))
}
