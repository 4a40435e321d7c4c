//! The audit trail: one row per security-relevant fact, written in the fact's transaction.

use super::exec::{args, Exec};
use super::rows;
use crate::store::{request_context, AuditEvent, StoreError};

/// Writes the event, with the current request's id, address and user agent where it has none
/// ([`request_context::fill`]); its log line follows when the write is durable
/// ([`Exec::audited`]: at once on a pooled connection, at the commit in a transaction).
pub(super) async fn insert_audit(db: &mut dyn Exec, event: &AuditEvent) -> Result<(), StoreError> {
    let e = request_context::fill(event);
    db.execute(
        "INSERT INTO audit_events (id, at, kind, actor, client_id, user_id, grant_id, request_id, \
         ip, user_agent, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        args![
            &e.id,
            e.at,
            &e.kind,
            &e.actor,
            &e.client_id,
            &e.user_id,
            &e.grant_id,
            &e.request_id,
            &e.ip,
            &e.user_agent,
            &e.detail
        ],
    )
    .await?;
    db.audited(e);
    Ok(())
}

/// The caller's event turned into a `reuse_detected` one (same client, grant and request), for
/// the revocation a replayed code or refresh token causes.
pub(super) fn reuse_detected(base: &AuditEvent, now: i64, what: &str) -> AuditEvent {
    AuditEvent {
        id: uuid::Uuid::new_v4().to_string(),
        at: now,
        kind: "reuse_detected".to_owned(),
        detail: Some(serde_json::json!({ "reused": what }).to_string()),
        ..base.clone()
    }
}

pub(super) async fn list(db: &mut dyn Exec, limit: i64) -> Result<Vec<AuditEvent>, StoreError> {
    let found = db
        .fetch_all(
            "SELECT * FROM audit_events ORDER BY at DESC, seq DESC LIMIT $1",
            args![limit],
        )
        .await?;
    rows::all(&found, rows::audit_event)
}
