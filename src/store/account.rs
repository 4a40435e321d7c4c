//! Records of the end users' account pages (`/account`): first-party sign-ins in flight, signed-in
//! sessions, and the connected apps (grants with their client) a user sees; and the admin
//! console's sessions.

use super::{ClientKind, GrantRecord};

/// A first-party sign-in to `/account` in flight, keyed by the hash of its upstream `state`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountLoginRecord {
    /// SHA-256 of the upstream `state`.
    pub state_hash: String,
    /// The upstream the user chose.
    pub upstream_id: String,
    /// SHA-256 of the browser-binding value of the browser that started it.
    pub browser_hash: String,
    /// The upstream PKCE verifier and nonce, sealed.
    pub sealed: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A signed-in `/account` session, keyed by the hash of its cookie value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSessionRecord {
    /// SHA-256 of the cookie value.
    pub id_hash: String,
    pub user_id: String,
    /// The upstream the user signed in at.
    pub upstream_id: String,
    pub created_at: i64,
    /// Last request seen (written at most once a minute): the idle timeout counts from here.
    pub last_seen_at: i64,
    /// The absolute end of the session.
    pub expires_at: i64,
}

/// An active grant of a user with what the account page shows of its client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectedApp {
    pub grant: GrantRecord,
    /// When a token was last issued or refreshed for the grant.
    pub last_used_at: Option<i64>,
    pub client_name: Option<String>,
    /// `None` when the client row is gone (deleted clients revoke their grants, so rarely).
    pub client_kind: Option<ClientKind>,
    pub redirect_uris: Vec<String>,
}

/// A signed-in admin console session, keyed by the hash of its cookie value (issue 15: in the
/// database, so a restart or another replica keeps the operator signed in).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSessionRecord {
    /// SHA-256 of the cookie value.
    pub id_hash: String,
    /// SHA-256 of the admin token that opened the session; re-checked on every request.
    pub token_hash: String,
    pub created_at: i64,
    /// Last request seen (written at most once a minute): the idle timeout counts from here.
    pub last_seen_at: i64,
    /// The absolute end of the session.
    pub expires_at: i64,
}
