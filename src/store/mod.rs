//! Persistence: the `Store` trait every backend implements, the records it moves, and its errors.
//!
//! Only this module (and its submodules) contains SQL or imports sqlx. Each one-shot trait method
//! is one atomic unit of work: a backend runs it in one transaction, so security side effects
//! (revoking a family on refresh-token reuse, the audit row for a fact) commit together with the
//! fact. A service that decides across several writes opens a [`StoreTx`] with
//! [`Store::begin`] instead and commits once.
//! Timestamps are Unix seconds (`i64`) in both databases so that the Clock alone decides time.

mod account;
mod records;
pub mod request_context;
mod sql;
mod transaction;

pub mod changes;
pub mod postgres;
pub mod sqlite;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

pub use account::*;
pub use changes::{Change, ChangeFeed};
pub use records::*;
pub use sql::seed;
pub use sql::MAX_CONNECTED_APPS;
/// The statement housekeeping runs to drop stale refresh replay answers; public so the
/// contract tests can check that both databases serve it from an index.
pub use sql::{REVOKED_ACCESS_TOKENS, STALE_REPLAY_PURGE};
pub use transaction::StoreTx;

/// Errors of the storage layer. Internal causes are logged by the caller, never shown.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness constraint was violated; the string names the constraint's meaning.
    #[error("conflict: {0}")]
    Conflict(&'static str),
    /// The row the operation needed is not there.
    #[error("not found")]
    NotFound,
    /// The database could not be reached or answered with an error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// A migration failed.
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A stored value could not be decoded (corrupt row, bad JSON column).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl StoreError {
    /// Whether the database is unreachable or refusing work for now (pool timeout, lost
    /// connection, server shutting down or starting up): a retry later can succeed, so callers
    /// answer 503 `temporarily_unavailable` instead of 500.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        let Self::Database(e) = self else {
            return false;
        };
        match e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => true,
            // SQLSTATE class 08 (connection exception), 57P01..57P03 (admin or crash
            // shutdown, cannot connect now): the Postgres server is going away or not up yet.
            sqlx::Error::Database(db) => db
                .code()
                .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
            _ => false,
        }
    }
}

/// How a store's connection pool grows and how long a request waits for a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    /// The most connections one process opens (Postgres).
    pub max_connections: u32,
    /// How long a request waits for a connection (including opening one) before it fails as
    /// unavailable: the bound on how long a request hangs while the database is down.
    pub acquire_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

/// Connects to the database named by `url` (`postgres://…` or `sqlite://…`) with the default
/// [`PoolOptions`].
///
/// # Errors
/// Fails when the URL scheme is unknown or the database cannot be reached.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    connect_with(url, PoolOptions::default()).await
}

/// [`connect`] with the pool sized and bounded by `pool` (Postgres; SQLite keeps its own).
///
/// # Errors
/// As [`connect`].
pub async fn connect_with(url: &str, pool: PoolOptions) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(
            postgres::PostgresStore::connect_with(url, pool).await?,
        ))
    } else if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::connect(url).await?))
    } else {
        Err(StoreError::Corrupt(format!(
            "unsupported database_url scheme (use postgres:// or sqlite://): {}",
            url.split(':').next().unwrap_or_default()
        )))
    }
}

/// Outcome of presenting a refresh token for rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// This call won: the old token is now used, the new refresh token and access token rows are
    /// stored, and `replay` was saved on the old row for the grace window.
    Rotated,
    /// The token was already rotated within the grace window and its child is still unused: here
    /// is the sealed response saved by the winner (decryptable only with the old token).
    Replay(Vec<u8>),
    /// The token was used before, outside the grace window (or its child was already used):
    /// the whole family has been revoked, committed, and an audit event written.
    ReuseDetected,
    /// Unknown token, expired token, revoked family or revoked grant.
    Invalid,
}

/// Outcome of redeeming an authorization code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedeemOutcome {
    /// The code was unused and valid; it is now marked used, and the family, refresh token and
    /// access token passed in are stored.
    Redeemed(Box<AuthCodeRecord>),
    /// The code was already used: the family it created has been revoked (committed) and an
    /// audit event written.
    Replayed,
    /// Unknown or expired code.
    Invalid,
}

