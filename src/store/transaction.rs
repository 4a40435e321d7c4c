//! The write transaction a service holds: [`StoreTx`], opened by [`super::Store::begin`].
//!
//! A service that makes several decisions (a login: user, consent, grant, code, audit) runs them
//! in one `StoreTx` and commits once, so a failure half-way leaves nothing behind (STYLE 16, 21).
//! Dropping the transaction without [`StoreTx::commit`] rolls it back. The methods mirror the
//! one-shot methods of [`super::Store`] of the same name; reads inside a transaction see its own
//! uncommitted writes.

use async_trait::async_trait;

use super::{
    AccessTokenRecord, AccountSessionRecord, AdminTokenRecord, AuditEvent, AuthCodeRecord,
    AuthRequestRecord, ClientRecord, ConsentRecord, FamilyRecord, GrantRecord,
    InitialAccessTokenRecord, InitialTokenUse, RedeemOutcome, RefreshTokenRecord, RotateOutcome,
    SigningKeyRecord, StoreError, UpstreamLeg, UserRecord,
};

/// An open write transaction (on SQLite it holds the database's write lock until it ends, so
/// hold it only around store calls, never across a call to an upstream).
#[async_trait]
pub trait StoreTx: Send {
    /// Makes every write of this transaction durable.
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;

