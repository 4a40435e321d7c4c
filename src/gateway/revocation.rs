//! What the gateway knows of revocations without asking the database per request: a bounded
//! in-memory set of revoked access token ids, refilled by polling the store.
//!
//! Bound: a token revoked at time T (itself, its family or its grant) is refused by every
//! replica from the first poll that starts after T commits, so within
//! `gateway.revocation_poll_seconds` plus the poll's store queries. Each poll asks for revocations since
//! the previous poll's start minus [`OVERLAP_SECONDS`], so a revocation that committed late with
//! an earlier timestamp is not missed. Entries live as long as an access token can (after that
//! the token is refused as expired anyway). A poll reads the window page by page ([`PAGE`]
//! ids a query) up to [`MAX_PER_POLL`], the most the set can hold.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::oauth::Core;

/// Seconds each poll reaches back before the previous poll's start.
pub const OVERLAP_SECONDS: i64 = 60;
/// Most revoked token ids kept. Past it moka evicts the least used; sized for a mass
/// revocation (every token of a large tenant) at about 100 bytes an entry (~25 MB).
pub const CAPACITY: u64 = 250_000;
/// Ids one store query returns; a poll reads page after page until one comes back short.
pub const PAGE: i64 = 10_000;
/// Most ids one poll reads: as many as the set can hold, since past that moka evicts what was
/// read anyway. A poll that reaches it logs a warning (more tokens revoked in the window than
/// the gateway can remember: some of them are accepted until they expire).
pub const MAX_PER_POLL: usize = 250_000;
const _: () = assert!(MAX_PER_POLL as u64 == CAPACITY);

/// The revoked access token ids.
pub struct Revocations {
    revoked: moka::future::Cache<String, ()>,
    /// Ids per store query ([`PAGE`]; smaller in tests).
    page: i64,
    /// Most ids per poll ([`MAX_PER_POLL`]; smaller in tests).
    max_per_poll: usize,
    /// The Clock time the last successful poll started; 0 before the first.
    polled_at: AtomicI64,
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocations")
            .field("entries", &self.revoked.entry_count())
            .finish_non_exhaustive()
    }
}

impl Revocations {
    /// An empty set whose entries expire 5 minutes after `access_token_ttl` seconds, which must
    /// be the longest lifetime of any access token (`Settings::max_access_token_ttl`, client
    /// rules included): an entry that expired before its token would let the token in again.
    #[must_use]
    pub fn new(access_token_ttl: i64) -> Self {
        Self::with_paging(access_token_ttl, PAGE, MAX_PER_POLL)
    }

    /// Like [`Revocations::new`] with another page size and per-poll bound.
    #[must_use]
    pub fn with_paging(access_token_ttl: i64, page: i64, max_per_poll: usize) -> Self {
        let ttl = u64::try_from(access_token_ttl).unwrap_or(3600).max(1);
        Self {
            revoked: moka::future::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(Duration::from_secs(ttl + 300))
                .build(),
            page: page.max(1),
            max_per_poll,
            polled_at: AtomicI64::new(0),
        }
    }

    /// Whether the token `jti` is known revoked.
    #[must_use]
    pub fn is_revoked(&self, jti: &str) -> bool {
        self.revoked.contains_key(jti)
    }

    /// One poll: adds every access token revoked since the last poll (or, the first time,
    /// since any unexpired token could have been issued).
    ///
    /// # Errors
    /// Store failures; the set keeps what it had and the next poll reaches back further.
    pub async fn poll(&self, core: &Core) -> Result<usize, crate::store::StoreError> {
        let now = core.now();
        let last = self.polled_at.load(Ordering::Acquire);
        let since = if last == 0 {
            // A `[[client_rules]]` lifetime may be longer than `tokens.access_token_ttl`: reach
            // back as far as the longest-lived token anyone holds.
            now - core.settings.max_access_token_ttl() - OVERLAP_SECONDS
        } else {
            last - OVERLAP_SECONDS
        };
        // Keyset paging in `jti` order: each page starts after the last id of the one before,
        // so a window holding more than one page is read whole, none skipped or read twice.
        let mut after = String::new();
        let mut n = 0;
        loop {
            let jtis = core
                .store
                .revoked_access_tokens(since, now, &after, self.page)
                .await?;
            let full = i64::try_from(jtis.len()).unwrap_or(i64::MAX) >= self.page;
            n += jtis.len();
            if let Some(last) = jtis.last() {
                after.clone_from(last);
            }
            for jti in jtis {
                self.revoked.insert(jti, ()).await;
            }
            if !full {
                break;
            }
            if n >= self.max_per_poll {
                tracing::warn!(
                    read = n,
                    bound = self.max_per_poll,
                    "more access tokens revoked in the poll window than the gateway keeps; \
                     the rest are accepted until they expire"
                );
                break;
            }
        }
        self.polled_at.store(now, Ordering::Release);
        Ok(n)
    }
}

/// Polls every `every` until the task is aborted.
pub async fn run(core: Core, revocations: Arc<Revocations>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = revocations.poll(&core).await {
            tracing::warn!(error = %e, "polling revoked access tokens failed; will retry");
        }
    }
}

#[cfg(test)]
#[path = "revocation_tests.rs"]
mod tests;
