//! What the gateway knows of revocations without asking the database per request: a bounded
//! in-memory set of revoked access token ids, refilled by polling the store.
//!
//! Bound: a token revoked at time T (itself, its family or its grant) is refused by every
//! replica from the first poll that starts after T commits, so within
//! `gateway.revocation_poll_seconds` plus one store query. Each poll asks for revocations since
//! the previous poll's start minus [`OVERLAP_SECONDS`], so a revocation that committed late with
//! an earlier timestamp is not missed. Entries live as long as an access token can (after that
//! the token is refused as expired anyway).

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::oauth::Core;

/// Seconds each poll reaches back before the previous poll's start.
pub const OVERLAP_SECONDS: i64 = 60;
/// Most revoked token ids kept. Past it moka evicts the least used; sized for a mass
/// revocation (every token of a large tenant) at about 100 bytes an entry (~25 MB).
pub const CAPACITY: u64 = 250_000;
/// Most ids one poll reads.
const BATCH: i64 = 100_000;

/// The revoked access token ids.
pub struct Revocations {
    revoked: moka::future::Cache<String, ()>,
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
    /// An empty set whose entries expire after `access_token_ttl` seconds.
    #[must_use]
    pub fn new(access_token_ttl: i64) -> Self {
        let ttl = u64::try_from(access_token_ttl).unwrap_or(3600).max(1);
        Self {
            revoked: moka::future::Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(Duration::from_secs(ttl + 300))
                .build(),
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
            now - core.settings.tokens.access_token_ttl - OVERLAP_SECONDS
        } else {
            last - OVERLAP_SECONDS
        };
        let jtis = core.store.revoked_access_tokens(since, now, BATCH).await?;
        let n = jtis.len();
        for jti in jtis {
            self.revoked.insert(jti, ()).await;
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
