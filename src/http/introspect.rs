//! `POST /introspect`: RFC 7662 for resource servers. Callers authenticate with HTTP Basic as a
//! configured resource (`id:introspection_secret`) and see only tokens issued for that resource,
//! or as a confidential client and see only that client's own tokens (§2.1, §4: the server must
//! not let callers scan other parties' tokens). Everything else reads `{"active": false}`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use secrecy::ExposeSecret as _;

use crate::app::AppState;
use crate::http::error::no_store;
use crate::http::form::{authorization, client_credentials, require_form, Params};
use crate::oauth::client_auth::{authenticate_client, BasicCredentials};
use crate::oauth::introspect::{self, Caller};
use crate::oauth::{crypto, Error};

/// Introspection routes.
pub fn routes() -> Router<AppState> {
    Router::new().route("/introspect", post(introspect_token))
}

/// Resource-server credentials in HTTP Basic, the secret taken raw (RFC 7617) or form-decoded
/// (RFC 6749 §2.3.1). `None` when there is no Basic header or its id names no configured
/// resource (the caller may then be a client); an error when it names one and the secret is
/// wrong or the resource has none. The wire answer never says which part was wrong; the log
/// does.
fn resource_caller(app: &AppState, headers: &HeaderMap) -> Option<Result<String, Error>> {
    let basic = BasicCredentials::parse(authorization(headers, "Basic")?).ok()?;
    let resource = app.config.resources.iter().find(|r| r.id == basic.id)?;
    let refused = || Error::InvalidClient {
        description: "client authentication failed".to_owned(),
        basic: true,
    };
    let Some(expected) = resource.introspection_secret.as_ref() else {
        tracing::warn!(resource = %resource.id, "introspection refused: this resource has no introspection_secret");
        return Some(Err(refused()));
    };
    let expected = expected.expose_secret().as_bytes();
    if basic.secret_matches(|s| crypto::ct_eq(expected, s.as_bytes())) {
        Some(Ok(format!("{}{}", app.core.settings.issuer, resource.path)))
    } else {
        tracing::warn!(resource = %resource.id, "introspection refused: wrong introspection_secret for this resource");
        Some(Err(refused()))
    }
}

async fn introspect_token(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Error> {
    require_form(&headers)?;
    let form = Params::parse(&body)?;
    form.reject_duplicates(&[])?;
    let caller = match resource_caller(&app, &headers) {
        Some(uri) => Caller::Resource(uri?),
        None => {
            let creds = client_credentials(&headers, &form)?;
            let client = authenticate_client(app.core.clients.as_ref(), &creds).await?;
            if client.secret_hash.is_none() {
                return Err(Error::invalid_client(
                    "introspection requires a confidential client or resource credentials",
                ));
            }
            Caller::Client(client.client_id)
        }
    };
    let token = form
        .get("token")
        .ok_or_else(|| Error::InvalidRequest("token is required".into()))?;
    let gw = &app.gateway;
    let memory = introspect::Memory {
        verified: &gw.verified,
        revocations: &gw.revocations,
        users: &gw.users,
        poll_every: std::time::Duration::from_secs(gw.settings.revocation_poll_seconds),
    };
    let answer = introspect::introspect_in_memory(&app.core, memory, token).await?;
    let body = caller.visible(answer);
    Ok(no_store(Json(body).into_response()))
}
