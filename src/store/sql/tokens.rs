//! Codes, refresh tokens and access tokens: redemption, rotation, revocation.
//!
//! Single use is enforced by one conditional UPDATE (`… AND used_at IS NULL`) whose affected-row
//! count decides the winner; under Postgres the row lock makes concurrent losers wait for the
//! winner's commit and then see its `used_at`, under SQLite write transactions are serialised
//! (`BEGIN IMMEDIATE`). Everything a loser decides is therefore based on the winner's committed
//! state.

use super::audit::{insert_audit, reuse_detected};
use super::exec::{args, Exec};
use super::rows::{
    self, access_cols, family_cols, grant_cols, grant_upstream_cols, refresh_cols, user_cols,
};
use crate::store::{
    AccessTokenRecord, AccessTokenView, AuditEvent, AuthCodeRecord, FamilyRecord, RedeemOutcome,
    RefreshTokenRecord, RefreshTokenView, RotateOutcome, StoreError,
};

pub(super) async fn get_auth_code(
    db: &mut dyn Exec,
    code_hash: &str,
) -> Result<Option<AuthCodeRecord>, StoreError> {
    let row = db
        .fetch_optional(
            "SELECT * FROM authorization_codes WHERE code_hash = $1",
            args![code_hash],
        )
        .await?;
    rows::opt(row, rows::auth_code)
}

/// The tokens passed in are stored under the code's own grant and the new family, whatever ids
/// the caller put in them, so a token can never hang off a grant the code was not for; likewise
/// the family takes the code's scope, whatever `family.scope` says.
pub(super) async fn redeem_code(
    db: &mut dyn Exec,
    code_hash: &str,
    now: i64,
    family: &FamilyRecord,
    refresh: Option<&RefreshTokenRecord>,
    access: &AccessTokenRecord,
    audit: &AuditEvent,
) -> Result<RedeemOutcome, StoreError> {
    let won = db
        .fetch_optional(
            "UPDATE authorization_codes SET used_at = $2 \
             WHERE code_hash = $1 AND used_at IS NULL AND expires_at > $2 \
             AND EXISTS (SELECT 1 FROM grants g \
                         WHERE g.id = authorization_codes.grant_id AND g.revoked_at IS NULL) \
             RETURNING *",
            args![code_hash, now],
        )
        .await?;
    let Some(row) = won else {
        return code_replay(db, code_hash, now, audit).await;
    };
    let mut code = rows::auth_code(row.as_ref())?;
    // The family's scope is the code's: what the user consented to in this authorization
    // (RFC 9700 §4.14.2), not whatever the shared grant row says by the time of a refresh.
    db.execute(
        "INSERT INTO token_families (id, grant_id, client_id, scope, created_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, NULL)",
        args![
            &family.id,
            &code.grant_id,
            &code.client_id,
            &code.scope,
            family.created_at
        ],
    )
    .await?;
    db.execute(
        "UPDATE authorization_codes SET family_id = $2 WHERE code_hash = $1",
        args![code_hash, &family.id],
    )
    .await?;
    if let Some(refresh) = refresh {
        insert_refresh(db, refresh, &family.id, None).await?;
    }
    insert_access(db, access, &family.id, &code.grant_id).await?;
    insert_audit(db, audit).await?;
    code.family_id = Some(family.id.clone());
    Ok(RedeemOutcome::Redeemed(Box::new(code)))
}

/// A code that lost the conditional update: replayed (revoke what it created) or just invalid.
async fn code_replay(
    db: &mut dyn Exec,
    code_hash: &str,
    now: i64,
    audit: &AuditEvent,
) -> Result<RedeemOutcome, StoreError> {
    let row = db
        .fetch_optional(
            "SELECT used_at, family_id FROM authorization_codes WHERE code_hash = $1",
            args![code_hash],
        )
        .await?;
    let Some(row) = row else {
        return Ok(RedeemOutcome::Invalid);
    };
    if row.opt_int("used_at")?.is_none() {
        return Ok(RedeemOutcome::Invalid);
    }
    // OAuth 2.1 §4.1.3: a code used twice revokes the tokens issued from it.
    if let Some(family_id) = row.opt_text("family_id")? {
        revoke_family(db, &family_id, now).await?;
    }
    insert_audit(db, &reuse_detected(audit, now, "authorization_code")).await?;
    Ok(RedeemOutcome::Replayed)
}