/// Connections of a store's pool at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections, idle or in use.
    pub size: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// The most the pool opens.
    pub max: u32,
}

/// The storage contract. Both backends pass the same contract test suite.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Applies pending migrations. Concurrent callers must not race (a lock is taken).
    async fn migrate(&self) -> Result<(), StoreError>;
    /// Cheap liveness check of the connection.
    async fn ping(&self) -> Result<(), StoreError>;
    /// Name of the backend, for logs and `check-config`.
    fn backend(&self) -> &'static str;
    /// The connection pool's size now, for the metrics (sampled at scrape).
    fn pool_stats(&self) -> PoolStats {
        PoolStats::default()
    }
    /// Opens a write transaction (SQLite: `BEGIN IMMEDIATE`), which the caller commits; dropped
    /// uncommitted, it rolls back.
    async fn begin(&self) -> Result<Box<dyn StoreTx>, StoreError>;

    // --- clients -----------------------------------------------------------------------------
    /// Inserts a new client. `Conflict` if the client_id exists.
    async fn insert_client(
        &self,
        client: &ClientRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// Loads a client by id, disabled or not.
    async fn get_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError>;
    /// Replaces the mutable fields of a client (RFC 7592 update). `NotFound` if absent.
    async fn update_client(
        &self,
        client: &ClientRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// Deletes a client and revokes every grant it holds. Returns false when it did not exist.
    async fn delete_client(
        &self,
        client_id: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError>;
    /// Records that the client was used (authorize or token), for expiry of unused registrations.
    async fn touch_client(&self, client_id: &str, now: i64) -> Result<(), StoreError>;
    /// Records the client's last refused token request or failed flow (shown by the admin
    /// API). Rewritten at most once a minute while the reason stays the same.
    async fn record_client_error(
        &self,
        client_id: &str,
        reason: &str,
        now: i64,
    ) -> Result<(), StoreError>;
    /// Deletes every dynamically registered client last used (or, if never used, registered)
    /// before `older_than` that holds no active grant, with one `client_expired` audit event
    /// each, at `now`. Returns how many were deleted. COMPAT C12: a client that comes back with
    /// an expired id gets 401 `invalid_client` and registers again.
    async fn delete_unused_clients(&self, older_than: i64, now: i64) -> Result<u64, StoreError>;

    // --- pending authorization requests ------------------------------------------------------
    /// Stores a pending request (before consent). Keyed by `id_hash`.
    async fn insert_auth_request(&self, request: &AuthRequestRecord) -> Result<(), StoreError>;
    /// Loads a pending request by the hash of its consent id, if not expired at `now`.
    async fn get_auth_request(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<AuthRequestRecord>, StoreError>;
    /// Marks a pending request approved and records the upstream leg (state hash, PKCE verifier,
    /// nonce, sealed). Only succeeds once, on an unexpired, not yet approved request; returns
    /// false otherwise.
    async fn approve_auth_request(
        &self,
        id_hash: &str,
        upstream: &UpstreamLeg,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Single use: deletes and returns the approved request whose upstream state hashes to
    /// `state_hash`, if it has not expired at `now`.
    async fn take_auth_request_by_state(
        &self,
        state_hash: &str,
        now: i64,
    ) -> Result<Option<AuthRequestRecord>, StoreError>;
    /// Deletes a pending request (consent denied). Returns it if it existed.
    async fn take_auth_request(
        &self,
        id_hash: &str,
    ) -> Result<Option<AuthRequestRecord>, StoreError>;

    // --- users, consents, grants ---------------------------------------------------------------
    /// Inserts or updates the user identified by (issuer, subject); returns its id.
    async fn upsert_user(&self, user: &UserRecord) -> Result<String, StoreError>;
    /// Loads a user by id.
    async fn get_user(&self, user_id: &str) -> Result<Option<UserRecord>, StoreError>;
    /// Records a consent (user, client, scope, resource); replaces an earlier identical one.
    async fn upsert_consent(&self, consent: &ConsentRecord) -> Result<(), StoreError>;
    /// Creates the grant for (user, client, resource) or, if an active one exists, updates its
    /// scope and upstream tokens; stores the authorization code for it; writes the audit event.
    /// Returns the grant id.
    async fn grant_and_issue_code(
        &self,
        grant: &GrantRecord,
        code: &AuthCodeRecord,
        audit: &AuditEvent,
    ) -> Result<String, StoreError>;
    /// Loads a grant by id.
    async fn get_grant(&self, grant_id: &str) -> Result<Option<GrantRecord>, StoreError>;
    /// Revokes a grant and every family and token under it. Returns false if already revoked or absent.
    async fn revoke_grant(
        &self,
        grant_id: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError>;
    /// Replaces the encrypted upstream token set of a grant (after an upstream refresh).
    async fn update_grant_upstream_tokens(
        &self,
        grant_id: &str,
        sealed: &str,
        now: i64,
    ) -> Result<(), StoreError>;

    // --- upstream token vault (docs/security.md) -----------------------------------------------
    /// A grant's upstream side: sealed tokens, last confirmation, back-off and lease.
    async fn get_upstream_session(
        &self,
        grant_id: &str,
    ) -> Result<Option<UpstreamSession>, StoreError>;
    /// Compare-and-set: takes the grant's upstream lease for `holder` until `until` when no
    /// unexpired lease is held at `now`, the grant is active and its sealed upstream tokens are
    /// still `sealed` (the ones the caller read). True when this call took it.
    async fn take_upstream_lease(
        &self,
        grant_id: &str,
        holder: &str,
        sealed: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError>;
    /// The lease holder stores the refreshed upstream tokens (sealed), confirmed at `now`, and
    /// releases the lease, in one statement. False (nothing written) when `holder` lost the
    /// lease.
    async fn store_upstream_refresh(
        &self,
        grant_id: &str,
        holder: &str,
        sealed: &str,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// The lease holder releases the lease after a transient failure; no new attempt before
    /// `retry_at`.
    async fn release_upstream_lease(
        &self,
        grant_id: &str,
        holder: &str,
        retry_at: i64,
    ) -> Result<(), StoreError>;

    // --- codes and tokens ----------------------------------------------------------------------
    /// Redeems a code: see [`RedeemOutcome`]. On success stores `family`, `refresh` (if any) and
    /// `access`, all in one transaction with `audit`.
    async fn redeem_code(
        &self,
        code_hash: &str,
        now: i64,
        family: &FamilyRecord,
        refresh: Option<&RefreshTokenRecord>,
        access: &AccessTokenRecord,
        audit: &AuditEvent,
    ) -> Result<RedeemOutcome, StoreError>;
    /// Records the `jti` of a JWT assertion from `issuer` (`client:<id>` for client assertions)
    /// until `expires_at`; true on its first use, false when it was used before and has not
    /// expired at `now` (RFC 7523 §3 item 7: replay refused on every replica).
    async fn use_assertion_jti(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError>;
    /// Issues a token with no code or refresh token behind it (`client_credentials`): upserts
    /// `user`, takes the active grant of (user, `grant.client_id`, `grant.resource`) or creates
    /// `grant` (its scope becomes `grant.scope`), stores `access` under it and writes `audit`
    /// naming the grant, in one transaction. Returns the grant id.
    async fn issue_direct_token(
        &self,
        user: &UserRecord,
        grant: &GrantRecord,
        access: &AccessTokenRecord,
        audit: &AuditEvent,
    ) -> Result<String, StoreError>;
    /// Loads a code by hash (any state), so the service can check its bindings before redeeming.
    async fn get_auth_code(&self, code_hash: &str) -> Result<Option<AuthCodeRecord>, StoreError>;
    /// Looks up a refresh token (any state) with its family and grant, for the service to decide.
    async fn get_refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<RefreshTokenView>, StoreError>;
    /// Rotates a refresh token: see [`RotateOutcome`]. `grace_seconds` is the replay window.
    #[allow(clippy::too_many_arguments)]
    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        now: i64,
        grace_seconds: i64,
        new_refresh: &RefreshTokenRecord,
        access: &AccessTokenRecord,
        replay: &[u8],
        audit: &AuditEvent,
    ) -> Result<RotateOutcome, StoreError>;
    /// Looks up an access token by jti with the state of its family and grant.
    async fn get_access_token(&self, jti: &str) -> Result<Option<AccessTokenView>, StoreError>;
    /// Revokes an access token (RFC 7009). Returns false if unknown.
    async fn revoke_access_token(
        &self,
        jti: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError>;
    /// Revokes the family of a refresh token (RFC 7009 on a refresh token). Returns false if unknown.
    async fn revoke_refresh_family(
        &self,
        token_hash: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError>;

    // --- signing keys -------------------------------------------------------------------------
    /// All signing keys, newest first. The store knows no key lifetime: the caller decides
    /// which retired keys are still worth publishing.
    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError>;
    /// Inserts a key. If `key.state` is `current` and another current key exists, `Conflict`.
    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError>;
    /// Makes `kid` the current key and the previous current one retired, atomically.
    async fn promote_signing_key(&self, kid: &str, now: i64) -> Result<(), StoreError>;
    /// Deletes keys retired before `retired_before` (the caller passes now minus the longest
    /// access-token lifetime, so no valid token still needs them); returns how many.
    async fn prune_retired_signing_keys(&self, retired_before: i64) -> Result<u64, StoreError>;

    // --- upstreams, audit, housekeeping ------------------------------------------------------
    /// Saves the upstream's discovered metadata and its status (`ok` or an error text).
    async fn save_upstream_status(&self, upstream: &UpstreamRecord) -> Result<(), StoreError>;
    /// Loads the saved status of an upstream.
    async fn get_upstream_status(
        &self,
        upstream_id: &str,
    ) -> Result<Option<UpstreamRecord>, StoreError>;
    /// Appends an audit event on its own (facts without a row of their own, e.g. login_failed).
    async fn insert_audit_event(&self, event: &AuditEvent) -> Result<(), StoreError>;
    /// Newest audit events first, at most `limit`.
    async fn list_audit_events(&self, limit: i64) -> Result<Vec<AuditEvent>, StoreError>;
    /// One keyset page of the audit events matching `filter`, newest first by `(at, seq)`,
    /// after `after`, at most `limit`.
    async fn list_audit_page(
        &self,
        filter: &AuditFilter,
        after: Option<AuditAfter>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError>;
    /// The audit events recorded in `[from, to)`, counted by kind; for the kinds in
    /// `by_detail`, by kind and detail text.
    async fn count_audit_events(
        &self,
        from: i64,
        to: i64,
        by_detail: &[&str],
    ) -> Result<Vec<AuditCount>, StoreError>;
    /// Deletes expired pending requests, codes, refresh tokens and access tokens; returns the
    /// number removed.
    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError>;
    /// Deletes at most `limit` audit events recorded before `before`, oldest first; returns
    /// how many. The caller repeats while full batches come back (`audit.retention_days`).
    async fn purge_audit_events(&self, before: i64, limit: i64) -> Result<u64, StoreError>;
    /// The `jti`s of access tokens unexpired at `now` that were revoked (themselves, their
    /// family or their grant) at or after `since`, each once, in `jti` order after `after` (""
    /// for the first page), at most `limit`. The gateway polls this page by page to learn
    /// revocations without a database round trip per request.
    async fn revoked_access_tokens(
        &self,
        since: i64,
        now: i64,
        after: &str,
        limit: i64,
    ) -> Result<Vec<String>, StoreError>;

    // --- admin API -----------------------------------------------------------------------------
    /// One keyset page of clients, newest first (see [`PageRequest`]).
    async fn list_clients(
        &self,
        filter: &ClientFilter,
        page: &PageRequest,
    ) -> Result<Vec<ClientRecord>, StoreError>;
    /// How many clients (by kind), users and active grants there are.
    async fn inventory(&self) -> Result<Inventory, StoreError>;
    /// One keyset page of users, newest first.
    async fn list_users(&self, page: &PageRequest) -> Result<Vec<UserRecord>, StoreError>;
    /// Users whose id or upstream subject is `term`, or whose email contains it
    /// (case-insensitively for ASCII), in the same keyset pages as [`Store::list_users`].
    async fn search_users(
        &self,
        term: &str,
        page: &PageRequest,
    ) -> Result<Vec<UserRecord>, StoreError>;
    /// One keyset page of grants, newest first.
    async fn list_grants(
        &self,
        filter: &GrantFilter,
        page: &PageRequest,
    ) -> Result<Vec<GrantRecord>, StoreError>;
    /// Stores a new admin token (by hash). `Conflict` when an unrevoked token has its name.
    async fn insert_admin_token(
        &self,
        token: &AdminTokenRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// Every admin token, revoked ones included, newest first.
    async fn list_admin_tokens(&self) -> Result<Vec<AdminTokenRecord>, StoreError>;
    /// The unrevoked admin token with this hash.
    async fn find_admin_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<AdminTokenRecord>, StoreError>;
    /// Records that a token was used at `now` (at most once a minute is written).
    async fn touch_admin_token(&self, id: &str, now: i64) -> Result<(), StoreError>;
    /// Revokes the unrevoked admin token with this id, else with this name; returns it.
    /// `NotFound` when none matches. The audit event's detail gains the revoked token's id and
    /// name (`revoked_token_id`, `revoked_token_name`).
    async fn revoke_admin_token(
        &self,
        id_or_name: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<AdminTokenRecord, StoreError>;

    // --- end users' account pages (/account) -------------------------------------------------
    /// Stores a first-party sign-in in flight.
    async fn insert_account_login(&self, login: &AccountLoginRecord) -> Result<(), StoreError>;
    /// Single use: deletes and returns the sign-in whose upstream state hashes to `state_hash`,
    /// if it has not expired at `now`.
    async fn take_account_login(
        &self,
        state_hash: &str,
        now: i64,
    ) -> Result<Option<AccountLoginRecord>, StoreError>;
    /// The session with this hash, unless past its absolute end at `now`.
    async fn get_account_session(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<AccountSessionRecord>, StoreError>;
    /// Records activity on a session (written at most once a minute).
    async fn touch_account_session(&self, id_hash: &str, now: i64) -> Result<(), StoreError>;
    /// Ends a session; false when there was none.
    async fn delete_account_session(&self, id_hash: &str) -> Result<bool, StoreError>;
    /// The user's active grants with their clients, newest first (at most 200).
    async fn list_connected_apps(&self, user_id: &str) -> Result<Vec<ConnectedApp>, StoreError>;

    // --- admin console sessions -----------------------------------------------------------
    /// Opens a console session and writes its audit event (`admin_console_signed_in`) in one
    /// transaction; a session the browser already had (`replaces`, an id hash) is ended in it
    /// too (session fixation).
    async fn open_console_session(
        &self,
        session: &ConsoleSessionRecord,
        replaces: Option<&str>,
        audit: &AuditEvent,
    ) -> Result<(), StoreError>;
    /// The console session with this hash, unless past its absolute end at `now`.
    async fn get_console_session(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<ConsoleSessionRecord>, StoreError>;
    /// Records activity on a console session (written at most once a minute).
    async fn touch_console_session(&self, id_hash: &str, now: i64) -> Result<(), StoreError>;
    /// Ends a console session; false when there was none.
    async fn delete_console_session(&self, id_hash: &str) -> Result<bool, StoreError>;

    // --- registration policy, cluster jobs -----------------------------------------------------
    /// Every initial access token (RFC 7591 §3), revoked and used-up ones included, newest first.
    async fn list_initial_access_tokens(&self)
        -> Result<Vec<InitialAccessTokenRecord>, StoreError>;
    /// Takes or renews the cluster-wide lease `name` for `holder` until `until`, if it is free
    /// at `now` (absent, expired, or `holder`'s already). Returns whether `holder` now has it;
    /// of several replicas asking at once, exactly one gets it.
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError>;
    /// A feed of the changes other processes commit to what every replica keeps in memory
    /// (revocations, signing keys), delivered as they commit: Postgres LISTEN/NOTIFY. `None`
    /// where the backend has no such channel (SQLite); callers poll either way, the feed only
    /// makes them learn sooner.
    ///
    /// # Errors
    /// The database cannot be reached.
    async fn watch_changes(&self) -> Result<Option<Box<dyn ChangeFeed>>, StoreError> {
        Ok(None)
    }
}
