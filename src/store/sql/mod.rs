//! The one SQL implementation of [`Store`], shared by the Postgres and SQLite backends.
//!
//! The queries are written once in the SQL both databases accept; what differs per database
//! (how a write transaction starts, how a unique violation names its constraint, the migrator)
//! is the [`Dialect`] each backend module implements. Every mutating trait method runs in one
//! write transaction that the method commits, so a fact, its side effects and its audit row
//! commit together; reads use a pooled connection. [`Store::begin`] hands the same kind of
//! transaction to a service as a [`tx::SqlTx`], running the same query functions.

mod account;
mod admin_tokens;
mod audit;
mod clients;
mod constraints;
mod direct_tokens;
mod exec;
mod grants;
mod housekeeping;
mod initial_tokens;
mod keys;
mod lists;
mod open;
mod requests;
mod rows;
pub mod seed;
mod stats;
mod tokens;
mod tx;
mod vault;

use async_trait::async_trait;
use sqlx::error::DatabaseError;
use sqlx::{Database, Pool};

pub use self::account::MAX_CONNECTED_APPS;
pub(crate) use self::constraints::{db_error, UNIQUE_CONSTRAINTS};
use self::exec::Exec;
pub use self::housekeeping::STALE_REPLAY_PURGE;
pub use self::open::Open;
pub use self::tokens::REVOKED_ACCESS_TOKENS;
use super::{
    AccessTokenRecord, AccessTokenView, AccountLoginRecord, AccountSessionRecord, AdminTokenRecord,
    AuditAfter, AuditCount, AuditEntry, AuditEvent, AuditFilter, AuthCodeRecord, AuthRequestRecord,
    ClientFilter, ClientRecord, ConnectedApp, ConsentRecord, ConsoleSessionRecord, FamilyRecord,
    GrantFilter, GrantRecord, InitialAccessTokenRecord, Inventory, PageRequest, RedeemOutcome,
    RefreshTokenRecord, RefreshTokenView, RotateOutcome, SigningKeyRecord, Store, StoreError,
    StoreTx, UpstreamLeg, UpstreamRecord, UpstreamSession, UserRecord,
};

/// What a database must tell the shared SQL about itself.
#[async_trait]
pub trait Dialect: Database {
    /// Name for logs and `check-config`.
    const BACKEND: &'static str;
    /// The statement opening a write transaction. SQLite needs `BEGIN IMMEDIATE` so that two
    /// writers queue on the busy timeout instead of failing when a read lock would be upgraded.
    const BEGIN_WRITE: &'static str;
    /// Whether the database runs one writer at a time, so this process queues its write
    /// transactions itself ([`exec::WriteGate`]) instead of in the database's busy handler.
    const ONE_WRITER: bool = false;
    /// Rows affected by a statement (the driver's result type has no common trait for it).
    fn rows_affected(result: &Self::QueryResult) -> u64;
    /// The meaning of the unique constraint a violation names, if it is one of ours.
    fn conflict(err: &dyn DatabaseError) -> Option<&'static str>;
    /// Runs the embedded migrations of this dialect.
    async fn migrate(pool: &Pool<Self>) -> Result<(), StoreError>;
    /// [`Store::watch_changes`]: a feed where the database has one.
    async fn watch(
        _pool: &Pool<Self>,
    ) -> Result<Option<Box<dyn crate::store::ChangeFeed>>, StoreError> {
        Ok(None)
    }
}

/// A [`Store`] over a sqlx pool of database `DB`.
pub struct SqlStore<DB: Dialect> {
    pool: Pool<DB>,
    /// Set where [`Dialect::ONE_WRITER`].
    writers: Option<exec::WriteGate>,
    /// What this process committed through `pool` ([`Store::local_changes`]).
    changes: std::sync::Arc<crate::store::LocalChanges>,
}

