//! Background jobs run once per cluster: two replicas (two `AppState`s on one database, one
//! clock) run a housekeeping round at the same moment, and exactly one of them does the work,
//! as its report and the audit trail show. On Postgres (the multi-replica database) and SQLite.

use std::sync::Arc;

use dcr_bridge::app::{housekeeping_round, HOUSEKEEPING_LEASE_SECONDS};
use serde_json::json;

use crate::admin::{audit_events, on_both_databases};
use crate::support::app::{Db, TestApp};

async fn one_replica_runs_each_round(db: Db) {
    let Some(app) = TestApp::start_with(db, |c| c.registration.unused_client_ttl_days = 1).await
    else {
        return;
    };
    let store = dcr_bridge::store::connect(&app.state.config.database_url)
        .await
        .unwrap();
    let other = dcr_bridge::app::build_with(
        (*app.state.config).clone(),
        store,
        app.clock.clone() as Arc<dyn dcr_bridge::clock::Clock>,
    )
    .await
    .unwrap();
    assert_ne!(app.state.replica_id, other.replica_id);
    // The served app's own housekeeping task runs its first round when it starts, then every
    // five minutes. Wait for that first round (its lease is then held), so it cannot run late,
    // after the clock moves, and take the work (and the lease) from the two racers below.
    let now = dcr_bridge::clock::Clock::now(app.clock.as_ref());
    let started = std::time::Instant::now();
    while other
        .core
        .store
        .try_lease(dcr_bridge::app::HOUSEKEEPING_LEASE, "probe", now, now)
        .await
        .unwrap()
    {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(30),
            "the served app's first housekeeping round never ran"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for _ in 0..3 {
        app.register(json!({ "redirect_uris": ["http://127.0.0.1:1/cb"], "token_endpoint_auth_method": "none" }))
            .await;
    }
    app.clock.advance(2 * 24 * 3600);

    let (a, b) = tokio::join!(housekeeping_round(&app.state), housekeeping_round(&other));
    let ran: Vec<_> = [a, b].into_iter().flatten().collect();
    assert_eq!(ran.len(), 1, "exactly one replica runs the round: {ran:?}");
    assert_eq!(ran[0].expired_clients, 3, "{ran:?}");
    let expired = audit_events(&app)
        .await
        .into_iter()
        .filter(|e| e.kind == "client_expired")
        .count();
    assert_eq!(expired, 3);

    // While the lease lasts, the other replica still skips; once it has run out, the next
    // round runs (on whichever replica asks first).
    let (winner, loser) = if housekeeping_round(&other).await.is_none() {
        (&app.state, &other)
    } else {
        (&other, &app.state)
    };
    assert!(housekeeping_round(loser).await.is_none());
    app.clock.advance(HOUSEKEEPING_LEASE_SECONDS);
    assert!(housekeeping_round(loser).await.is_some());
    assert!(housekeeping_round(winner).await.is_none());
}

on_both_databases!(one_replica_runs_each_round);
