//! Clients pre-registered in the configuration (COMPAT C13): turned into `ClientRecord`s with the
//! same redirect-URI rules as dynamic clients, and kept in step with the file at every start.

use secrecy::ExposeSecret as _;

use crate::config::StaticClientConfig;
use crate::oauth::redirect_uri::{RedirectKind, RedirectUri};
use crate::oauth::{crypto, Error, Settings};
use crate::store::{
    AuditEvent, ClientFilter, ClientKind, ClientRecord, ManagedBy, PageAfter, PageRequest, Store,
};

/// A static client's `application_type`: `web` when any redirect URI is https, else `native`.
///
/// # Errors
/// `invalid_redirect_uri` naming the offending URI.
pub fn application_type_for(uris: &[String], settings: &Settings) -> Result<&'static str, Error> {
    let mut native = true;
    for raw in uris {
        let kind =
            RedirectUri::for_registration_with(raw, &settings.registration.redirect_uri_schemes)?
                .kind();
        native &= kind != RedirectKind::Https;
    }
    Ok(if native { "native" } else { "web" })
}

/// The record for a configured client.
///
/// # Errors
/// `invalid_redirect_uri` naming the offending URI.
pub fn record(
    c: &StaticClientConfig,
    settings: &Settings,
    now: i64,
) -> Result<ClientRecord, Error> {
    let application_type = application_type_for(&c.redirect_uris, settings)?;
    // A service account (MCP client-credentials extension) only ever uses client_credentials:
    // no redirect URIs, so /authorize refuses it, and no refresh tokens.
    let service = c.service_account.is_some();
    let (grant_types, response_types, application_type) = if service {
        (vec!["client_credentials".into()], Vec::new(), "web")
    } else {
        (
            vec!["authorization_code".into(), "refresh_token".into()],
            vec!["code".into()],
            application_type,
        )
    };
    let mut record = ClientRecord {
        client_id: c.client_id.clone(),
        kind: ClientKind::Static,
        secret_hash: c
            .client_secret
            .as_ref()
            .map(|s| crypto::hash(s.expose_secret())),
        token_endpoint_auth_method: c.token_endpoint_auth_method.clone(),
        redirect_uris: c.redirect_uris.clone(),
        grant_types,
        response_types,
        application_type: application_type.into(),
        client_name: c.client_name.clone(),
        client_uri: None,
        logo_uri: None,
        // A service account's own scope list, shown by the admin API.
        scope: c
            .service_account
            .as_ref()
            .filter(|sa| !sa.scopes.is_empty())
            .map(|sa| sa.scopes.join(" ")),
        contacts: Vec::new(),
        software_id: None,
        software_version: None,
        // Managed by the configuration file, not through RFC 7592.
        registration_token_hash: None,
        upstream_id: String::new(),
        created_at: now,
        updated_at: now,
        last_used_at: None,
        disabled: false,
        managed_by: ManagedBy::Config,
        last_error: None,
    };
    // Bound to its own `upstream`, else to the one a `[[client_rules]]` rule maps it to, else
    // to the first upstream (as before rules could map clients).
    record.upstream_id = match &c.upstream {
        Some(u) => u.clone(),
        None => Some(settings.mapped_upstream(&record))
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| settings.default_upstream.clone()),
    };
    Ok(record)
}

/// Inserts or updates every configured client. A dynamic, CIMD or admin-created client that
/// already holds one of the ids is an error: the file must not take over a client someone
/// registered. Then every client the file managed but no longer names is disabled
/// ([`disable_removed`]).
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
            Some(existing)
                if existing.kind == ClientKind::Static
                    && existing.managed_by == ManagedBy::Config =>
            {
                // `disabled` is an admin's decision (admin API), not the file's: a restart must
                // not re-enable a client someone switched off.
                let updated = ClientRecord {
                    created_at: existing.created_at,
                    last_used_at: existing.last_used_at,
                    disabled: existing.disabled,
                    last_error: existing.last_error.clone(),
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
                    "configured client {} collides with a client registered dynamically or \
                     created through the admin API",
                    c.client_id
                )))
            }
        }
    }
    disable_removed(store, clients, now).await
}

/// Disables every enabled client that came from `[[clients]]` and is no longer there, revoking
/// its grants, with one `static_client_removed` event (and one `revoked` per grant) in the same
/// transaction. Not deleted: its grants and audit trail stay, an admin can still look at it,
/// and putting the entry back re-creates nothing (it stays disabled until an admin enables it,
/// like any client an admin switched off). Clients created through the admin API are not
/// touched: the file never named them.
///
/// # Errors
/// A store failure.
pub async fn disable_removed(
    store: &dyn Store,
    clients: &[StaticClientConfig],
    now: i64,
) -> Result<(), Error> {
    let filter = ClientFilter {
        kind: Some(ClientKind::Static),
        disabled: Some(false),
    };
    let mut stale = Vec::new();
    let mut page = PageRequest {
        after: None,
        limit: 500,
    };
    loop {
        let rows = store.list_clients(&filter, &page).await?;
        let full = rows.len() as i64 == page.limit;
        page.after = rows.last().map(|c| PageAfter {
            created_at: c.created_at,
            id: c.client_id.clone(),
        });
        stale.extend(rows.into_iter().filter(|c| {
            c.managed_by == ManagedBy::Config && !clients.iter().any(|k| k.client_id == c.client_id)
        }));
        if !full {
            break;
        }
    }
    for client in stale {
        let mut tx = store.begin().await?;
        let grants = tx.active_grant_ids(None, Some(&client.client_id)).await?;
        for grant_id in &grants {
            let audit = AuditEvent::new("revoked", now)
                .actor("config")
                .client(client.client_id.clone())
                .grant(grant_id.clone())
                .detail(&serde_json::json!({ "reason": "static_client_removed" }));
            tx.revoke_grant(grant_id, now, &audit).await?;
        }
        let audit = AuditEvent::new("static_client_removed", now)
            .actor("config")
            .client(client.client_id.clone())
            .detail(&serde_json::json!({ "revoked_grants": grants.len() }));
        tracing::warn!(
            client_id = %client.client_id,
            revoked_grants = grants.len(),
            "a configured client is no longer in [[clients]]: disabled"
        );
        let disabled = ClientRecord {
            disabled: true,
            updated_at: now,
            ..client
        };
        tx.update_client(&disabled, &audit).await?;
        tx.commit().await?;
    }
    Ok(())
}

#[cfg(test)]
#[path = "static_clients_tests.rs"]
mod tests;
