//! The user's upstream access token for the MCP server, as a header (`[[resources]]
//! upstream_token_header`, issue 13 item 5): `Bearer <token>` from the token vault on every
//! forwarded request, refreshed upstream first when it expires within
//! [`HANDOUT_MARGIN`](crate::oauth::grants::token_exchange::HANDOUT_MARGIN) (the vault's lease,
//! shared with our refresh and token exchange). A client-sent header of that name is always
//! stripped (`Route::strip`), so the MCP server can trust it came from here.
//!
//! Unlike the rest of the per-request check this reads the database (the grant's sealed tokens):
//! once per request of a resource that has the header configured, none for the others.

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse as _, Response};
use secrecy::ExposeSecret as _;

use super::auth::{refuse, Refusal};
use super::proxy::gateway_error;
use crate::metrics::{upstream_token_handout, Handout};
use crate::oauth::grants::token_exchange::{usable_for, HANDOUT_MARGIN};
use crate::oauth::tokens::AccessClaims;
use crate::oauth::{vault, Core, Error, Resource};

/// The header value for the user behind `claims` (an access token the gateway accepted for
/// `resource`), or the answer to send the MCP client instead: 401 `invalid_token` when the
/// sign-in holds no usable upstream token any more (the client refreshes, and is sent to sign
/// in again if the IdP ended it), 503 when the upstream cannot refresh it now.
///
/// # Errors
/// The refusal as a response.
pub async fn header_value(
    core: &Core,
    resource: &Resource,
    claims: &AccessClaims,
    request_id: Option<&str>,
) -> Result<HeaderValue, Box<Response>> {
    let result = value(core, claims, request_id).await;
    upstream_token_handout(Handout::Gateway, result.as_ref().map(|_| ()));
    result.map_err(|e| {
        Box::new(match e {
            Error::InvalidGrant(_) | Error::InvalidToken(_) => {
                refuse(core, resource, &Refusal::Invalid)
            }
            Error::TemporarilyUnavailable(d) => gateway_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                &d,
            ),
            other => other.into_response(),
        })
    })
}

async fn value(
    core: &Core,
    claims: &AccessClaims,
    request_id: Option<&str>,
) -> Result<HeaderValue, Error> {
    let ended = || Error::InvalidToken("the access token's grant is no longer active".to_owned());
    // The revocation cache may lag by a poll; the grant read here is current.
    let view = core
        .store
        .get_access_token(&claims.jti)
        .await?
        .filter(|v| {
            v.token.revoked_at.is_none()
                && v.family_revoked_at.is_none()
                && v.grant.revoked_at.is_none()
        })
        .ok_or_else(ended)?;
    let tokens =
        vault::current_tokens(core, &view.grant, &claims.scope, request_id, HANDOUT_MARGIN)
            .await?
            .ok_or_else(|| {
                Error::InvalidGrant("the sign-in holds no upstream access token".to_owned())
            })?;
    usable_for(
        tokens.expires_at,
        tokens.refresh_token.is_some(),
        core.now(),
    )?;
    let mut v = HeaderValue::from_str(&format!("Bearer {}", tokens.access_token.expose_secret()))
        .map_err(|_| {
        Error::server(anyhow::anyhow!(
            "the upstream access token is not a valid header value"
        ))
    })?;
    // Never in HTTP/2 header compression tables, nor in debug output of the header map.
    v.set_sensitive(true);
    Ok(v)
}
