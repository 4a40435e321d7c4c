//! What each replica keeps in memory in step with the shared database: the signing key ring,
//! re-read every `tokens.signing_key_reload_seconds`, and the revoked token set of the gateway
//! and introspection (polled on its own timer, `gateway.revocation_poll_seconds`). Where the store has a change
//! feed (Postgres LISTEN/NOTIFY), both are refreshed as soon as another replica commits a
//! revocation or a key change; the timers stay, so a lost notification costs at most one
//! interval.

use std::time::Duration;

use tokio::task::JoinHandle;

use super::AppState;
use crate::store::Change;

/// How long to wait before asking again for a change feed that could not be opened, or after a
/// feed error (the database is away: the timers keep polling meanwhile).
const FEED_RETRY: Duration = Duration::from_secs(2);

/// Starts the key reload timer and the change feed follower.
pub(super) fn spawn(state: &AppState) -> Vec<JoinHandle<()>> {
    vec![
        tokio::spawn(reload_keys_every(state.clone())),
        tokio::spawn(follow_changes(state.clone())),
    ]
}

/// Re-reads the signing keys every `tokens.signing_key_reload_seconds` (another replica or
/// `rotate-keys` may have rotated them).
async fn reload_keys_every(state: AppState) {
    let secs = u64::try_from(state.config.tokens.signing_key_reload_seconds).unwrap_or(60);
    let mut tick = tokio::time::interval(Duration::from_secs(secs.max(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first tick is immediate: the keys were just loaded.
    tick.tick().await;
    loop {
        tick.tick().await;
        reload_keys(&state).await;
    }
}

async fn reload_keys(state: &AppState) {
    let core = &state.core;
    if let Err(e) = core
        .keys
        .reload(core.store.as_ref(), &core.cipher, core.now())
        .await
    {
        tracing::warn!(error = %e, "reloading signing keys failed");
    }
}

async fn poll_revocations(state: &AppState) {
    if let Err(e) = state.gateway.revocations.poll(&state.core).await {
        tracing::warn!(error = %e, "polling revoked access tokens failed; will retry");
    }
}

/// Follows the store's change feed, if it has one, until the task is aborted.
async fn follow_changes(state: AppState) {
    let mut feed = loop {
        match state.core.store.watch_changes().await {
            Ok(Some(feed)) => break feed,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "opening the change feed failed; will retry");
                tokio::time::sleep(FEED_RETRY).await;
            }
        }
    };
    loop {
        match feed.next().await {
            Ok(Change::Revocations) => poll_revocations(&state).await,
            Ok(Change::SigningKeys) => reload_keys(&state).await,
            Ok(Change::Lost) => {
                tracing::warn!("change feed connection lost; reconnecting (timers cover the gap)");
                poll_revocations(&state).await;
                reload_keys(&state).await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "change feed failed; will retry");
                tokio::time::sleep(FEED_RETRY).await;
            }
        }
    }
}
