//! Users, consents and grants: the authorization a user gave a client for a resource.

use super::audit::insert_audit;
use super::exec::{args, Exec};
use super::rows::{self, grant_cols, json_list};
use crate::store::{
    AuditEvent, AuthCodeRecord, ConsentRecord, GrantRecord, StoreError, UserRecord,
};

/// Keyed by (issuer, subject), OIDC Core §5.7: a returning user keeps the id of the first login,
/// whichever configured upstream id they came through; the same subject from another issuer is
/// another person.
pub(super) async fn upsert_user(db: &mut dyn Exec, u: &UserRecord) -> Result<String, StoreError> {
    let groups = json_list(&u.groups)?;
    let row = db
        .fetch_optional(
            "INSERT INTO users (id, upstream_id, issuer, subject, email, name, groups, created_at, last_login_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (issuer, subject) DO UPDATE SET upstream_id = excluded.upstream_id, \
             email = excluded.email, name = excluded.name, groups = excluded.groups, \
             last_login_at = excluded.last_login_at \
             RETURNING id",
            args![&u.id, &u.upstream_id, &u.issuer, &u.subject, &u.email, &u.name, &groups, u.created_at, u.last_login_at],
        )
        .await?;
    row.ok_or(StoreError::NotFound)?.text("id")
}

pub(super) async fn get_user(
    db: &mut dyn Exec,
    user_id: &str,
) -> Result<Option<UserRecord>, StoreError> {
    let row = db
        .fetch_optional("SELECT * FROM users WHERE id = $1", args![user_id])
        .await?;
    rows::opt(row, rows::user)
}

pub(super) async fn upsert_consent(db: &mut dyn Exec, c: &ConsentRecord) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO consents (user_id, client_id, scope, resource, created_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (user_id, client_id, resource, scope) DO UPDATE SET created_at = excluded.created_at",
        args![&c.user_id, &c.client_id, &c.scope, &c.resource, c.created_at],
    )
    .await?;
    Ok(())
}

/// The upsert targets the partial unique index of active grants, so concurrent logins of the same
/// user and client converge on one grant instead of failing. The code and the audit event are
/// attached to the grant actually stored, which may be an earlier one than `g.id`.
pub(super) async fn grant_and_issue_code(
    db: &mut dyn Exec,
    g: &GrantRecord,
    code: &AuthCodeRecord,
    audit: &AuditEvent,
) -> Result<String, StoreError> {
    let row = db
        .fetch_optional(
            "INSERT INTO grants (id, user_id, client_id, resource, scope, upstream_tokens, created_at, \
             updated_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL) \
             ON CONFLICT (user_id, client_id, resource) WHERE revoked_at IS NULL \
             DO UPDATE SET scope = excluded.scope, upstream_tokens = excluded.upstream_tokens, \
             updated_at = excluded.updated_at \
             RETURNING id",
            args![&g.id, &g.user_id, &g.client_id, &g.resource, &g.scope, &g.upstream_tokens, g.created_at, g.updated_at],
        )
        .await?;
    let grant_id = row.ok_or(StoreError::NotFound)?.text("id")?;
    db.execute(
        "INSERT INTO authorization_codes (code_hash, grant_id, client_id, user_id, redirect_uri, \
         redirect_uri_sent, code_challenge, scope, resource, created_at, expires_at, used_at, \
         family_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, NULL, NULL)",
        args![
            &code.code_hash,
            &grant_id,
            &code.client_id,
            &code.user_id,
            &code.redirect_uri,
            code.redirect_uri_sent,
            &code.code_challenge,
            &code.scope,
            &code.resource,
            code.created_at,
            code.expires_at,
        ],
    )
    .await?;
    insert_audit(
        db,
        &AuditEvent {
            grant_id: Some(grant_id.clone()),
            ..audit.clone()
        },
    )
    .await?;
    Ok(grant_id)
}

pub(super) async fn get_grant(
    db: &mut dyn Exec,
    grant_id: &str,
) -> Result<Option<GrantRecord>, StoreError> {
    let row = db
        .fetch_optional(
            concat!("SELECT ", grant_cols!(), " FROM grants g WHERE g.id = $1"),
            args![grant_id],
        )
        .await?;
    rows::opt(row, rows::grant)
}

/// Families are revoked with the grant; access tokens are seen as revoked through their family
/// and grant, so they need no write of their own.
pub(super) async fn revoke_grant(
    db: &mut dyn Exec,
    grant_id: &str,
    now: i64,
    audit: &AuditEvent,
) -> Result<bool, StoreError> {
    let revoked = db
        .fetch_optional(
            "UPDATE grants SET revoked_at = $2, updated_at = $2 WHERE id = $1 AND revoked_at IS NULL \
             RETURNING user_id",
            args![grant_id, now],
        )
        .await?;
    let Some(row) = revoked else {
        return Ok(false);
    };
    // The event names the grant's user, whoever revoked it.
    let mut audit = audit.clone();
    if audit.user_id.is_none() {
        audit.user_id = Some(row.text("user_id")?);
    }
    drop(row);
    db.execute(
        "UPDATE token_families SET revoked_at = $2 WHERE grant_id = $1 AND revoked_at IS NULL",
        args![grant_id, now],
    )
    .await?;
    insert_audit(db, &audit).await?;
    Ok(true)
}

pub(super) async fn update_upstream_tokens(
    db: &mut dyn Exec,
    grant_id: &str,
    sealed: &str,
    now: i64,
) -> Result<(), StoreError> {
    let n = db
        .execute(
            "UPDATE grants SET upstream_tokens = $2, updated_at = $3 WHERE id = $1",
            args![grant_id, sealed, now],
        )
        .await?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
