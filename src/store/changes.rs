//! Changes committed by other processes that each replica mirrors in memory, as a feed: the
//! gateway's revoked-token set and the signing key ring learn of them at once instead of at
//! their next poll. Postgres delivers them with LISTEN/NOTIFY (triggers of migration 0009 send
//! them in the transaction that revokes or rotates, so they arrive only if it commits).

use std::sync::atomic::{AtomicU64, Ordering};

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

/// What a committed statement changed that this process keeps in memory.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChangeMarks(u8);

impl ChangeMarks {
    /// An access token, family or grant got `revoked_at`, or a client was deleted.
    pub const REVOCATIONS: Self = Self(1);
    /// A user row was written (its email, name or groups may have changed).
    pub const USERS: Self = Self(2);
    /// A client's registration was replaced or the client deleted (its secret, method or
    /// `disabled` may have changed; its last use or last error alone are not a change).
    pub const CLIENTS: Self = Self(4);

    /// Nothing.
    #[must_use]
    pub const fn none() -> Self {
        Self(0)
    }

    /// Both.
    #[must_use]
    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether every mark of `other` is set.
    #[must_use]
    pub const fn has(self, other: Self) -> bool {
        self.0 & other.0 == other.0 && other.0 != 0
    }

    /// What `sql` changes, judged by its text. Every write of the shared SQL goes through one
    /// executor (`store::sql::exec`), so this is the one place that sees every revocation,
    /// whichever service, transaction or housekeeping round wrote it; a new statement that
    /// revokes is caught as long as it sets a `revoked_at` column. Reads cost one prefix test.
    #[must_use]
    pub fn of_statement(sql: &str) -> Self {
        let sql = sql.trim_start();
        let starts = |p: &str| sql.len() >= p.len() && sql[..p.len()].eq_ignore_ascii_case(p);
        if starts("UPDATE ") {
            let mut marks = Self::none();
            if sql.contains("revoked_at =") || sql.contains("revoked_at=") {
                marks = marks.with(Self::REVOCATIONS);
            }
            if starts("UPDATE users ") {
                marks = marks.with(Self::USERS);
            }
            if starts("UPDATE clients SET") && !starts("UPDATE clients SET last_") {
                marks = marks.with(Self::CLIENTS);
            }
            marks
        } else if starts("DELETE FROM clients") {
            Self::REVOCATIONS.with(Self::CLIENTS)
        } else if starts("INSERT INTO users ") {
            Self::USERS
        } else {
            Self::none()
        }
    }
}

/// Counts of the changes this process committed, one counter per kind of [`ChangeMarks`],
/// each increased after the commit. A reader that remembers the count it last caught up with
/// knows, by one atomic load, whether this process committed such a change since: that is how
/// the in-memory answers of introspection and the gateway see this process's own revocations
/// before the request that revoked returns, without waiting for the poll or the change feed
/// (which only carry other processes' changes in time).
#[derive(Debug, Default)]
pub struct LocalChanges {
    revocations: AtomicU64,
    users: AtomicU64,
    clients: AtomicU64,
}

impl LocalChanges {
    /// No change yet.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            revocations: AtomicU64::new(0),
            users: AtomicU64::new(0),
            clients: AtomicU64::new(0),
        }
    }

    /// Records a commit that changed `marks`.
    pub fn committed(&self, marks: ChangeMarks) {
        for (mark, counter) in [
            (ChangeMarks::REVOCATIONS, &self.revocations),
            (ChangeMarks::USERS, &self.users),
            (ChangeMarks::CLIENTS, &self.clients),
        ] {
            if marks.has(mark) {
                counter.fetch_add(1, Ordering::AcqRel);
            }
        }
    }

    /// Revocations committed so far.
    #[must_use]
    pub fn revocations(&self) -> u64 {
        self.revocations.load(Ordering::Acquire)
    }

    /// User writes committed so far.
    #[must_use]
    pub fn users(&self) -> u64 {
        self.users.load(Ordering::Acquire)
    }

    /// Client changes committed so far.
    #[must_use]
    pub fn clients(&self) -> u64 {
        self.clients.load(Ordering::Acquire)
    }
}

#[cfg(test)]
#[path = "changes_tests.rs"]
mod tests;
