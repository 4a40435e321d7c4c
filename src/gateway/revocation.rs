//! What the gateway and introspection know of revocations without asking the database per
//! request: a bounded in-memory set of revoked access token ids, refilled by polling the store.
//!
//! This process's own revocations (the revoke endpoint, the admin API, the account page, refresh
//! token reuse, a policy that drops a grant, housekeeping, client deletion) are seen at once: the
//! store counts every revocation it commits ([`crate::store::LocalChanges`]) and the first check
//! after one polls before answering ([`Revocations::catch_up`]), so a request that starts after
//! the revoking request returned never sees the token as live.
//!
//! Bound: a token revoked at time T (itself, its family or its grant) is refused by every
//! replica from the first poll that starts after T commits, so within
//! `gateway.revocation_poll_seconds` plus the poll's store queries. Each poll asks for revocations since
//! the previous poll's start minus [`OVERLAP_SECONDS`], so a revocation that committed late with
//! an earlier timestamp is not missed. Entries live as long as an access token can (after that
//! the token is refused as expired anyway). A poll reads the window page by page ([`PAGE`]
//! ids a query) up to [`MAX_PER_POLL`], the most the set can hold.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

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

/// How long after the last successful poll the set still answers alone, past two poll
/// intervals (one poll may be running, one may have just failed).
const FRESH_SLACK: Duration = Duration::from_secs(5);

/// The revoked access token ids.
pub struct Revocations {
    revoked: moka::future::Cache<String, ()>,
    /// Ids per store query ([`PAGE`]; smaller in tests).
    page: i64,
    /// Most ids per poll ([`MAX_PER_POLL`]; smaller in tests).
    max_per_poll: usize,
    /// The Clock time the last successful poll started; 0 before the first.
    polled_at: AtomicI64,
    /// The store's count of this process's revocations ([`crate::store::LocalChanges`]) that
    /// the last catch-up poll started after.
    caught_up: AtomicU64,
    /// One catch-up poll at a time: the requests behind it find it done.
    catching_up: tokio::sync::Mutex<()>,
    /// When this set was made: the origin of the two instants below.
    born: Instant,
    /// Milliseconds after `born` the last successful poll started, plus one; 0 before the first.
    fresh_at_ms: AtomicU64,
    /// Milliseconds after `born`, plus one, that the set last lost ids (evicted at capacity, or
    /// a poll stopped at [`MAX_PER_POLL`]); 0 if it never did.
    lossy_at_ms: Arc<AtomicU64>,
    /// How long an entry lives (a lost id cannot matter after that).
    entry_ttl: Duration,
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
        let entry_ttl = Duration::from_secs(ttl + 300);
        let born = Instant::now();
        let lossy_at_ms = Arc::new(AtomicU64::new(0));
        let lost = lossy_at_ms.clone();
        Self {
            revoked: moka::future::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(entry_ttl)
                .eviction_listener(move |_, (), cause| {
                    if cause == moka::notification::RemovalCause::Size {
                        lost.store(ms_since(born), Ordering::Release);
                    }
                })
                .build(),
            page: page.max(1),
            max_per_poll,
            polled_at: AtomicI64::new(0),
            caught_up: AtomicU64::new(0),
            catching_up: tokio::sync::Mutex::new(()),
            born,
            fresh_at_ms: AtomicU64::new(0),
            lossy_at_ms,
            entry_ttl,
        }
    }

    /// Polls now if this process committed a revocation since the last catch-up, so that it is
    /// in the set before any check that started after the revoking request returned. Costs one
    /// atomic load when nothing was revoked here; concurrent callers share one poll.
    ///
    /// # Errors
    /// Store failures: the set cannot be trusted with this process's latest revocation.
    pub async fn catch_up(&self, core: &Core) -> Result<(), crate::store::StoreError> {
        let local = core.store.local_changes();
        if local.revocations() <= self.caught_up.load(Ordering::Acquire) {
            return Ok(());
        }
        let _one = self.catching_up.lock().await;
        // Read before the poll starts: a revocation counted later may not be in this poll.
        let target = local.revocations();
        if target <= self.caught_up.load(Ordering::Acquire) {
            return Ok(());
        }
        self.poll(core).await?;
        self.caught_up.fetch_max(target, Ordering::AcqRel);
        Ok(())
    }

    /// Whether the set alone answers for every process's revocations within the documented
    /// bound: a poll succeeded within two `poll_every` intervals (plus a little), and no id was
    /// lost to the capacity within an entry's lifetime. Otherwise a caller that must not be
    /// weaker than the database (introspection) asks the database.
    #[must_use]
    pub fn trustworthy(&self, poll_every: Duration) -> bool {
        let now = ms_since(self.born);
        let fresh_at = self.fresh_at_ms.load(Ordering::Acquire);
        let lossy_at = self.lossy_at_ms.load(Ordering::Acquire);
        let bound = duration_ms(poll_every.saturating_mul(2) + FRESH_SLACK);
        fresh_at != 0
            && now.saturating_sub(fresh_at) <= bound
            && (lossy_at == 0 || now.saturating_sub(lossy_at) > duration_ms(self.entry_ttl))
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
        let started = ms_since(self.born);
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
                self.lossy_at_ms
                    .store(ms_since(self.born), Ordering::Release);
                break;
            }
        }
        self.polled_at.fetch_max(now, Ordering::AcqRel);
        self.fresh_at_ms.fetch_max(started, Ordering::AcqRel);
        Ok(n)
    }
}

/// Milliseconds since `born`, plus one (so that 0 means "never").
fn ms_since(born: Instant) -> u64 {
    duration_ms(born.elapsed()).saturating_add(1)
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
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
