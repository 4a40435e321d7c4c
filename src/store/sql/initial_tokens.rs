//! RFC 7591 §3 initial access tokens (stored by hash, counted atomically, revoked by id or
//! name), the count of dynamic clients under `registration.max_dynamic_clients`, and the
//! cluster-wide leases of background jobs.

use super::admin_tokens::{list_newest_first, naming_revoked, revoke_by_id_or_name};
use super::audit::insert_audit;
use super::exec::{args, Exec, SqlRow};
use super::rows;
use crate::store::{AuditEvent, InitialAccessTokenRecord, InitialTokenUse, StoreError};

fn decode(r: &dyn SqlRow) -> Result<InitialAccessTokenRecord, StoreError> {
    Ok(InitialAccessTokenRecord {
        id: r.text("id")?,
        name: r.text("name")?,
        token_hash: r.text("token_hash")?,
        max_uses: r.opt_int("max_uses")?,
        uses: r.int("uses")?,
        expires_at: r.opt_int("expires_at")?,
        created_at: r.int("created_at")?,
        created_by: r.text("created_by")?,
        last_used_at: r.opt_int("last_used_at")?,
        revoked_at: r.opt_int("revoked_at")?,
    })
}

/// `Conflict` when an unrevoked token has the same name.
pub(super) async fn insert(
    db: &mut dyn Exec,
    t: &InitialAccessTokenRecord,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO initial_access_tokens (id, name, token_hash, max_uses, uses, expires_at, \
         created_at, created_by, last_used_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        args![
            &t.id,
            &t.name,
            &t.token_hash,
            t.max_uses,
            t.uses,
            t.expires_at,
            t.created_at,
            &t.created_by,
            t.last_used_at,
            t.revoked_at,
        ],
    )
    .await?;
    insert_audit(db, audit).await
}

/// Every token, revoked and used-up ones included, newest first.
pub(super) async fn list(db: &mut dyn Exec) -> Result<Vec<InitialAccessTokenRecord>, StoreError> {
    list_newest_first(db, "initial_access_tokens", decode).await
}

/// Counts one use of the token with this hash if it is usable at `now`. The check and the
/// increment are one conditional `UPDATE`: under Postgres a concurrent use waits for this row's
/// lock and then re-evaluates the condition on the updated row, under SQLite the write
/// transaction is exclusive, so a token with one use left is counted exactly once.
pub(super) async fn use_token(
    db: &mut dyn Exec,
    token_hash: &str,
    now: i64,
) -> Result<InitialTokenUse, StoreError> {
    let counted = db
        .fetch_optional(
            "UPDATE initial_access_tokens SET uses = uses + 1, last_used_at = $2 \
             WHERE token_hash = $1 AND revoked_at IS NULL \
             AND (expires_at IS NULL OR expires_at > $2) \
             AND (max_uses IS NULL OR uses < max_uses) RETURNING *",
            args![token_hash, now],
        )
        .await?;
    if let Some(record) = rows::opt(counted, decode)? {
        return Ok(InitialTokenUse::Counted(record));
    }
    let known = db
        .fetch_optional(
            "SELECT * FROM initial_access_tokens WHERE token_hash = $1",
            args![token_hash],
        )
        .await?;
    Ok(rows::opt(known, decode)?.map_or(InitialTokenUse::Unknown, InitialTokenUse::Refused))
}

/// Revokes the unrevoked token whose id is `id_or_name`, else the one with that name (ids
/// first, as for admin tokens). `NotFound` when none matches. The audit event's detail gains
/// `revoked_token_id` and `revoked_token_name`.
pub(super) async fn revoke(
    db: &mut dyn Exec,
    id_or_name: &str,
    now: i64,
    audit: &AuditEvent,
) -> Result<InitialAccessTokenRecord, StoreError> {
    let row = revoke_by_id_or_name(db, "initial_access_tokens", id_or_name, now).await?;
    let revoked = rows::opt(row, decode)?.ok_or(StoreError::NotFound)?;
    insert_audit(db, &naming_revoked(audit, &revoked.id, &revoked.name)).await?;
    Ok(revoked)
}

/// How many dynamically registered clients exist. With `serialize`, first locks the
/// `registration_cap` row of `leases` for the rest of the transaction, so that under Postgres
/// two registrations cannot both count the same number and both insert past the cap (SQLite's
/// write transaction is exclusive already).
pub(super) async fn count_dynamic(db: &mut dyn Exec, serialize: bool) -> Result<i64, StoreError> {
    if serialize {
        db.execute(
            "UPDATE leases SET expires_at = expires_at WHERE name = 'registration_cap'",
            args![],
        )
        .await?;
    }
    let row = db
        .fetch_optional(
            "SELECT COUNT(*) AS n FROM clients WHERE kind = 'dcr'",
            args![],
        )
        .await?;
    row.map_or(Ok(0), |r| r.int("n"))
}

/// Takes (or renews) the lease `name` for `holder` until `until` if it is free at `now`:
/// absent, expired, or already this holder's. Returns whether `holder` has it. One statement,
/// so two replicas asking at once cannot both get it: the loser's conflicting insert waits for
/// the winner's row and then finds it neither expired nor its own.
pub(super) async fn try_lease(
    db: &mut dyn Exec,
    name: &str,
    holder: &str,
    now: i64,
    until: i64,
) -> Result<bool, StoreError> {
    let taken = db
        .execute(
            "INSERT INTO leases (name, holder, expires_at) VALUES ($1, $2, $4) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, \
             expires_at = excluded.expires_at \
             WHERE leases.expires_at <= $3 OR leases.holder = excluded.holder",
            args![name, holder, now, until],
        )
        .await?;
    Ok(taken == 1)
}
