//! Unique constraints and their meaning, and the mapping of driver errors onto `StoreError`.

use super::Dialect;
use crate::store::StoreError;

/// Our unique constraints: (Postgres constraint or index name, the column list SQLite names in
/// its "UNIQUE constraint failed: …" message, meaning). Kept in step with the migrations.
pub const UNIQUE_CONSTRAINTS: &[(&str, &str, &str)] = &[
    ("upstreams_pk", "upstreams.id", "upstream id"),
    ("clients_pk", "clients.client_id", "client_id"),
    (
        "authorization_requests_pk",
        "authorization_requests.id_hash",
        "authorization request id",
    ),
    (
        "authorization_requests_state_uq",
        "authorization_requests.state_hash",
        "upstream state",
    ),
    ("users_pk", "users.id", "user id"),
    (
        "users_subject_uq",
        "users.issuer, users.subject",
        "user subject",
    ),
    (
        "consents_pk",
        "consents.user_id, consents.client_id, consents.resource, consents.scope",
        "consent",
    ),
    ("grants_pk", "grants.id", "grant id"),
    (
        "grants_active_uq",
        "grants.user_id, grants.client_id, grants.resource",
        "active grant",
    ),
    ("token_families_pk", "token_families.id", "token family id"),
    (
        "authorization_codes_pk",
        "authorization_codes.code_hash",
        "authorization code",
    ),
    (
        "refresh_tokens_pk",
        "refresh_tokens.token_hash",
        "refresh token",
    ),
    (
        "refresh_tokens_parent_uq",
        "refresh_tokens.parent_hash",
        "refresh token already rotated",
    ),
    ("access_tokens_pk", "access_tokens.jti", "access token jti"),
    ("signing_keys_pk", "signing_keys.kid", "signing key kid"),
    (
        "signing_keys_current_uq",
        "signing_keys.state",
        "current signing key",
    ),
    ("audit_events_id_uq", "audit_events.id", "audit event id"),
    ("admin_tokens_pk", "admin_tokens.id", "admin token id"),
    (
        "admin_tokens_hash_uq",
        "admin_tokens.token_hash",
        "admin token",
    ),
    (
        "admin_tokens_active_name_uq",
        "admin_tokens.name",
        "an admin token with this name exists",
    ),
    (
        "initial_access_tokens_pk",
        "initial_access_tokens.id",
        "initial access token id",
    ),
    (
        "initial_access_tokens_hash_uq",
        "initial_access_tokens.token_hash",
        "initial access token",
    ),
    (
        "initial_access_tokens_active_name_uq",
        "initial_access_tokens.name",
        "an initial access token with this name exists",
    ),
    ("leases_pk", "leases.name", "lease name"),
];

/// Maps a driver error: unique violations of known constraints become `Conflict`.
pub fn db_error<DB: Dialect>(err: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &err {
        if let Some(meaning) = DB::conflict(db.as_ref()) {
            return StoreError::Conflict(meaning);
        }
    }
    StoreError::Database(err)
}
