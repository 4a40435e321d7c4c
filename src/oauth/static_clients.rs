//! Clients pre-registered in the configuration (COMPAT C13): turned into `ClientRecord`s with the
//! same redirect-URI rules as dynamic clients, and kept in step with the file at every start.

use secrecy::ExposeSecret as _;

use crate::config::StaticClientConfig;
use crate::oauth::redirect_uri::{RedirectKind, RedirectUri};
use crate::oauth::{crypto, Error, Settings};
use crate::store::{AuditEvent, ClientKind, ClientRecord, Store};

/// The record for a configured client.
///
/// # Errors
/// `invalid_redirect_uri` naming the offending URI.
pub fn record(
    c: &StaticClientConfig,
    settings: &Settings,
    now: i64,
) -> Result<ClientRecord, Error> {
    let mut kinds = Vec::new();
    for raw in &c.redirect_uris {
        kinds.push(
            RedirectUri::for_registration_with(raw, &settings.registration.redirect_uri_schemes)?
                .kind(),
        );
    }
    let native = kinds.iter().all(|k| *k != RedirectKind::Https);
    Ok(ClientRecord {
        client_id: c.client_id.clone(),
        kind: ClientKind::Static,
        secret_hash: c
            .client_secret
            .as_ref()
            .map(|s| crypto::hash(s.expose_secret())),
        token_endpoint_auth_method: c.token_endpoint_auth_method.clone(),
        redirect_uris: c.redirect_uris.clone(),
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        response_types: vec!["code".into()],
        application_type: if native { "native" } else { "web" }.into(),
        client_name: c.client_name.clone(),
        client_uri: None,
        logo_uri: None,
        scope: None,
        contacts: Vec::new(),
        software_id: None,
        software_version: None,
        // Managed by the configuration file, not through RFC 7592.
        registration_token_hash: None,
        upstream_id: c
            .upstream
            .clone()
            .unwrap_or_else(|| settings.default_upstream.clone()),
        created_at: now,
        updated_at: now,
        last_used_at: None,
        disabled: false,
    })
}

/// Inserts or updates every configured client. A dynamic or CIMD client that already holds one
/// of the ids is an error: the file must not take over a client someone registered.
///
/// # Errors
/// Invalid redirect URIs, an id collision, or a store failure.
pub async fn sync(
    store: &dyn Store,
    clients: &[StaticClientConfig],
    settings: &Settings,
    now: i64,
) -> Result<(), Error> {
    for c in clients {
        let wanted = record(c, settings, now)?;
        match store.get_client(&c.client_id).await? {
            None => {
                let audit = AuditEvent::new("static_client_created", now)
                    .actor("config")
                    .client(c.client_id.clone());
                store.insert_client(&wanted, &audit).await?;
                crate::metrics::registration("static", "registered");
            }
            Some(existing) if existing.kind == ClientKind::Static => {
                // `disabled` is an admin's decision (admin API), not the file's: a restart must
                // not re-enable a client someone switched off.
                let updated = ClientRecord {
                    created_at: existing.created_at,
                    last_used_at: existing.last_used_at,
                    disabled: existing.disabled,
                    ..wanted
                };
                if updated != existing {
                    let audit = AuditEvent::new("static_client_updated", now)
                        .actor("config")
                        .client(c.client_id.clone());
                    store.update_client(&updated, &audit).await?;
                    crate::metrics::registration("static", "updated");
                }
            }
            Some(_) => {
                return Err(Error::server(anyhow::anyhow!(
                    "configured client {} collides with a dynamically registered client",
                    c.client_id
                )))
            }
        }
    }
    Ok(())
}
