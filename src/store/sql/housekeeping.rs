//! Upstream status cache and removal of expired rows.

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
    db.execute(
        "UPDATE refresh_tokens SET replay = NULL WHERE replay IS NOT NULL AND used_at <= $1",
        args![now - 600],
    )
    .await?;
    Ok(removed)
}
