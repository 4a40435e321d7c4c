//! Upstream status cache and removal of expired rows and of audit events past retention.

use super::exec::{args, Exec};
use super::rows;
use crate::store::{StoreError, UpstreamRecord};

pub(super) async fn save_upstream(db: &mut dyn Exec, u: &UpstreamRecord) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO upstreams (id, issuer, metadata, status, checked_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO UPDATE SET issuer = excluded.issuer, metadata = excluded.metadata, \
         status = excluded.status, checked_at = excluded.checked_at",
        args![&u.id, &u.issuer, &u.metadata, &u.status, u.checked_at],
    )
    .await?;
    Ok(())
}

pub(super) async fn get_upstream(
    db: &mut dyn Exec,
    id: &str,
) -> Result<Option<UpstreamRecord>, StoreError> {
    let row = db
        .fetch_optional("SELECT * FROM upstreams WHERE id = $1", args![id])
        .await?;
    rows::opt(row, rows::upstream)
}

/// Expired pending requests, codes, refresh tokens and access tokens. Past their expiry none of
/// them can be used, so nothing is lost: a replay of a purged code or token is simply unknown.
pub(super) async fn purge(db: &mut dyn Exec, now: i64) -> Result<u64, StoreError> {
    let mut removed = 0;
    for table in [
        "authorization_requests",
        "authorization_codes",
        "refresh_tokens",
        "access_tokens",
        "account_logins",
        "account_sessions",
        "admin_console_sessions",
        "used_assertions",
    ] {
        removed += db
            .execute(
                &format!("DELETE FROM {table} WHERE expires_at <= $1"),
                args![now],
            )
            .await?;
    }
    // The sealed replay answer of a rotated refresh token is needed only inside the grace
    // window (at most 300 s by configuration); drop it well after that.
    db.execute(STALE_REPLAY_PURGE, args![now - 600]).await?;
    Ok(removed)
}

/// Drops the replay answers of tokens rotated at or before `$1`. The partial index
/// `refresh_tokens_replay_idx (used_at) WHERE replay IS NOT NULL` serves exactly this predicate,
/// so the statement reads only rows that still hold an answer, not the whole table.
pub const STALE_REPLAY_PURGE: &str =
    "UPDATE refresh_tokens SET replay = NULL WHERE replay IS NOT NULL AND used_at <= $1";

/// Deletes at most `limit` audit events older than `before`, oldest first, and returns how many.
/// One bounded batch per call (through `audit_events_at_idx`), so a first purge of a large
/// backlog never holds one long lock: the caller repeats until a batch comes back short.
pub(super) async fn purge_audit(
    db: &mut dyn Exec,
    before: i64,
    limit: i64,
) -> Result<u64, StoreError> {
    db.execute(
        "DELETE FROM audit_events WHERE seq IN \
         (SELECT seq FROM audit_events WHERE at < $1 ORDER BY at, seq LIMIT $2)",
        args![before, limit],
    )
    .await
}
