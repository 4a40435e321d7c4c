//! Tokens issued straight from the token endpoint, with no code or refresh token behind them
//! (`client_credentials`, and later `jwt-bearer`), and the single-use record of the JWT
//! assertions that authenticated or carried them (RFC 7523 §3 item 7).

use super::audit::insert_audit;
use super::exec::{args, Exec};
use super::grants::upsert_user;
use super::tokens::insert_access;
use crate::store::{AccessTokenRecord, AuditEvent, GrantRecord, StoreError, UserRecord};

/// Records `jti` of `issuer` until `expires_at`; true when this is its first use. An entry past
/// its expiry (not purged yet) is taken over: an expired assertion is refused before it gets
/// here, so only a new assertion can reuse the value.
pub(super) async fn use_assertion_jti(
    db: &mut dyn Exec,
    issuer: &str,
    jti: &str,
    expires_at: i64,
    now: i64,
) -> Result<bool, StoreError> {
    let row = db
        .fetch_optional(
            "INSERT INTO used_assertions (issuer, jti, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (issuer, jti) DO UPDATE SET expires_at = excluded.expires_at \
             WHERE used_assertions.expires_at <= $4 \
             RETURNING jti",
            args![issuer, jti, expires_at, now],
        )
        .await?;
    Ok(row.is_some())
}

/// Upserts `user`, takes the active grant of (user, client, resource) or creates `grant`
/// (its scope becomes `grant.scope`), stores `access` under the grant's one family of direct
/// tokens (created on first use), and writes `audit` naming the grant. Returns the grant id.
pub(super) async fn issue_direct_token(
    db: &mut dyn Exec,
    user: &UserRecord,
    grant: &GrantRecord,
    access: &AccessTokenRecord,
    audit: &AuditEvent,
) -> Result<String, StoreError> {
    let user_id = upsert_user(db, user).await?;
    let row = db
        .fetch_optional(
            "INSERT INTO grants (id, user_id, client_id, resource, scope, upstream_tokens, created_at, \
             updated_at, revoked_at) VALUES ($1, $2, $3, $4, $5, NULL, $6, $6, NULL) \
             ON CONFLICT (user_id, client_id, resource) WHERE revoked_at IS NULL \
             DO UPDATE SET scope = excluded.scope, updated_at = excluded.updated_at \
             RETURNING id",
            args![&grant.id, &user_id, &grant.client_id, &grant.resource, &grant.scope, grant.created_at],
        )
        .await?;
    let grant_id = row.ok_or(StoreError::NotFound)?.text("id")?;
    // One family holds every direct token of a grant: there is no refresh chain to keep apart,
    // and a busy bot must not add a family row per token.
    let family = db
        .fetch_optional(
            "SELECT id FROM token_families WHERE grant_id = $1 AND revoked_at IS NULL \
             ORDER BY created_at LIMIT 1",
            args![&grant_id],
        )
        .await?;
    let family_id = match family {
        Some(row) => row.text("id")?,
        None => {
            let id = uuid::Uuid::new_v4().to_string();
            db.execute(
                "INSERT INTO token_families (id, grant_id, client_id, scope, created_at, revoked_at) \
                 VALUES ($1, $2, $3, $4, $5, NULL)",
                args![&id, &grant_id, &grant.client_id, &grant.scope, access.created_at],
            )
            .await?;
            id
        }
    };
    insert_access(db, access, &family_id, &grant_id).await?;
    insert_audit(
        db,
        &AuditEvent {
            grant_id: Some(grant_id.clone()),
            user_id: Some(user_id),
            ..audit.clone()
        },
    )
    .await?;
    Ok(grant_id)
}
