//! Changes committed by other processes that each replica mirrors in memory, as a feed: the
//! gateway's revoked-token set and the signing key ring learn of them at once instead of at
//! their next poll. Postgres delivers them with LISTEN/NOTIFY (triggers of migration 0009 send
//! them in the transaction that revokes or rotates, so they arrive only if it commits).

use async_trait::async_trait;

use super::StoreError;

/// The `NOTIFY` channel of revocations (an access token, family or grant got `revoked_at`).
pub const REVOCATIONS_CHANNEL: &str = "dcr_bridge_revocations";
/// The `NOTIFY` channel of signing key changes (a key staged, promoted or pruned).
pub const SIGNING_KEYS_CHANNEL: &str = "dcr_bridge_signing_keys";

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Something was revoked: poll the revocations now.
    Revocations,
    /// A signing key was added, promoted or removed: reload the key ring now.
    SigningKeys,
    /// The feed's connection was lost (and is being re-opened): changes in between may be
    /// missed, so refresh everything once it is back.
    Lost,
}

/// A stream of [`Change`]s.
#[async_trait]
pub trait ChangeFeed: Send {
    /// The next change; waits until there is one.
    ///
    /// # Errors
    /// The connection could not be re-opened (the caller waits a little and asks again).
    async fn next(&mut self) -> Result<Change, StoreError>;
}
