//! The registration service behind `/register` (RFC 7591) and `/register/{client_id}` (RFC
//! 7592): the policy, the store and the audit trail for a client registering and managing
//! itself. HTTP parsing and response shapes stay in `http/register.rs`.

use super::registration::{self, NewClient, RegistrationRequest};
use super::registration_policy::{self, Applicant};
use super::{crypto, Core, Error};
use crate::metrics;
use crate::store::{AuditEvent, ClientKind, ClientRecord, StoreError};

/// Registers a dynamic client under the configured policy: the token's use, the cap and the
/// insert are one transaction (`registration_policy::admit_and_store`).
///
/// # Errors
/// Invalid metadata, a refusal by the policy, store failures.
pub async fn register(
    core: &Core,
    applicant: Applicant<'_>,
    req: RegistrationRequest,
) -> Result<NewClient, Error> {
    let reg = &core.settings.registration;
    let now = core.now();
    let new = registration::register(req, &core.settings, reg.max_redirect_uris, now)
        .inspect_err(|e| metrics::registration_refused("dcr", e))?;
    let audit = AuditEvent::new("registered", now)
        .actor(new.record.client_id.clone())
        .client(new.record.client_id.clone())
        .request(applicant.request_id.map(str::to_owned))
        .detail(&registration::audit_summary(&new.record));
    registration_policy::admit_and_store(
        core.store.as_ref(),
        reg,
        applicant,
        &new.record,
        audit,
        now,
    )
    .await?;
    tracing::info!(client_id = %new.record.client_id, "client registered");
    metrics::registration("dcr", "registered");
    Ok(new)
}

/// RFC 7592 §2: the registration access token authorises access to one client's configuration.
/// Unknown clients and bad tokens both answer 401 so that client ids cannot be probed.
///
/// Only dynamically registered clients are managed here, and they are read from the store
/// alone, never through the client resolver: a percent-encoded URL in the path must not make
/// us fetch a metadata document, and CIMD clients (managed by their document) and static
/// clients (managed by configuration) have no registration access token. They answer like an
/// unknown client: RFC 7592 §2.1–§2.3 prescribe 401 `invalid_token` when the client does not
/// exist on this server for that token.
///
/// # Errors
/// `invalid_token` for a missing or wrong token or an unmanageable client; store failures.
pub async fn authorize_management(
    core: &Core,
    token: Option<&str>,
    client_id: &str,
) -> Result<ClientRecord, Error> {
    let token = token
        .ok_or_else(|| Error::InvalidToken("a registration access token is required".into()))?;
    let client = core
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
        Ok(client)
    } else {
        Err(Error::InvalidToken(
            "invalid registration access token".into(),
        ))
    }
}

/// RFC 7592 §2.2: replaces an authorised client's metadata; returns the stored record.
///
/// # Errors
/// Invalid metadata; `invalid_token` when the client went away meanwhile; store failures.
pub async fn update(
    core: &Core,
    client: &ClientRecord,
    req: RegistrationRequest,
    request_id: Option<String>,
) -> Result<ClientRecord, Error> {
    let now = core.now();
    let updated = registration::update(
        client,
        req,
        &core.settings,
        core.settings.registration.max_redirect_uris,
        now,
    )?;
    let audit = AuditEvent::new("client_updated", now)
        .actor(client.client_id.clone())
        .client(client.client_id.clone())
        .request(request_id)
        .detail(&registration::audit_summary(&updated));
    core.store
        .update_client(&updated, &audit)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => Error::InvalidToken("invalid registration access token".into()),
            other => other.into(),
        })?;
    Ok(updated)
}

/// RFC 7592 §2.3: deletes an authorised client (its grants go with it).
///
/// # Errors
/// Store failures.
pub async fn delete(core: &Core, client_id: &str, request_id: Option<String>) -> Result<(), Error> {
    let now = core.now();
    let audit = AuditEvent::new("client_deleted", now)
        .actor(client_id.to_owned())
        .client(client_id.to_owned())
        .request(request_id);
    core.store.delete_client(client_id, now, &audit).await?;
    Ok(())
}
