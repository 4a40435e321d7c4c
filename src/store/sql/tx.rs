//! [`StoreTx`] over the shared SQL: one write transaction ([`super::Dialect::BEGIN_WRITE`]) that
//! the service commits; the same query functions as the one-shot methods, run on it.

use async_trait::async_trait;

use super::exec::TxExec;
use super::{
    account, admin_tokens, audit, clients, grants, initial_tokens, keys, lists, requests, tokens,
    vault,
};
use crate::store::{
    AccessTokenRecord, AccountSessionRecord, AdminTokenRecord, AuditEvent, AuthCodeRecord,
    AuthRequestRecord, ClientRecord, ConsentRecord, FamilyRecord, GrantRecord,
    InitialAccessTokenRecord, InitialTokenUse, RedeemOutcome, RefreshTokenRecord, RotateOutcome,
    SigningKeyRecord, StoreError, StoreTx, UpstreamLeg, UserRecord,
};

/// A write transaction of a [`super::SqlStore`]; dropping it rolls back.
pub struct SqlTx(pub(super) Box<dyn TxExec>);

#[async_trait]
impl StoreTx for SqlTx {
    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.0.commit().await
    }

    async fn insert_client(
        &mut self,
        client: &ClientRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        clients::insert(self.0.exec(), client, audit).await
    }

    async fn get_client(&mut self, client_id: &str) -> Result<Option<ClientRecord>, StoreError> {
        clients::get(self.0.exec(), client_id).await
    }

    async fn update_client(
        &mut self,
        client: &ClientRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        clients::update(self.0.exec(), client, audit).await
    }

    async fn delete_client(
        &mut self,
        client_id: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        clients::delete(self.0.exec(), client_id, now, audit).await
    }

    async fn touch_client(&mut self, client_id: &str, now: i64) -> Result<(), StoreError> {
        clients::touch(self.0.exec(), client_id, now).await
    }

    async fn insert_auth_request(&mut self, request: &AuthRequestRecord) -> Result<(), StoreError> {
        requests::insert(self.0.exec(), request).await
    }

    async fn get_auth_request(
        &mut self,
        id_hash: &str,
        now: i64,
    ) -> Result<Option<AuthRequestRecord>, StoreError> {
        requests::get(self.0.exec(), id_hash, now).await
    }

    async fn approve_auth_request(
        &mut self,
        id_hash: &str,
        upstream: &UpstreamLeg,
        now: i64,
    ) -> Result<bool, StoreError> {
        requests::approve(self.0.exec(), id_hash, upstream, now).await
    }

    async fn take_auth_request_by_state(
        &mut self,
        state_hash: &str,
        now: i64,
    ) -> Result<Option<AuthRequestRecord>, StoreError> {
        requests::take_by_state(self.0.exec(), state_hash, now).await
    }

    async fn take_auth_request(
        &mut self,
        id_hash: &str,
    ) -> Result<Option<AuthRequestRecord>, StoreError> {
        requests::take(self.0.exec(), id_hash).await
    }

    async fn upsert_user(&mut self, user: &UserRecord) -> Result<String, StoreError> {
        grants::upsert_user(self.0.exec(), user).await
    }

    async fn upsert_consent(&mut self, consent: &ConsentRecord) -> Result<(), StoreError> {
        grants::upsert_consent(self.0.exec(), consent).await
    }

    async fn grant_and_issue_code(
        &mut self,
        grant: &GrantRecord,
        code: &AuthCodeRecord,
        audit: &AuditEvent,
    ) -> Result<String, StoreError> {
        grants::grant_and_issue_code(self.0.exec(), grant, code, audit).await
    }

    async fn revoke_grant(
        &mut self,
        grant_id: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        grants::revoke_grant(self.0.exec(), grant_id, now, audit).await
    }

    async fn bind_grant_upstream(
        &mut self,
        grant_id: &str,
        upstream_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        vault::bind(self.0.exec(), grant_id, upstream_id, now).await
    }

    async fn update_grant_upstream_tokens(
        &mut self,
        grant_id: &str,
        sealed: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        grants::update_upstream_tokens(self.0.exec(), grant_id, sealed, now).await
    }

    async fn redeem_code(
        &mut self,
        code_hash: &str,
        now: i64,
        family: &FamilyRecord,
        refresh: Option<&RefreshTokenRecord>,
        access: &AccessTokenRecord,
        audit: &AuditEvent,
    ) -> Result<RedeemOutcome, StoreError> {
        tokens::redeem_code(
            self.0.exec(),
            code_hash,
            now,
            family,
            refresh,
            access,
            audit,
        )
        .await
    }

    async fn rotate_refresh_token(
        &mut self,
        old_hash: &str,
        now: i64,
        grace_seconds: i64,
        new_refresh: &RefreshTokenRecord,
        access: &AccessTokenRecord,
        replay: &[u8],
        audit: &AuditEvent,
    ) -> Result<RotateOutcome, StoreError> {
        tokens::rotate(
            self.0.exec(),
            old_hash,
            now,
            grace_seconds,
            new_refresh,
            access,
            replay,
            audit,
        )
        .await
    }

    async fn revoke_access_token(
        &mut self,
        jti: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        tokens::revoke_access(self.0.exec(), jti, now, audit).await
    }

    async fn revoke_refresh_family(
        &mut self,
        token_hash: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<bool, StoreError> {
        tokens::revoke_refresh_family(self.0.exec(), token_hash, now, audit).await
    }

    async fn get_grant(&mut self, grant_id: &str) -> Result<Option<GrantRecord>, StoreError> {
        grants::get_grant(self.0.exec(), grant_id).await
    }

    async fn active_grant_ids(
        &mut self,
        user_id: Option<&str>,
        client_id: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        lists::active_grant_ids(self.0.exec(), user_id, client_id).await
    }

    async fn insert_admin_token(
        &mut self,
        token: &AdminTokenRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        admin_tokens::insert(self.0.exec(), token, audit).await
    }

    async fn revoke_admin_token(
        &mut self,
        id_or_name: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<AdminTokenRecord, StoreError> {
        admin_tokens::revoke(self.0.exec(), id_or_name, now, audit).await
    }

    async fn insert_initial_access_token(
        &mut self,
        token: &InitialAccessTokenRecord,
        audit: &AuditEvent,
    ) -> Result<(), StoreError> {
        initial_tokens::insert(self.0.exec(), token, audit).await
    }

    async fn revoke_initial_access_token(
        &mut self,
        id_or_name: &str,
        now: i64,
        audit: &AuditEvent,
    ) -> Result<InitialAccessTokenRecord, StoreError> {
        initial_tokens::revoke(self.0.exec(), id_or_name, now, audit).await
    }

    async fn use_initial_access_token(
        &mut self,
        token_hash: &str,
        now: i64,
    ) -> Result<InitialTokenUse, StoreError> {
        initial_tokens::use_token(self.0.exec(), token_hash, now).await
    }

    async fn count_dynamic_clients(&mut self, serialize: bool) -> Result<i64, StoreError> {
        initial_tokens::count_dynamic(self.0.exec(), serialize).await
    }

    async fn insert_audit_event(&mut self, event: &AuditEvent) -> Result<(), StoreError> {
        audit::insert_audit(self.0.exec(), event).await
    }

    async fn insert_account_session(
        &mut self,
        session: &AccountSessionRecord,
    ) -> Result<(), StoreError> {
        account::insert_session(self.0.exec(), session).await
    }

    async fn list_signing_keys(&mut self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        keys::list(self.0.exec()).await
    }

    async fn insert_signing_key(&mut self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        keys::insert(self.0.exec(), key).await
    }

    async fn promote_signing_key(&mut self, kid: &str, now: i64) -> Result<(), StoreError> {
        keys::promote(self.0.exec(), kid, now).await
    }
}
