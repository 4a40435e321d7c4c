//! Admin API bearer tokens: stored by hash, looked up by hash, revoked by id or name.

use super::audit::insert_audit;
use super::exec::{args, BoxRow, Exec, SqlRow};
use super::rows;
use crate::store::{AdminTokenRecord, AuditEvent, StoreError};

fn decode(r: &dyn SqlRow) -> Result<AdminTokenRecord, StoreError> {
    Ok(AdminTokenRecord {
        id: r.text("id")?,
        name: r.text("name")?,
        token_hash: r.text("token_hash")?,
        read_only: r.flag("read_only")?,
        created_at: r.int("created_at")?,
        created_by: r.text("created_by")?,
        last_used_at: r.opt_int("last_used_at")?,
        revoked_at: r.opt_int("revoked_at")?,
    })
}

/// `Conflict` when an unrevoked token has the same name.
pub(super) async fn insert(
    db: &mut dyn Exec,
    t: &AdminTokenRecord,
    audit: &AuditEvent,
) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO admin_tokens (id, name, token_hash, read_only, created_at, created_by, \
         last_used_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        args![
            &t.id,
            &t.name,
            &t.token_hash,
            t.read_only,
            t.created_at,
            &t.created_by,
            t.last_used_at,
            t.revoked_at,
        ],
    )
    .await?;
    insert_audit(db, audit).await
}

/// Every token, revoked ones included (they are the record of who had access), newest first.
pub(super) async fn list(db: &mut dyn Exec) -> Result<Vec<AdminTokenRecord>, StoreError> {
    list_newest_first(db, "admin_tokens", decode).await
}

/// Every row of the token table `table`, newest first, decoded.
pub(super) async fn list_newest_first<T>(
    db: &mut dyn Exec,
    table: &str,
    decode: fn(&dyn SqlRow) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let found = db
        .fetch_all(
            &format!("SELECT * FROM {table} ORDER BY created_at DESC, id DESC"),
            args![],
        )
        .await?;
    rows::all(&found, decode)
}

/// The unrevoked token with this hash.
pub(super) async fn find_active(
    db: &mut dyn Exec,
    token_hash: &str,
) -> Result<Option<AdminTokenRecord>, StoreError> {
    let row = db
        .fetch_optional(
            "SELECT * FROM admin_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
            args![token_hash],
        )
        .await?;
    rows::opt(row, decode)
}

/// Records a use, at most once a minute per token: the admin API is not slowed by a write on
/// every read, and "last used" needs no finer grain.
pub(super) async fn touch(db: &mut dyn Exec, id: &str, now: i64) -> Result<(), StoreError> {
    db.execute(
        "UPDATE admin_tokens SET last_used_at = $2 WHERE id = $1 \
         AND (last_used_at IS NULL OR last_used_at < $3)",
        args![id, now, now - 60],
    )
    .await?;
    Ok(())
}

/// Revokes the unrevoked token whose id is `id_or_name`, else the one with that name (ids are
/// tried first, so a name that looks like another token's id cannot shadow it). Returns the
/// revoked token; `NotFound` when no unrevoked token matches. The audit event's detail gains
/// `revoked_token_id` and `revoked_token_name`.
pub(super) async fn revoke(
    db: &mut dyn Exec,
    id_or_name: &str,
    now: i64,
    audit: &AuditEvent,
) -> Result<AdminTokenRecord, StoreError> {
    let row = revoke_by_id_or_name(db, "admin_tokens", id_or_name, now).await?;
    let revoked = rows::opt(row, decode)?.ok_or(StoreError::NotFound)?;
    insert_audit(db, &naming_revoked(audit, &revoked.id, &revoked.name)).await?;
    Ok(revoked)
}

/// Sets `revoked_at` on the unrevoked row of `table` (a token table with `id`, `name` and
/// `revoked_at`) whose id is `id_or_name`, else on the one with that name; returns the row.
pub(super) async fn revoke_by_id_or_name(
    db: &mut dyn Exec,
    table: &str,
    id_or_name: &str,
    now: i64,
) -> Result<Option<BoxRow>, StoreError> {
    for column in ["id", "name"] {
        let row = db
            .fetch_optional(
                &format!(
                    "UPDATE {table} SET revoked_at = $2 \
                     WHERE {column} = $1 AND revoked_at IS NULL RETURNING *"
                ),
                args![id_or_name, now],
            )
            .await?;
        if row.is_some() {
            return Ok(row);
        }
    }
    Ok(None)
}

/// `audit` with `revoked_token_id` and `revoked_token_name` added to its detail object.
pub(super) fn naming_revoked(audit: &AuditEvent, id: &str, name: &str) -> AuditEvent {
    let mut detail = audit
        .detail
        .as_deref()
        .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .filter(serde_json::Value::is_object)
        .unwrap_or_else(|| serde_json::json!({}));
    if let Some(map) = detail.as_object_mut() {
        map.insert("revoked_token_id".to_owned(), id.into());
        map.insert("revoked_token_name".to_owned(), name.into());
    }
    audit.clone().detail(&detail)
}
