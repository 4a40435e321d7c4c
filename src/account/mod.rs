//! End users' "connected apps" (`/account`, issue 14): the session a first-party sign-in opens,
//! the user's active grants as the page shows them, and their removal by the user.
//!
//! Sessions are stored server-side (`account_sessions`, by the SHA-256 of the cookie value), not
//! sealed into the cookie: sign-out, the idle timeout and an admin deleting the user must end a
//! session at once, and a sealed cookie cannot be taken back before its own expiry. The cost is
//! one indexed read per page view and a write at most once a minute.
//!
//! The user is the one the grants are keyed by: the `users` row of (issuer, subject) that
//! [`crate::oauth::login::finish_login`] upserts too, so a user sees exactly the grants their
//! MCP sign-ins created.

mod apps;

pub use apps::{AppView, Removed};

use crate::oauth::login::UpstreamUser;
use crate::oauth::{crypto, Core, Result};
use crate::store::{AccountSessionRecord, AuditEvent};

/// A session ends after this long without a request (seconds).
pub const IDLE_SECONDS: i64 = 30 * 60;
/// A session ends this long after the sign-in, active or not (seconds).
pub const ABSOLUTE_SECONDS: i64 = 8 * 3600;

/// The account service over the core's store, cipher and clock.
pub struct Account<'c> {
    core: &'c Core,
}

/// Who is signed in, from a valid session cookie.
#[derive(Debug, Clone)]
pub struct Session {
    /// SHA-256 of the cookie value: the session's key.
    pub id_hash: String,
    pub user_id: String,
    /// The user's email or name, for the page's header.
    pub display_name: String,
    /// The token the page's forms must send back (CSRF), derived from the session.
    pub csrf_token: String,
}

/// The account service of `core`.
#[must_use]
pub fn account(core: &Core) -> Account<'_> {
    Account { core }
}

impl Account<'_> {
    /// Signs `user` in: records the user as a login does, opens a session and audits
    /// `account_login`, in one transaction. Returns the session cookie's value (stored only
    /// hashed).
    ///
    /// # Errors
    /// Store failures (internal).
    pub async fn sign_in(&self, user: &UpstreamUser, request_id: Option<String>) -> Result<String> {
        let now = self.core.now();
        let token = crypto::random_b64(32);
        let mut tx = self.core.store.begin().await?;
        let user_id = tx.upsert_user(&user.record(now)).await?;
        tx.insert_account_session(&AccountSessionRecord {
            id_hash: crypto::hash(&token),
            user_id: user_id.clone(),
            upstream_id: user.upstream_id.clone(),
            created_at: now,
            last_seen_at: now,
            expires_at: now + ABSOLUTE_SECONDS,
        })
        .await?;
        tx.insert_audit_event(
            &AuditEvent::new("account_login", now)
                .actor(user_id)
                .request(request_id)
                .detail(&serde_json::json!({ "upstream": user.upstream_id })),
        )
        .await?;
        tx.commit().await?;
        Ok(token)
    }

    /// The session of the cookie value `token`, if it is valid: known, not past its absolute
    /// end, not idle for [`IDLE_SECONDS`] (an idle one is deleted). Records the activity.
    ///
    /// # Errors
    /// Store failures (internal).
    pub async fn session(&self, token: &str) -> Result<Option<Session>> {
        let now = self.core.now();
        let id_hash = crypto::hash(token);
        let Some(record) = self.core.store.get_account_session(&id_hash, now).await? else {
            return Ok(None);
        };
        if record.last_seen_at + IDLE_SECONDS <= now {
            self.core.store.delete_account_session(&id_hash).await?;
            return Ok(None);
        }
        let Some(user) = self.core.store.get_user(&record.user_id).await? else {
            return Ok(None);
        };
        self.core.store.touch_account_session(&id_hash, now).await?;
        Ok(Some(Session {
            csrf_token: self.csrf_token(&id_hash),
            display_name: user.email.or(user.name).unwrap_or(user.subject),
            id_hash,
            user_id: record.user_id,
        }))
    }

    /// The CSRF token of a session: a MAC of its key, so it needs no storage and is useless
    /// for another session.
    fn csrf_token(&self, id_hash: &str) -> String {
        self.core.cipher.mac("account-csrf v1", &[id_hash])
    }

    /// Whether `presented` is the CSRF token of `session` (constant time).
    #[must_use]
    pub fn csrf_ok(&self, session: &Session, presented: &str) -> bool {
        crypto::ct_eq(session.csrf_token.as_bytes(), presented.as_bytes())
    }

    /// Ends the session, with an `account_logout` audit event.
    ///
    /// # Errors
    /// Store failures (internal).
    pub async fn sign_out(&self, session: &Session, request_id: Option<String>) -> Result<()> {
        if self
            .core
            .store
            .delete_account_session(&session.id_hash)
            .await?
        {
            let event = AuditEvent::new("account_logout", self.core.now())
                .actor(session.user_id.clone())
                .request(request_id);
            if let Err(e) = self.core.store.insert_audit_event(&event).await {
                tracing::warn!(error = %e, "audit write failed");
            }
        }
        Ok(())
    }
}