/// Rotation (OAuth 2.1 §4.3.1, refresh token rotation for public clients).
#[allow(clippy::too_many_arguments)]
pub(super) async fn rotate(
    db: &mut dyn Exec,
    old_hash: &str,
    now: i64,
    grace_seconds: i64,
    new_refresh: &RefreshTokenRecord,
    access: &AccessTokenRecord,
    replay: &[u8],
    audit: &AuditEvent,
) -> Result<RotateOutcome, StoreError> {
    // The liveness checks are correlated `EXISTS` (not `family_id IN (SELECT … all live
    // families)`): SQLite ran the `IN` list over every live family, so a refresh cost grew with
    // the table (7x from 1k to 10k grants in benches/performance); `EXISTS` is a primary-key
    // lookup on both databases.
    // The family's grant and when that grant was last marked used come back with the winning
    // update (subqueries in RETURNING: both databases accept them), instead of a statement each.
    let won = db
        .fetch_optional(
            "UPDATE refresh_tokens SET used_at = $2, replay = $3 \
             WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2 \
             AND EXISTS (SELECT 1 FROM token_families f JOIN grants g ON g.id = f.grant_id \
                         WHERE f.id = refresh_tokens.family_id \
                         AND f.revoked_at IS NULL AND g.revoked_at IS NULL) \
             RETURNING family_id, \
             (SELECT f.grant_id FROM token_families f WHERE f.id = refresh_tokens.family_id) AS grant_id, \
             (SELECT g.last_used_at FROM token_families f JOIN grants g ON g.id = f.grant_id \
              WHERE f.id = refresh_tokens.family_id) AS grant_last_used_at",
            args![old_hash, now, replay],
        )
        .await?;
    let Some(row) = won else {
        return rotation_loser(db, old_hash, now, grace_seconds, audit).await;
    };
    let family_id = row.text("family_id")?;
    let grant = row.text("grant_id")?;
    insert_refresh(db, new_refresh, &family_id, Some(old_hash)).await?;
    insert_access_row(db, access, &family_id, &grant).await?;
    // The grant was marked used within the minute (the common case of a busy client): the
    // conditional update below would change nothing, so it is not sent. A concurrent writer
    // can only have moved `last_used_at` forward, which keeps skipping it right.
    if row
        .opt_int("grant_last_used_at")?
        .is_none_or(|at| at <= access.created_at - GRANT_TOUCH_SECONDS)
    {
        touch_grant(db, &grant, access.created_at).await?;
    }
    insert_audit(db, audit).await?;
    Ok(RotateOutcome::Rotated)
}

/// The old token was not rotatable now: decide between a grace-window retry, reuse, or invalid.
async fn rotation_loser(
    db: &mut dyn Exec,
    old_hash: &str,
    now: i64,
    grace_seconds: i64,
    audit: &AuditEvent,
) -> Result<RotateOutcome, StoreError> {
    let row = db
        .fetch_optional(
            "SELECT r.used_at AS used_at, r.replay AS replay, r.family_id AS family_id, f.revoked_at AS family_revoked_at, \
             g.revoked_at AS grant_revoked_at, c.token_hash AS child_hash, c.used_at AS child_used_at \
             FROM refresh_tokens r JOIN token_families f ON f.id = r.family_id \
             JOIN grants g ON g.id = f.grant_id \
             LEFT JOIN refresh_tokens c ON c.parent_hash = r.token_hash \
             WHERE r.token_hash = $1",
            args![old_hash],
        )
        .await?;
    let Some(row) = row else {
        return Ok(RotateOutcome::Invalid);
    };
    if row.opt_int("family_revoked_at")?.is_some() || row.opt_int("grant_revoked_at")?.is_some() {
        return Ok(RotateOutcome::Invalid);
    }
    let Some(used_at) = row.opt_int("used_at")? else {
        // Unused yet not rotatable: it has expired.
        return Ok(RotateOutcome::Invalid);
    };
    let child_unused =
        row.opt_text("child_hash")?.is_some() && row.opt_int("child_used_at")?.is_none();
    if now - used_at <= grace_seconds && child_unused {
        if let Some(bytes) = row.opt_blob("replay")? {
            return Ok(RotateOutcome::Replay(bytes));
        }
    }
    revoke_family(db, &row.text("family_id")?, now).await?;
    insert_audit(db, &reuse_detected(audit, now, "refresh_token")).await?;
    Ok(RotateOutcome::ReuseDetected)
}