impl<DB: Dialect> SqlStore<DB> {
    /// Wraps an existing pool (migrations are not run).
    #[must_use]
    pub fn from_pool(pool: Pool<DB>) -> Self {
        Self {
            pool,
            writers: DB::ONE_WRITER.then(exec::WriteGate::default),
            changes: std::sync::Arc::default(),
        }
    }

    /// The underlying pool.
    #[must_use]
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }
}

/// Runs `$body` (an expression using `$tx: &mut dyn Exec`) in a write transaction and commits it
/// when the body succeeded; on error the transaction is dropped, which rolls it back.
macro_rules! in_tx {
    ($self:ident, |$tx:ident| $body:expr) => {{
        let mut conn = Open::begin($self).await?;
        let $tx: &mut dyn Exec = conn.exec();
        let out = $body.await?;
        conn.commit().await?;
        Ok(out)
    }};
}

/// Runs `$body` on a pooled connection, outside any explicit transaction.
macro_rules! on_conn {
    ($self:ident, |$db:ident| $body:expr) => {{
        let mut conn = $self.conn().await?;
        let $db: &mut dyn Exec = conn.as_mut();
        $body.await
    }};
}

#[async_trait]
impl<DB: Dialect> Store for SqlStore<DB>
where
    Self: Open + Send + Sync,
{
    async fn migrate(&self) -> Result<(), StoreError> {
        DB::migrate(&self.pool).await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        on_conn!(self, |db| db.execute("SELECT 1", exec::args![])).map(drop)
    }

    fn backend(&self) -> &'static str {
        DB::BACKEND
    }

    fn pool_stats(&self) -> crate::store::PoolStats {
        crate::store::PoolStats {
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max: self.pool.options().get_max_connections(),
        }
    }

    async fn begin(&self) -> Result<Box<dyn StoreTx>, StoreError> {
        Ok(Box::new(tx::SqlTx(Open::begin(self).await?)))
    }

    async fn insert_client(
        &self,
        client: &ClientRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        in_tx!(self, |tx| clients::insert(tx, client, audit))
    }

    async fn get_client(&self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        on_conn!(self, |db| clients::get(db, client_id))
    }

    async fn update_client(
        &self,
        client: &ClientRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        in_tx!(self, |tx| clients::update(tx, client, audit))
    }

    async fn delete_client(
        &self,
        client_id: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        in_tx!(self, |tx| clients::delete(tx, client_id, now, audit))
    }

    async fn touch_client(&self, client_id: &str, now: i64) -> Result<(), StoreError> {
        on_conn!(self, |db| clients::touch(db, client_id, now))
    }

    async fn record_client_error(
        &self,
        client_id: &str,
        reason: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        on_conn!(self, |db| clients::record_error(db, client_id, reason, now))
    }

    async fn delete_unused_clients(&self, older_than: i64, now: i64) -> Result<u64, StoreError> {
        in_tx!(self, |tx| clients::delete_unused(tx, older_than, now))
    }

    async fn insert_auth_request(&self, request: &AuthRequestRecord) -> Result<(), StoreError> {
        on_conn!(self, |db| requests::insert(db, request))
    }

    async fn get_auth_request(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<AuthRequestRecord>, StoreError> {
        on_conn!(self, |db| requests::get(db, id_hash, now))
    }

    async fn approve_auth_request(
        &self,
        id_hash: &str,
        upstream: &UpstreamLeg,
        now: i64,
    ) -> Result<bool, StoreError> {
        on_conn!(self, |db| requests::approve(db, id_hash, upstream, now))
    }

    async fn take_auth_request_by_state(
        &self,
        state_hash: &str,
        now: i64,
    ) -> Result<Option<AuthRequestRecord>, StoreError> {
        on_conn!(self, |db| requests::take_by_state(db, state_hash, now))
    }

    async fn take_auth_request(
        &self,
        id_hash: &str,
    ) -> Result<Option<AuthRequestRecord>, StoreError> {
        on_conn!(self, |db| requests::take(db, id_hash))
    }

    async fn upsert_user(&self, user: &UserRecord) -> Result<String, StoreError> {
        on_conn!(self, |db| grants::upsert_user(db, user))
    }

    async fn get_user(&self, user_id: &str) -> Result<Option<UserRecord>, StoreError> {
        on_conn!(self, |db| grants::get_user(db, user_id))
    }

    async fn upsert_consent(&self, consent: &ConsentRecord) -> Result<(), StoreError> {
        on_conn!(self, |db| grants::upsert_consent(db, consent))
    }

    async fn grant_and_issue_code(
        &self,
        grant: &GrantRecord,
        code: &AuthCodeRecord,
        audit: &AuditEvent,
    ) -> Result<String, StoreError> {
        in_tx!(self, |tx| grants::grant_and_issue_code(
            tx, grant, code, audit
        ))
    }

    async fn get_grant(&self, grant_id: &str) -> Result<Option<GrantRecord>, StoreError> {
        on_conn!(self, |db| grants::get_grant(db, grant_id))
    }

    async fn revoke_grant(
        &self,
        grant_id: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        in_tx!(self, |tx| grants::revoke_grant(tx, grant_id, now, audit))
    }

    async fn update_grant_upstream_tokens(
        &self,
        grant_id: &str,
        sealed: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        on_conn!(self, |db| grants::update_upstream_tokens(
            db, grant_id, sealed, now
        ))
    }

    async fn get_upstream_session(
        &self,
        grant_id: &str,
    ) -> Result<Option<UpstreamSession>, StoreError> {
        on_conn!(self, |db| vault::get(db, grant_id))
    }

    async fn take_upstream_lease(
        &self,
        grant_id: &str,
        holder: &str,
        sealed: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        on_conn!(self, |db| vault::take_lease(
            db, grant_id, holder, sealed, now, until
        ))
    }

    async fn store_upstream_refresh(
        &self,
        grant_id: &str,
        holder: &str,
        sealed: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        on_conn!(self, |db| vault::store_refreshed(
            db, grant_id, holder, sealed, now
        ))
    }

    async fn release_upstream_lease(
        &self,
        grant_id: &str,
        holder: &str,
        retry_at: i64,
    ) -> Result<(), StoreError> {
        on_conn!(self, |db| vault::release(db, grant_id, holder, retry_at))
    }

    async fn redeem_code(
        &self,
        code_hash: &str,
        now: i64,
        family: &FamilyRecord,
        refresh: Option<&RefreshTokenRecord>,
        access: &AccessTokenRecord,
        audit: &AuditEvent,
    ) -> Result<RedeemOutcome, StoreError> {
        in_tx!(self, |tx| tokens::redeem_code(
            tx, code_hash, now, family, refresh, access, audit
        ))
    }

    async fn use_assertion_jti(
        &self,
        issuer: &str,
        jti: &str,
        expires_at: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        on_conn!(self, |db| direct_tokens::use_assertion_jti(
            db, issuer, jti, expires_at, now
        ))
    }

    async fn issue_direct_token(
        &self,
        user: &UserRecord,
        grant: &GrantRecord,
        access: &AccessTokenRecord,
        audit: &AuditEvent,
    ) -> Result<String, StoreError> {
        in_tx!(self, |tx| direct_tokens::issue_direct_token(
            tx, user, grant, access, audit
        ))
    }

    async fn get_auth_code(&self, code_hash: &str) -> Result<Option<AuthCodeRecord>, StoreError> {
        on_conn!(self, |db| tokens::get_auth_code(db, code_hash))
    }

    async fn get_refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<RefreshTokenView>, StoreError> {
        on_conn!(self, |db| tokens::get_refresh_token(db, token_hash))
    }

    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        now: i64,
        grace_seconds: i64,
        new_refresh: &RefreshTokenRecord,
        access: &AccessTokenRecord,
        replay: &[u8],
        audit: &AuditEvent,
    ) -> Result<RotateOutcome, StoreError> {
        in_tx!(self, |tx| tokens::rotate(
            tx,
            old_hash,
            now,
            grace_seconds,
            new_refresh,
            access,
            replay,
            audit
        ))
    }

    async fn get_access_token(&self, jti: &str) -> Result<Option<AccessTokenView>, StoreError> {
        on_conn!(self, |db| tokens::get_access_token(db, jti))
    }

    async fn revoke_access_token(
        &self,
        jti: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        in_tx!(self, |tx| tokens::revoke_access(tx, jti, now, audit))
    }

    async fn revoke_refresh_family(
        &self,
        token_hash: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        in_tx!(self, |tx| tokens::revoke_refresh_family(
            tx, token_hash, now, audit
        ))
    }

    async fn list_signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        on_conn!(self, |db| keys::list(db))
    }

    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        on_conn!(self, |db| keys::insert(db, key))
    }

    async fn promote_signing_key(&self, kid: &str, now: i64) -> Result<(), StoreError> {
        in_tx!(self, |tx| keys::promote(tx, kid, now))
    }

    async fn prune_retired_signing_keys(&self, retired_before: i64) -> Result<u64, StoreError> {
        on_conn!(self, |db| keys::prune_retired(db, retired_before))
    }

    async fn save_upstream_status(&self, upstream: &UpstreamRecord) -> Result<(), StoreError> {
        on_conn!(self, |db| housekeeping::save_upstream(db, upstream))
    }

    async fn get_upstream_status(
        &self,
        upstream_id: &str,
    ) -> Result<Option<UpstreamRecord>, StoreError> {
        on_conn!(self, |db| housekeeping::get_upstream(db, upstream_id))
    }

    async fn insert_audit_event(&self, event: &AuditEvent) -> Result<(), StoreError> {
        on_conn!(self, |db| audit::insert_audit(db, event))
    }

    async fn list_audit_events(&self, limit: i64) -> Result<Vec<AuditEvent>, StoreError> {
        on_conn!(self, |db| audit::list(db, limit))
    }

    async fn purge_expired(&self, now: i64) -> Result<u64, StoreError> {
        in_tx!(self, |tx| housekeeping::purge(tx, now))
    }

    async fn list_audit_page(
        &self,
        filter: &AuditFilter,
        after: Option<AuditAfter>,
        limit: i64,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        on_conn!(self, |db| lists::audit_events(db, filter, after, limit))
    }

    async fn count_audit_events(
        &self,
        from: i64,
        to: i64,
        by_detail: &[&str],
    ) -> Result<Vec<AuditCount>, StoreError> {
        on_conn!(self, |db| stats::audit_counts(db, from, to, by_detail))
    }

    async fn purge_audit_events(&self, before: i64, limit: i64) -> Result<u64, StoreError> {
        on_conn!(self, |db| housekeeping::purge_audit(db, before, limit))
    }

    async fn revoked_access_tokens(
        &self,
        since: i64,
        now: i64,
        after: &str,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        on_conn!(self, |db| tokens::revoked_access(
            db, since, now, after, limit
        ))
    }

    async fn list_clients(
        &self,
        filter: &ClientFilter,
        page: &PageRequest,
    ) -> Result<Vec<ClientRecord>, StoreError> {
        on_conn!(self, |db| lists::clients(db, filter, page))
    }

    async fn inventory(&self) -> Result<Inventory, StoreError> {
        on_conn!(self, |db| stats::inventory(db))
    }

    async fn list_users(&self, page: &PageRequest) -> Result<Vec<UserRecord>, StoreError> {
        on_conn!(self, |db| lists::users(db, page))
    }

    async fn search_users(
        &self,
        term: &str,
        page: &PageRequest,
    ) -> Result<Vec<UserRecord>, StoreError> {
        on_conn!(self, |db| lists::search_users(db, term, page))
    }

    async fn list_grants(
        &self,
        filter: &GrantFilter,
        page: &PageRequest,
    ) -> Result<Vec<GrantRecord>, StoreError> {
        on_conn!(self, |db| lists::grants(db, filter, page))
    }

    async fn insert_admin_token(
        &self,
        token: &AdminTokenRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        in_tx!(self, |tx| admin_tokens::insert(tx, token, audit))
    }

    async fn list_admin_tokens(&self) -> Result<Vec<AdminTokenRecord>, StoreError> {
        on_conn!(self, |db| admin_tokens::list(db))
    }

    async fn find_admin_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<AdminTokenRecord>, StoreError> {
        on_conn!(self, |db| admin_tokens::find_active(db, token_hash))
    }

    async fn touch_admin_token(&self, id: &str, now: i64) -> Result<(), StoreError> {
        on_conn!(self, |db| admin_tokens::touch(db, id, now))
    }

    async fn revoke_admin_token(
        &self,
        id_or_name: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<AdminTokenRecord, StoreError> {
        in_tx!(self, |tx| admin_tokens::revoke(tx, id_or_name, now, audit))
    }

    async fn insert_account_login(&self, login: &AccountLoginRecord) -> Result<(), StoreError> {
        on_conn!(self, |db| account::insert_login(db, login))
    }

    async fn take_account_login(
        &self,
        state_hash: &str,
        now: i64,
    ) -> Result<Option<AccountLoginRecord>, StoreError> {
        on_conn!(self, |db| account::take_login(db, state_hash, now))
    }

    async fn get_account_session(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<AccountSessionRecord>, StoreError> {
        on_conn!(self, |db| account::get_session(db, id_hash, now))
    }

    async fn touch_account_session(&self, id_hash: &str, now: i64) -> Result<(), StoreError> {
        on_conn!(self, |db| account::touch_session(
            db,
            account::Sessions::Account,
            id_hash,
            now
        ))
    }

    async fn delete_account_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        on_conn!(self, |db| account::delete_session(
            db,
            account::Sessions::Account,
            id_hash
        ))
    }

    async fn list_connected_apps(&self, user_id: &str) -> Result<Vec<ConnectedApp>, StoreError> {
        on_conn!(self, |db| account::connected_apps(db, user_id))
    }

    async fn open_console_session(
        &self,
        session: &ConsoleSessionRecord,
        replaces: Option<&str>,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        in_tx!(self, |tx| account::open_console_session(
            tx, session, replaces, audit
        ))
    }

    async fn get_console_session(
        &self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<ConsoleSessionRecord>, StoreError> {
        on_conn!(self, |db| account::get_console_session(db, id_hash, now))
    }

    async fn touch_console_session(&self, id_hash: &str, now: i64) -> Result<(), StoreError> {
        on_conn!(self, |db| account::touch_session(
            db,
            account::Sessions::Console,
            id_hash,
            now
        ))
    }

    async fn delete_console_session(&self, id_hash: &str) -> Result<bool, StoreError> {
        on_conn!(self, |db| account::delete_session(
            db,
            account::Sessions::Console,
            id_hash
        ))
    }

    async fn list_initial_access_tokens(
        &self,
    ) -> Result<Vec<InitialAccessTokenRecord>, StoreError> {
        on_conn!(self, |db| initial_tokens::list(db))
    }

    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: i64,
        until: i64,
    ) -> Result<bool, StoreError> {
        on_conn!(self, |db| initial_tokens::try_lease(
            db, name, holder, now, until
        ))
    }

    async fn watch_changes(&self) -> Result<Option<Box<dyn crate::store::ChangeFeed>>, StoreError> {
        DB::watch(&self.pool).await
    }

    fn local_changes(&self) -> &crate::store::LocalChanges {
        &self.changes
    }
}
