//! The first-party sign-in to the end users' account pages (`/account`): its own pending
//! request (upstream state, nonce and PKCE verifier sealed, bound to the browser), sent to the
//! same upstream with the same callback URL as the MCP flow, so admins register nothing more
//! (COMPAT U1). At the callback the pending request's purpose decides: an `/account` sign-in is
//! taken from `account_logins`, anything else goes on as the MCP flow. The same upstream access
//! policy applies; the result is the verified user, for whom `crate::account` opens a session.

use super::secrets::fresh_leg;
use super::{CallbackParams, Flow, FlowError, Notice};
use crate::oauth::login::UpstreamUser;
use crate::oauth::{crypto, policy, Error};
use crate::store::{AccountLoginRecord, AuditEvent};

/// How the upstream callback ended well: the MCP client's redirect, or an `/account` sign-in.
#[derive(Debug)]
pub enum Completed {
    /// The MCP client's redirect URI with our code.
    Client(String),
    /// A user signed in to `/account`.
    Account(UpstreamUser),
}

/// Associated data of an `/account` sign-in's sealed secrets: bound to its state, and never
/// valid for an MCP client's pending request (`auth_request:…`).
fn account_aad(state_hash: &str) -> Vec<u8> {
    format!("account_login:{state_hash}").into_bytes()
}

impl Flow<'_> {
    /// Starts an `/account` sign-in at `upstream_id` for the browser whose binding value is
    /// `browser`; returns the upstream authorization URL.
    ///
    /// # Errors
    /// An unknown upstream (page), an unreachable one (page), a store failure (internal).
    pub async fn start_account_login(
        &self,
        upstream_id: &str,
        browser: &str,
    ) -> Result<String, FlowError> {
        let upstream = self.core.upstreams.get(upstream_id).ok_or_else(|| {
            FlowError::Page(Error::InvalidRequest(
                "no identity provider with this id is configured".into(),
            ))
        })?;
        let now = self.core.now();
        let fresh = fresh_leg(&self.core.cipher, account_aad).map_err(FlowError::Internal)?;
        let record = AccountLoginRecord {
            state_hash: fresh.state_hash.clone(),
            upstream_id: upstream.id.clone(),
            browser_hash: crypto::hash(browser),
            sealed: fresh.sealed.clone(),
            created_at: now,
            expires_at: now + self.core.settings.tokens.authorization_request_ttl,
        };
        self.core
            .store
            .insert_account_login(&record)
            .await
            .map_err(|e| FlowError::Internal(e.into()))?;
        let url = upstream
            .idp
            .authorization_url(&fresh.request(false, None))
            .await
            .map_err(|e| {
                tracing::warn!(upstream = %upstream.id, error = %e, "upstream authorization URL failed");
                FlowError::Page(Error::TemporarilyUnavailable(
                    "the identity provider cannot be reached right now".into(),
                ))
            })?;
        Ok(url.to_string())
    }

    /// The upstream callback, whatever started it: an `/account` sign-in pending under this
    /// state is completed here, anything else by [`Flow::callback`].
    ///
    /// # Errors
    /// As [`Flow::callback`]; for an `/account` sign-in, notices while the pending request is
    /// unknown or another browser's, then an `account_login_failed` audit event and a page.
    pub async fn complete_callback(&self, p: CallbackParams) -> Result<Completed, FlowError> {
        let now = self.core.now();
        let state_hash = crypto::hash(&p.state);
        // An MCP client's flow first, the common case: both takes are single-use deletes by the
        // same random state, so the order changes nothing but how many statements a sign-in
        // costs.
        match self
            .core
            .store
            .take_auth_request_by_state(&state_hash, now)
            .await
        {
            Ok(Some(request)) => return self.callback(request, p).await.map(Completed::Client),
            Ok(None) => {}
            Err(e) => return Err(FlowError::Internal(e.into())),
        }
        let pending = self
            .core
            .store
            .take_account_login(&state_hash, now)
            .await
            .map_err(|e| FlowError::Internal(e.into()))?;
        match pending {
            Some(login) => self
                .account_callback(login, &p)
                .await
                .map(Completed::Account),
            None => {
                crate::metrics::callback_failed("sign_in_expired");
                Err(Notice::SignInExpired.into())
            }
        }
    }

    async fn account_callback(
        &self,
        login: AccountLoginRecord,
        p: &CallbackParams,
    ) -> Result<UpstreamUser, FlowError> {
        let bound = p.browser.as_deref().is_some_and(|b| {
            crypto::ct_eq(crypto::hash(b).as_bytes(), login.browser_hash.as_bytes())
        });
        if !bound {
            // Login CSRF: a sign-in started elsewhere must not sign this browser in.
            self.audit_account_failure(&login, "browser_binding_mismatch", p)
                .await;
            return Err(Notice::OtherBrowser.into());
        }
        match self.account_identity(&login, p).await {
            Ok(user) => Ok(user),
            Err((error, reason)) => {
                self.audit_account_failure(&login, reason.unwrap_or(error.code()), p)
                    .await;
                Err(match error {
                    Error::Server(_) => FlowError::Internal(error),
                    other => FlowError::Page(other),
                })
            }
        }
    }

    /// The verified user of the upstream's answer, if the access policy admits them.
    async fn account_identity(
        &self,
        login: &AccountLoginRecord,
        p: &CallbackParams,
    ) -> Result<UpstreamUser, (Error, Option<&'static str>)> {
        let upstream = self.core.upstreams.get(&login.upstream_id).ok_or_else(|| {
            let e = anyhow::anyhow!("upstream {} is not configured", login.upstream_id);
            (Error::server(e), None)
        })?;
        let aad = account_aad(&login.state_hash);
        let signed_in = self
            .exchange(upstream.idp.as_ref(), Some(&login.sealed), &aad, p)
            .await
            .map_err(|f| (f.error, f.reason))?;
        let identity = &signed_in.identity;
        policy::check(&upstream.policy, identity.into()).map_err(|refusal| {
            tracing::info!(upstream = %login.upstream_id, reason = refusal.as_str(), "account sign-in refused by the access policy");
            (refusal.to_error(), Some(refusal.as_str()))
        })?;
        // Only the identity is kept: the upstream tokens of a sign-in to our own pages are
        // never stored (they authorize nothing here).
        Ok(UpstreamUser::new(&login.upstream_id, identity))
    }

    /// An `account_login_failed` audit event on its own: no fact of ours commits with it.
    async fn audit_account_failure(
        &self,
        login: &AccountLoginRecord,
        reason: &str,
        p: &CallbackParams,
    ) {
        let event = AuditEvent::new("account_login_failed", self.core.now())
            .request(p.request_id.clone())
            .detail(&serde_json::json!({ "reason": reason, "upstream": login.upstream_id }));
        if let Err(e) = self.core.store.insert_audit_event(&event).await {
            tracing::warn!(error = %e, "audit write failed");
        }
    }
}
