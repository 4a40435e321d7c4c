//! RFC 7591 dynamic client registration and RFC 7592 client configuration (read, update,
//! delete with the registration access token).
//!
//! RFC 7592 §3 makes `registration_access_token` and `registration_client_uri` REQUIRED in the
//! read and update responses too. We store only the token's hash, so those responses echo the
//! token the request presented rather than rotate it: a rotation on every read would let two
//! concurrent reads lock the client out of its own configuration, and the echo shows the
//! client nothing it did not just send (the response is `no-store`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use crate::app::AppState;
use crate::http::error::no_store;
use crate::http::form::{authorization, request_id};
use crate::metrics;
use crate::oauth::registration::{self, RegistrationRequest};
use crate::oauth::registration_policy::{self, Applicant};
use crate::oauth::{client_registration, Error};
use crate::store::ClientRecord;

/// Registration routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/register", post(register)).route(
        "/register/{client_id}",
        get(read).put(update).delete(delete),
    )
}

/// Parses the JSON body; an empty body counts as `{}` (COMPAT C5: minimal bodies get defaults).
fn parse_body(headers: &HeaderMap, body: &Bytes) -> Result<RegistrationRequest, Error> {
    let json_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            let v = v.trim().to_ascii_lowercase();
            v == "application/json" || v.ends_with("+json")
        });
    if !body.is_empty() && !json_type {
        return Err(Error::InvalidClientMetadata(
            "the registration request must be application/json (RFC 7591 section 3.1)".into(),
        ));
    }
    let value: serde_json::Value = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::json!({})
    } else {
        serde_json::from_slice(body)
            .map_err(|e| Error::InvalidClientMetadata(format!("body is not valid JSON: {e}")))?
    };
    if !value.is_object() {
        return Err(Error::InvalidClientMetadata(
            "the registration request must be a JSON object".into(),
        ));
    }
    RegistrationRequest::from_json(value)
}

/// RFC 7591 §3.1 registration under the configured policy (`oauth::registration_policy`):
/// the mode is checked before the body is read, the token's use, the cap and the insert are
/// one transaction. The initial access token is read from `Authorization: Bearer` only (RFC
/// 6750 §2.1); a token in the query string or body is ignored.
async fn register(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Error> {
    let request_id = request_id(&headers);
    let applicant = Applicant {
        bearer: authorization(&headers, "Bearer"),
        request_id: request_id.as_deref(),
    };
    registration_policy::gate(&app.core.settings.registration, applicant)
        .inspect_err(|e| metrics::registration_refused("dcr", e))?;
    let req =
        parse_body(&headers, &body).inspect_err(|e| metrics::registration_refused("dcr", e))?;
    let new = client_registration::register(&app.core, applicant, req).await?;
    let body = registration::registration_response(
        &new.record,
        new.client_secret.as_deref(),
        Some(&new.registration_access_token),
        &app.core.settings.issuer,
    );
    Ok(no_store((StatusCode::CREATED, Json(body)).into_response()))
}

/// The registration access token of a management request (RFC 7592 §2) and the client it
/// authorises.
async fn managed<'h>(
    app: &AppState,
    headers: &'h HeaderMap,
    client_id: &str,
) -> Result<(ClientRecord, &'h str), Error> {
    let token = authorization(headers, "Bearer");
    let client = client_registration::authorize_management(&app.core, token, client_id).await?;
    // authorize_management refused a missing token, so it is there.
    Ok((client, token.unwrap_or_default()))
}

async fn read(
    State(app): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let (client, token) = managed(&app, &headers, &client_id).await?;
    let body =
        registration::registration_response(&client, None, Some(token), &app.core.settings.issuer);
    Ok(no_store(Json(body).into_response()))
}

async fn update(
    State(app): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Error> {
    let (client, token) = managed(&app, &headers, &client_id).await?;
    let req = parse_body(&headers, &body)?;
    let updated =
        client_registration::update(&app.core, &client, req, request_id(&headers)).await?;
    let body =
        registration::registration_response(&updated, None, Some(token), &app.core.settings.issuer);
    Ok(no_store(Json(body).into_response()))
}

async fn delete(
    State(app): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    managed(&app, &headers, &client_id).await?;
    client_registration::delete(&app.core, &client_id, request_id(&headers)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
