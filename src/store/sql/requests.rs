//! Pending authorization requests: stored before consent, approved once, taken once.

use super::exec::{args, Exec};
use super::rows;
use crate::store::{AuthRequestRecord, StoreError, UpstreamLeg};

pub(super) async fn insert(db: &mut dyn Exec, r: &AuthRequestRecord) -> Result<(), StoreError> {
    let (state_hash, sealed, expires_at) = match &r.upstream {
        Some(leg) => (
            Some(leg.state_hash.as_str()),
            Some(leg.sealed.as_str()),
            leg.expires_at,
        ),
        None => (None, None, r.expires_at),
    };
    db.execute(
        "INSERT INTO authorization_requests (id_hash, client_id, redirect_uri, client_state, \
         code_challenge, scope, resource, upstream_id, browser_hash, csrf_hash, extra, created_at, \
         expires_at, state_hash, upstream_sealed, redirect_uri_sent) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)",
        args![
            &r.id_hash,
            &r.client_id,
            &r.redirect_uri,
            &r.client_state,
            &r.code_challenge,
            &r.scope,
            &r.resource,
            &r.upstream_id,
            &r.browser_hash,
            &r.csrf_hash,
            &r.extra,
            r.created_at,
            expires_at,
            state_hash,
            sealed,
            r.redirect_uri_sent,
        ],
    )
    .await?;
    Ok(())
}

pub(super) async fn get(
    db: &mut dyn Exec,
    id_hash: &str,
    now: i64,
) -> Result<Option<AuthRequestRecord>, StoreError> {
    let row = db
        .fetch_optional(
            "SELECT * FROM authorization_requests WHERE id_hash = $1 AND expires_at > $2",
            args![id_hash, now],
        )
        .await?;
    rows::opt(row, rows::auth_request)
}

/// The conditional update is the whole check: unexpired and not yet approved, in one statement.
/// The leg's upstream becomes the request's (a choice made on the consent page).
pub(super) async fn approve(
    db: &mut dyn Exec,
    id_hash: &str,
    leg: &UpstreamLeg,
    now: i64,
) -> Result<bool, StoreError> {
    let n = db
        .execute(
            "UPDATE authorization_requests SET state_hash = $2, upstream_sealed = $3, expires_at = $4, \
             upstream_id = $6 WHERE id_hash = $1 AND state_hash IS NULL AND expires_at > $5",
            args![
                id_hash,
                &leg.state_hash,
                &leg.sealed,
                leg.expires_at,
                now,
                &leg.upstream_id
            ],
        )
        .await?;
    Ok(n == 1)
}

/// Single use: the DELETE both checks and consumes, so two callbacks with the same state cannot
/// both get the request. An expired request is left for `purge_expired`.
pub(super) async fn take_by_state(
    db: &mut dyn Exec,
    state_hash: &str,
    now: i64,
) -> Result<Option<AuthRequestRecord>, StoreError> {
    let row = db
        .fetch_optional(
            "DELETE FROM authorization_requests WHERE state_hash = $1 AND expires_at > $2 RETURNING *",
            args![state_hash, now],
        )
        .await?;
    rows::opt(row, rows::auth_request)
}

pub(super) async fn take(
    db: &mut dyn Exec,
    id_hash: &str,
) -> Result<Option<AuthRequestRecord>, StoreError> {
    let row = db
        .fetch_optional(
            "DELETE FROM authorization_requests WHERE id_hash = $1 RETURNING *",
            args![id_hash],
        )
        .await?;
    rows::opt(row, rows::auth_request)
}