    // --- clients -----------------------------------------------------------------------------
    /// As [`super::Store::insert_client`].
    async fn insert_client(
        &mut self,
        client: &ClientRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// As [`super::Store::get_client`].
    async fn get_client(&mut self, client_id: &str) -> Result<Option<ClientRecord>, StoreError>;
    /// As [`super::Store::update_client`].
    async fn update_client(
        &mut self,
        client: &ClientRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// As [`super::Store::delete_client`].
    async fn delete_client(
        &mut self,
        client_id: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError>;
    /// As [`super::Store::touch_client`].
    async fn touch_client(&mut self, client_id: &str, now: i64) -> Result<(), StoreError>;

    // --- pending authorization requests ------------------------------------------------------
    /// As [`super::Store::insert_auth_request`].
    async fn insert_auth_request(&mut self, request: &AuthRequestRecord) -> Result<(), StoreError>;
    /// As [`super::Store::get_auth_request`].
    async fn get_auth_request(
        &mut self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<AuthRequestRecord>, StoreError>;
    /// As [`super::Store::approve_auth_request`].
    async fn approve_auth_request(
        &mut self,
        id_hash: &str,
        upstream: &UpstreamLeg,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// As [`super::Store::take_auth_request_by_state`].
    async fn take_auth_request_by_state(
        &mut self,
        state_hash: &str,
        now: i64,
    ) -> Result<Option<AuthRequestRecord>, StoreError>;
    /// As [`super::Store::take_auth_request`].
    async fn take_auth_request(
        &mut self,
        id_hash: &str,
    ) -> Result<Option<AuthRequestRecord>, StoreError>;

    // --- users, consents, grants ---------------------------------------------------------------
    /// As [`super::Store::upsert_user`].
    async fn upsert_user(&mut self, user: &UserRecord) -> Result<String, StoreError>;
    /// As [`super::Store::upsert_consent`].
    async fn upsert_consent(&mut self, consent: &ConsentRecord) -> Result<(), StoreError>;
    /// As [`super::Store::grant_and_issue_code`].
    async fn grant_and_issue_code(
        &mut self,
        grant: &GrantRecord,
        code: &AuthCodeRecord,
        audit: &AuditEvent,
    ) -> Result<String, StoreError>;
    /// As [`super::Store::revoke_grant`].
    async fn revoke_grant(
        &mut self,
        grant_id: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError>;
    /// Ties the grant's upstream tokens (just stored by a login) to `upstream_id`, confirmed at
    /// `now`, ending any upstream lease and back-off. `NotFound` for an unknown grant.
    async fn bind_grant_upstream(
        &mut self,
        grant_id: &str,
        upstream_id: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// As [`super::Store::update_grant_upstream_tokens`].
    async fn update_grant_upstream_tokens(
        &mut self,
        grant_id: &str,
        sealed: &str,
        now: i64,
    ) -> Result<(), StoreError>;

    // --- codes and tokens ----------------------------------------------------------------------
    /// As [`super::Store::redeem_code`].
    async fn redeem_code(
        &mut self,
        code_hash: &str,
        now: i64,
        family: &FamilyRecord,
        refresh: Option<&RefreshTokenRecord>,
        access: &AccessTokenRecord,
        audit: &AuditEvent,
    ) -> Result<RedeemOutcome, StoreError>;
    /// As [`super::Store::rotate_refresh_token`].
    #[allow(clippy::too_many_arguments)]
    async fn rotate_refresh_token(
        &mut self,
        old_hash: &str,
        now: i64,
        grace_seconds: i64,
        new_refresh: &RefreshTokenRecord,
        access: &AccessTokenRecord,
        replay: &[u8],
        audit: &AuditEvent,
    ) -> Result<RotateOutcome, StoreError>;
    /// As [`super::Store::revoke_access_token`].
    async fn revoke_access_token(
        &mut self,
        jti: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError>;
    /// As [`super::Store::revoke_refresh_family`].
    async fn revoke_refresh_family(
        &mut self,
        token_hash: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError>;

    // --- admin API -----------------------------------------------------------------------------
    /// As [`super::Store::get_grant`].
    async fn get_grant(&mut self, grant_id: &str) -> Result<Option<GrantRecord>, StoreError>;
    /// The ids of every active grant of `user_id` and/or `client_id`, oldest first (all of them,
    /// not a page: the caller revokes them in this transaction).
    async fn active_grant_ids(
        &mut self,
        user_id: Option<&str>,
        client_id: Option<&str>,
    ) -> Result<Vec<String>, StoreError>;
    /// As [`super::Store::insert_admin_token`].
    async fn insert_admin_token(
        &mut self,
        token: &AdminTokenRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// As [`super::Store::revoke_admin_token`].
    async fn revoke_admin_token(
        &mut self,
        id_or_name: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<AdminTokenRecord, StoreError>;

    // --- registration policy -------------------------------------------------------------------
    /// Stores a new initial access token (by hash). `Conflict` when an unrevoked token has its
    /// name.
    async fn insert_initial_access_token(
        &mut self,
        token: &InitialAccessTokenRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// Revokes the unrevoked initial access token with this id, else with this name; returns
    /// it. `NotFound` when none matches. The audit detail gains `revoked_token_id` and
    /// `revoked_token_name`.
    async fn revoke_initial_access_token(
        &mut self,
        id_or_name: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<InitialAccessTokenRecord, StoreError>;
    /// Counts one use of the initial access token with this hash if it is usable at `now`
    /// (unrevoked, unexpired, uses left), atomically: of concurrent uses of a token with one
    /// use left exactly one is [`InitialTokenUse::Counted`].
    async fn use_initial_access_token(
        &mut self,
        token_hash: &str,
        now: i64,
    ) -> Result<InitialTokenUse, StoreError>;
    /// How many dynamically registered (`dcr`) clients exist; with `serialize`, concurrent
    /// transactions asking with `serialize` wait for this one to end first (the cap check).
    async fn count_dynamic_clients(&mut self, serialize: bool) -> Result<i64, StoreError>;

    // --- signing keys ---------------------------------------------------------------------------
    /// As [`super::Store::list_signing_keys`].
    async fn list_signing_keys(&mut self) -> Result<Vec<SigningKeyRecord>, StoreError>;
    /// As [`super::Store::insert_signing_key`].
    async fn insert_signing_key(&mut self, key: &SigningKeyRecord) -> Result<(), StoreError>;
    /// As [`super::Store::promote_signing_key`].
    async fn promote_signing_key(&mut self, kid: &str, now: i64) -> Result<(), StoreError>;

    // --- audit ---------------------------------------------------------------------------------
    /// Appends an audit event; it commits (or rolls back) with the rest of the transaction.
    async fn insert_audit_event(&mut self, event: &AuditEvent) -> Result<(), StoreError>;

    // --- end users' account pages (/account) -------------------------------------------------
    /// Starts a signed-in `/account` session.
    async fn insert_account_session(
        &mut self,
        session: &AccountSessionRecord,
    ) -> Result<(), StoreError>;
}
