//! Clients: registration, RFC 7592 update and delete, last use, expiry of unused registrations.

use super::audit::insert_audit;
use super::exec::{args, Exec};
use super::rows::{self, json_list};
use crate::store::{AuditEvent, ClientKind, ClientRecord, StoreError};

pub(super) async fn insert(
    db: &mut dyn Exec,
    c: &ClientRecord,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    let (redirect_uris, grant_types) = (json_list(&c.redirect_uris)?, json_list(&c.grant_types)?);
    let (response_types, contacts) = (json_list(&c.response_types)?, json_list(&c.contacts)?);
    db.execute(
        "INSERT INTO clients (client_id, kind, secret_hash, token_endpoint_auth_method, \
         redirect_uris, grant_types, response_types, application_type, client_name, client_uri, \
         logo_uri, scope, contacts, software_id, software_version, registration_token_hash, \
         upstream_id, created_at, updated_at, last_used_at, disabled, managed_by) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, \
         $19, $20, $21, $22)",
        args![
            &c.client_id,
            c.kind.as_str(),
            &c.secret_hash,
            &c.token_endpoint_auth_method,
            &redirect_uris,
            &grant_types,
            &response_types,
            &c.application_type,
            &c.client_name,
            &c.client_uri,
            &c.logo_uri,
            &c.scope,
            &contacts,
            &c.software_id,
            &c.software_version,
            &c.registration_token_hash,
            &c.upstream_id,
            c.created_at,
            c.updated_at,
            c.last_used_at,
            c.disabled,
            c.managed_by.as_str(),
        ],
    )
    .await?;
    insert_audit(db, audit).await
}

pub(super) async fn get(
    db: &mut dyn Exec,
    client_id: &str,
) -> Result<Option<ClientRecord>, StoreError> {
    let row = db
        .fetch_optional(
            "SELECT * FROM clients WHERE client_id = $1",
            args![client_id],
        )
        .await?;
    rows::opt(row, rows::client)
}

/// Replaces everything but the identity, kind, creation time and last use.
pub(super) async fn update(
    db: &mut dyn Exec,
    c: &ClientRecord,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    let (redirect_uris, grant_types) = (json_list(&c.redirect_uris)?, json_list(&c.grant_types)?);
    let (response_types, contacts) = (json_list(&c.response_types)?, json_list(&c.contacts)?);
    let n = db
        .execute(
            "UPDATE clients SET secret_hash = $2, token_endpoint_auth_method = $3, \
             redirect_uris = $4, grant_types = $5, response_types = $6, application_type = $7, \
             client_name = $8, client_uri = $9, logo_uri = $10, scope = $11, contacts = $12, \
             software_id = $13, software_version = $14, registration_token_hash = $15, \
             upstream_id = $16, updated_at = $17, disabled = $18 \
             WHERE client_id = $1",
            args![
                &c.client_id,
                &c.secret_hash,
                &c.token_endpoint_auth_method,
                &redirect_uris,
                &grant_types,
                &response_types,
                &c.application_type,
                &c.client_name,
                &c.client_uri,
                &c.logo_uri,
                &c.scope,
                &contacts,
                &c.software_id,
                &c.software_version,
                &c.registration_token_hash,
                &c.upstream_id,
                c.updated_at,
                c.disabled,
            ],
        )
        .await?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    insert_audit(db, audit).await
}

/// Revokes the client's grants and their families, then deletes the client (its pending requests
/// and consents go with it by cascade). The revoked grants stay as the record of what was issued.
pub(super) async fn delete(
    db: &mut dyn Exec,
    client_id: &str,
    now: i64,
    audit: &AuditEvent,
) -> Result<bool, StoreError> {
    db.execute(
        "UPDATE token_families SET revoked_at = $2 WHERE revoked_at IS NULL \
         AND grant_id IN (SELECT id FROM grants WHERE client_id = $1)",
        args![client_id, now],
    )
    .await?;
    db.execute(
        "UPDATE grants SET revoked_at = $2 WHERE client_id = $1 AND revoked_at IS NULL",
        args![client_id, now],
    )
    .await?;
    let deleted = db
        .execute("DELETE FROM clients WHERE client_id = $1", args![client_id])
        .await?
        > 0;
    if deleted {
        insert_audit(db, audit).await?;
    }
    Ok(deleted)
}

/// How stale `last_used_at` may get before a use is written again. A busy client refreshes
/// many times a minute across its users; one write a minute keeps the column useful ("used
/// today", "unused for 90 days" for expiry) without a row write per token request. An
/// `UPDATE` whose `WHERE` matches nothing writes nothing (no new row version on Postgres, no
/// page write on SQLite), so the skipped uses cost one index lookup.
pub const TOUCH_EVERY_SECONDS: i64 = 60;

pub(super) async fn touch(db: &mut dyn Exec, client_id: &str, now: i64) -> Result<(), StoreError> {
    db.execute(
        "UPDATE clients SET last_used_at = $2 WHERE client_id = $1 \
         AND (last_used_at IS NULL OR last_used_at <= $3 OR last_used_at > $2)",
        args![client_id, now, now - TOUCH_EVERY_SECONDS],
    )
    .await?;
    Ok(())
}

/// Records the client's last error. Written when the reason changed or the stored one is older
/// than [`TOUCH_EVERY_SECONDS`], so a client hammering /token with a dead refresh token costs
/// one write a minute, not one per request, while a new reason shows at once.
pub(super) async fn record_error(
    db: &mut dyn Exec,
    client_id: &str,
    reason: &str,
    now: i64,
) -> Result<(), StoreError> {
    db.execute(
        "UPDATE clients SET last_error = $2, last_error_at = $3 WHERE client_id = $1 \
         AND (last_error IS NULL OR last_error <> $2 OR last_error_at IS NULL \
         OR last_error_at <= $4 OR last_error_at > $3)",
        args![client_id, reason, now, now - TOUCH_EVERY_SECONDS],
    )
    .await?;
    Ok(())
}

/// Only dynamic registrations expire: static clients are an admin's, and CIMD clients are
/// re-fetched from their URL anyway. A client with an active grant is kept however old its last
/// use, so a user's authorization never disappears behind their back. Revoked grants stay as the
/// record of what was issued, as with [`delete`]; pending requests and consents go by cascade.
pub(super) async fn delete_unused(
    db: &mut dyn Exec,
    older_than: i64,
    now: i64,
) -> Result<u64, StoreError> {
    let deleted = db
        .fetch_all(
            "DELETE FROM clients WHERE kind = $1 AND COALESCE(last_used_at, created_at) < $2 \
             AND NOT EXISTS (SELECT 1 FROM grants g \
             WHERE g.client_id = clients.client_id AND g.revoked_at IS NULL) \
             RETURNING client_id, created_at, last_used_at",
            args![ClientKind::Dcr.as_str(), older_than],
        )
        .await?;
    // Built before any await: rows are `Send` but not `Sync`, so none may be borrowed across one.
    let events = deleted
        .iter()
        .map(|row| {
            let detail = serde_json::json!({
                "created_at": row.int("created_at")?,
                "last_used_at": row.opt_int("last_used_at")?,
            });
            Ok(AuditEvent::new("client_expired", now)
                .actor("housekeeping")
                .client(row.text("client_id")?)
                .detail(&detail))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    for event in &events {
        insert_audit(db, event).await?;
    }
    Ok(events.len() as u64)
}
