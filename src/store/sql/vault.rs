//! The upstream token vault's columns of a grant: which upstream its sealed tokens came from,
//! when the user's standing there was last confirmed, and the lease that lets one caller (of
//! any replica) refresh upstream at a time. Each statement here is one compare-and-set UPDATE:
//! valid on SQLite and Postgres alike, and nothing holds a transaction across the HTTP call.

use super::exec::{args, Exec};
use crate::store::{StoreError, UpstreamSession};

/// Ties the grant's (new or replaced) upstream tokens to `upstream_id`, confirmed at `now`; a
/// new login also ends any lease and back-off (a refresh still in flight then finds its lease
/// gone and keeps the login's tokens).
pub(super) async fn bind(
    db: &mut dyn Exec,
    grant_id: &str,
    upstream_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    let n = db
        .execute(
            "UPDATE grants SET upstream_id = $2, upstream_checked_at = $3, upstream_retry_at = NULL, \
             upstream_lease_holder = NULL, upstream_lease_until = NULL WHERE id = $1",
            args![grant_id, upstream_id, now],
        )
        .await?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(super) async fn get(
    db: &mut dyn Exec,
    grant_id: &str,
) -> Result<Option<UpstreamSession>, StoreError> {
    let row = db
        .fetch_optional(
            "SELECT id, user_id, upstream_id, upstream_tokens, upstream_checked_at, \
             upstream_retry_at, upstream_lease_until, revoked_at FROM grants WHERE id = $1",
            args![grant_id],
        )
        .await?;
    row.map(|r| {
        Ok(UpstreamSession {
            grant_id: r.text("id")?,
            user_id: r.text("user_id")?,
            upstream_id: r.opt_text("upstream_id")?,
            sealed_tokens: r.opt_text("upstream_tokens")?,
            checked_at: r.opt_int("upstream_checked_at")?,
            retry_at: r.opt_int("upstream_retry_at")?,
            lease_until: r.opt_int("upstream_lease_until")?,
            revoked_at: r.opt_int("revoked_at")?,
        })
    })
    .transpose()
}

/// Takes the lease for `holder` until `until` when nobody holds an unexpired one, the grant is
/// active and its sealed tokens are still `sealed`, the ones the caller read (a caller that
/// read before another's refresh completed must not send the refresh token it read: the
/// upstream may have rotated it). True when this call took it.
pub(super) async fn take_lease(
    db: &mut dyn Exec,
    grant_id: &str,
    holder: &str,
    sealed: &str,
    now: i64,
    until: i64,
) -> Result<bool, StoreError> {
    let n = db
        .execute(
            "UPDATE grants SET upstream_lease_holder = $2, upstream_lease_until = $5 \
             WHERE id = $1 AND revoked_at IS NULL AND upstream_tokens = $3 \
             AND (upstream_lease_until IS NULL OR upstream_lease_until <= $4)",
            args![grant_id, holder, sealed, now, until],
        )
        .await?;
    Ok(n == 1)
}

/// The lease holder's success: the new sealed tokens and the confirmation time are stored and
/// the lease released, in one statement. False when `holder` no longer holds the lease (a new
/// login replaced the tokens, or the grant was revoked): nothing is written.
pub(super) async fn store_refreshed(
    db: &mut dyn Exec,
    grant_id: &str,
    holder: &str,
    sealed: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let n = db
        .execute(
            "UPDATE grants SET upstream_tokens = $3, upstream_checked_at = $4, \
             upstream_retry_at = NULL, upstream_lease_holder = NULL, upstream_lease_until = NULL, \
             updated_at = $4 WHERE id = $1 AND upstream_lease_holder = $2 AND revoked_at IS NULL",
            args![grant_id, holder, sealed, now],
        )
        .await?;
    Ok(n == 1)
}

/// The lease holder's transient failure: the lease is released, and no new attempt is made
/// before `retry_at`.
pub(super) async fn release(
    db: &mut dyn Exec,
    grant_id: &str,
    holder: &str,
    retry_at: i64,
) -> Result<(), StoreError> {
    db.execute(
        "UPDATE grants SET upstream_retry_at = $3, upstream_lease_holder = NULL, \
         upstream_lease_until = NULL WHERE id = $1 AND upstream_lease_holder = $2",
        args![grant_id, holder, retry_at],
    )
    .await?;
    Ok(())
}