async fn insert_refresh(
    db: &mut dyn Exec,
    t: &RefreshTokenRecord,
    family_id: &str,
    parent: Option<&str>,
) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO refresh_tokens (token_hash, family_id, parent_hash, created_at, expires_at, used_at, replay) \
         VALUES ($1, $2, $3, $4, $5, NULL, NULL)",
        args![&t.token_hash, family_id, parent, t.created_at, t.expires_at],
    )
    .await?;
    Ok(())
}

/// How often at most a grant's "last used" (shown at /account) is written.
const GRANT_TOUCH_SECONDS: i64 = 60;

pub(super) async fn insert_access(
    db: &mut dyn Exec,
    t: &AccessTokenRecord,
    family_id: &str,
    grant_id: &str,
) -> Result<(), StoreError> {
    insert_access_row(db, t, family_id, grant_id).await?;
    // Every issuance (code redemption, refresh) marks the grant used.
    touch_grant(db, grant_id, t.created_at).await
}

async fn insert_access_row(
    db: &mut dyn Exec,
    t: &AccessTokenRecord,
    family_id: &str,
    grant_id: &str,
) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO access_tokens (jti, family_id, grant_id, client_id, created_at, expires_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, NULL)",
        args![&t.jti, family_id, grant_id, &t.client_id, t.created_at, t.expires_at],
    )
    .await?;
    Ok(())
}

/// The grant's "last used" shown at /account, written at most once a minute per grant.
async fn touch_grant(db: &mut dyn Exec, grant_id: &str, now: i64) -> Result<(), StoreError> {
    db.execute(
        "UPDATE grants SET last_used_at = $2 WHERE id = $1 \
         AND (last_used_at IS NULL OR last_used_at <= $3)",
        args![grant_id, now, now - GRANT_TOUCH_SECONDS],
    )
    .await?;
    Ok(())
}

/// Keeps the first revocation time if the family was already revoked.
async fn revoke_family(db: &mut dyn Exec, family_id: &str, now: i64) -> Result<u64, StoreError> {
    db.execute(
        "UPDATE token_families SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
        args![family_id, now],
    )
    .await
}

