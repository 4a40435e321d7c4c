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
use crate::oauth::{crypto, Error};
use crate::store::{AuditEvent, ClientKind, ClientRecord, StoreError};

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
    let reg = &app.core.settings.registration;
    let request_id = request_id(&headers);
    let applicant = Applicant {
        bearer: authorization(&headers, "Bearer"),
        request_id: request_id.as_deref(),
    };
    registration_policy::gate(reg, applicant)
        .inspect_err(|e| metrics::registration_refused("dcr", e))?;
    let req =
        parse_body(&headers, &body).inspect_err(|e| metrics::registration_refused("dcr", e))?;
    let now = app.core.now();
    let new = registration::register(req, &app.core.settings, reg.max_redirect_uris, now)
        .inspect_err(|e| metrics::registration_refused("dcr", e))?;
    let audit = AuditEvent::new("registered", now)
        .actor(new.record.client_id.clone())
        .client(new.record.client_id.clone())
        .request(request_id.clone())
        .detail(&registration::audit_summary(&new.record));
    registration_policy::admit_and_store(
        app.core.store.as_ref(),
        reg,
        applicant,
        &new.record,
        audit,
        now,
    )
    .await?;
    tracing::info!(client_id = %new.record.client_id, "client registered");
    metrics::registration("dcr", "registered");
    let body = registration::registration_response(
        &new.record,
        new.client_secret.as_deref(),
        Some(&new.registration_access_token),
        &app.core.settings.issuer,
    );
    Ok(no_store((StatusCode::CREATED, Json(body)).into_response()))
}

/// RFC 7592 §2: the registration access token authorises access to one client's configuration.
/// Unknown clients and bad tokens both answer 401 so that client ids cannot be probed.
/// Returns the client and the token that authorised the request.
///
/// Only dynamically registered clients are managed here, and they are read from the store
/// alone, never through the client resolver: a percent-encoded URL in the path must not make
/// us fetch a metadata document, and CIMD clients (managed by their document) and static
/// clients (managed by configuration) have no registration access token. They answer like an
/// unknown client: RFC 7592 §2.1–§2.3 prescribe 401 `invalid_token` when the client does not
/// exist on this server for that token.
async fn authorize_management<'h>(
    app: &AppState,
    headers: &'h HeaderMap,
    client_id: &str,
) -> Result<(ClientRecord, &'h str), Error> {
    let token = authorization(headers, "Bearer")
        .ok_or_else(|| Error::InvalidToken("a registration access token is required".into()))?;
    let client = app
        .core
        .store
        .get_client(client_id)
        .await?
        .filter(|c| c.kind == ClientKind::Dcr && !c.disabled)
        .ok_or_else(|| Error::InvalidToken("invalid registration access token".into()))?;
    let valid = client
        .registration_token_hash
        .as_deref()
        .is_some_and(|h| crypto::ct_eq(h.as_bytes(), crypto::hash(token).as_bytes()));
    if valid {
        Ok((client, token))
    } else {
        Err(Error::InvalidToken(
            "invalid registration access token".into(),
        ))
    }
}

async fn read(
    State(app): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let (client, token) = authorize_management(&app, &headers, &client_id).await?;
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
    let (client, token) = authorize_management(&app, &headers, &client_id).await?;
    let req = parse_body(&headers, &body)?;
    let now = app.core.now();
    let updated = registration::update(
        &client,
        req,
        &app.core.settings,
        app.config.registration.max_redirect_uris,
        now,
    )?;
    let audit = AuditEvent::new("client_updated", now)
        .actor(client_id.clone())
        .client(client_id.clone())
        .request(request_id(&headers))
        .detail(&registration::audit_summary(&updated));
    app.core
        .store
        .update_client(&updated, &audit)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => Error::InvalidToken("invalid registration access token".into()),
            other => other.into(),
        })?;
    let body =
        registration::registration_response(&updated, None, Some(token), &app.core.settings.issuer);
    Ok(no_store(Json(body).into_response()))
}

async fn delete(
    State(app): State<AppState>,
    Path(client_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    authorize_management(&app, &headers, &client_id).await?;
    let now = app.core.now();
    let audit = AuditEvent::new("client_deleted", now)
        .actor(client_id.clone())
        .client(client_id.clone())
        .request(request_id(&headers));
    app.core
        .store
        .delete_client(&client_id, now, &audit)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