pub(super) async fn get_refresh_token(
    db: &mut dyn Exec,
    token_hash: &str,
) -> Result<Option<RefreshTokenView>, StoreError> {
    let row = db
        .fetch_optional(
            concat!(
                "SELECT ",
                refresh_cols!(),
                ", ",
                family_cols!(),
                ", ",
                grant_cols!(),
                ", ",
                grant_upstream_cols!(),
                ", ",
                user_cols!(),
                " FROM refresh_tokens r JOIN token_families f ON f.id = r.family_id \
                 JOIN grants g ON g.id = f.grant_id LEFT JOIN users u ON u.id = g.user_id \
                 WHERE r.token_hash = $1"
            ),
            args![token_hash],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let r = row.as_ref();
    Ok(Some(RefreshTokenView {
        token: rows::refresh(r)?,
        family: rows::family(r)?,
        grant: rows::grant(r)?,
        upstream: rows::upstream_session(r)?,
        user: rows::user_aliased(r)?,
    }))
}

pub(super) async fn get_access_token(
    db: &mut dyn Exec,
    jti: &str,
) -> Result<Option<AccessTokenView>, StoreError> {
    let row = db
        .fetch_optional(
            concat!(
                "SELECT ",
                access_cols!(),
                ", f.revoked_at AS f_revoked_at, ",
                grant_cols!(),
                " FROM access_tokens a JOIN token_families f ON f.id = a.family_id \
                 JOIN grants g ON g.id = a.grant_id WHERE a.jti = $1"
            ),
            args![jti],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let r = row.as_ref();
    Ok(Some(AccessTokenView {
        token: rows::access(r)?,
        family_revoked_at: r.opt_int("f_revoked_at")?,
        grant: rows::grant(r)?,
    }))
}

/// RFC 7009: revoking a known token again is not an error; the first revocation time is kept.
pub(super) async fn revoke_access(
    db: &mut dyn Exec,
    jti: &str,
    now: i64,
    audit: &AuditEvent,
) -> Result<bool, StoreError> {
    let n = db
        .execute(
            "UPDATE access_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE jti = $1",
            args![jti, now],
        )
        .await?;
    if n == 0 {
        return Ok(false);
    }
    insert_audit(db, audit).await?;
    Ok(true)
}

/// RFC 7009 §2.1: revoking a refresh token revokes its family (and so the access tokens of it).
pub(super) async fn revoke_refresh_family(
    db: &mut dyn Exec,
    token_hash: &str,
    now: i64,
    audit: &AuditEvent,
) -> Result<bool, StoreError> {
    let row = db
        .fetch_optional(
            "SELECT family_id FROM refresh_tokens WHERE token_hash = $1",
            args![token_hash],
        )
        .await?;
    let Some(row) = row else { return Ok(false) };
    revoke_family(db, &row.text("family_id")?, now).await?;
    insert_audit(db, audit).await?;
    Ok(true)
}

/// Unexpired access tokens revoked since `since`, directly or through their family or grant.
/// Scans the unexpired tokens (`access_tokens_expires_idx`), so its cost follows the number of
/// live access tokens, once per gateway poll.
pub(super) async fn revoked_access(
    db: &mut dyn Exec,
    since: i64,
    now: i64,
    after: &str,
    limit: i64,
) -> Result<Vec<String>, StoreError> {
    let rows = db
        .fetch_all(REVOKED_ACCESS_TOKENS, args![since, now, after, limit])
        .await?;
    rows.iter().map(|r| r.text("jti")).collect()
}

/// The gateway's revocation poll: `jti`s of access tokens unexpired at `$2` revoked at or after
/// `$1` (themselves, their family or their grant), after `$3` in `jti` order, at most `$4`.
///
/// One branch per place a revocation is recorded, so each starts from the partial index on that
/// table's `revoked_at` (migration 0003) and reaches the tokens through the family/grant index:
/// it reads the rows revoked in the window, not every unexpired token. `CROSS JOIN` makes
/// SQLite, which has no statistics, keep the revoked table as the outer loop instead of
/// walking `access_tokens` by `expires_at` or `jti` (sqlite.org/optoverview.html, "Manual
/// Control Of Query Plans Using CROSS JOIN"); Postgres plans it as the inner join it is. `UNION` drops a token
/// revoked twice (itself and its grant). Ordered by `jti` so the caller pages by keyset
/// (`$3` = the last `jti` of the previous page) without skipping or repeating a row.
pub const REVOKED_ACCESS_TOKENS: &str = "SELECT jti FROM (\
     SELECT a.jti FROM access_tokens a \
      WHERE a.revoked_at >= $1 AND a.expires_at > $2 AND a.jti > $3 \
     UNION SELECT a.jti FROM token_families f CROSS JOIN access_tokens a \
      WHERE a.family_id = f.id AND f.revoked_at >= $1 AND a.expires_at > $2 AND a.jti > $3 \
     UNION SELECT a.jti FROM grants g CROSS JOIN access_tokens a \
      WHERE a.grant_id = g.id AND g.revoked_at >= $1 AND a.expires_at > $2 AND a.jti > $3\
     ) r ORDER BY jti LIMIT $4";
