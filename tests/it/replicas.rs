//! Three real `dcr-bridge serve` processes on one Postgres database behave as one server
//! (issue 15 #3): a sign-in crosses replicas step by step; one refresh token sent to two
//! replicas at once yields one new pair, which both answers carry; a revocation on one replica
//! is refused by every gateway at once (LISTEN/NOTIFY, far inside the 30 s poll); housekeeping
//! runs on one replica; a signing key rotated on one replica signs only once every replica
//! knows it; a rolling restart under load logs nobody out.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::replicas::{kid, Cluster, ClusterOptions};

/// The access and refresh token of a token response.
fn pair(tokens: &Value) -> (String, String) {
    (
        tokens["access_token"].as_str().unwrap().to_owned(),
        tokens["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn active_on(cluster: &Cluster, i: usize, token: &str) -> bool {
    let res = cluster.introspect(i, token).await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    body["active"] == true
}

/// A sign-in crosses replicas; the refresh race; housekeeping's lease.
#[tokio::test]
async fn replicas_share_flows_refresh_races_and_housekeeping() {
    let Some(cluster) = Cluster::start(ClusterOptions {
        log: "warn,dcr_bridge::app=debug".to_owned(),
        ..ClusterOptions::default()
    })
    .await
    else {
        return;
    };

    // Authorize on 0, consent and callback on 1, the code exchange on 2; and another order.
    let (client_id, tokens) = cluster.sign_in([0, 1, 1, 2]).await;
    let (_, other) = cluster.sign_in([2, 0, 1, 0]).await;
    for i in 0..3 {
        assert!(
            active_on(&cluster, i, &pair(&tokens).0).await,
            "replica {i}"
        );
        assert!(active_on(&cluster, i, &pair(&other).0).await, "replica {i}");
    }

    // The same refresh token at two replicas at once, several rounds over every pair: one
    // new pair each round, and both answers carry it (the loser's is the grace replay).
    let mut refresh = pair(&tokens).1;
    for (a, b) in [(0, 1), (1, 2), (2, 0), (0, 2), (1, 0), (2, 1)] {
        let (ra, rb) = tokio::join!(
            cluster.refresh(a, &refresh, &client_id),
            cluster.refresh(b, &refresh, &client_id)
        );
        let (ra, rb) = (ra.unwrap(), rb.unwrap());
        assert_eq!(
            (ra.status().as_u16(), rb.status().as_u16()),
            (200, 200),
            "replicas {a} and {b}"
        );
        let (ja, jb): (Value, Value) = (ra.json().await.unwrap(), rb.json().await.unwrap());
        assert_eq!(
            pair(&ja),
            pair(&jb),
            "replicas {a} and {b} answered different pairs"
        );
        assert_ne!(pair(&ja).1, refresh);
        refresh = pair(&ja).1;
    }
    // The pair the race produced is the one live token: it refreshes on any replica.
    let res = cluster.refresh(1, &refresh, &client_id).await.unwrap();
    assert_eq!(res.status(), 200);

    // Housekeeping ran its first round on exactly one replica: the others found its lease.
    let deadline = Instant::now() + Duration::from_secs(10);
    let skipped = loop {
        let skipped = cluster
            .replicas
            .iter()
            .filter(|r| {
                crate::support::process::joined(&r.log)
                    .contains("housekeeping round skipped: another replica holds the lease")
            })
            .count();
        if skipped >= 2 || Instant::now() > deadline {
            break skipped;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(skipped, 2, "{}", cluster.logs());
    use sqlx::Connection as _;
    let mut db = sqlx::PgConnection::connect(&cluster.database_url)
        .await
        .unwrap();
    let holders: Vec<(String,)> =
        sqlx::query_as("SELECT holder FROM leases WHERE name = 'housekeeping'")
            .fetch_all(&mut db)
            .await
            .unwrap();
    assert_eq!(holders.len(), 1);
    assert!(holders[0].0.starts_with("replica_"), "{holders:?}");
    db.close().await.ok();
}

/// A revocation committed through one replica reaches every replica's gateway at once: the
/// revocation poll runs every 30 s here, so a refusal within seconds is LISTEN/NOTIFY's doing.
#[tokio::test]
async fn revocation_on_one_replica_is_refused_by_all_at_once() {
    let Some(cluster) = Cluster::start(ClusterOptions::default()).await else {
        return;
    };
    let (client_id, tokens) = cluster.sign_in([0, 0, 0, 0]).await;
    let (access, _) = pair(&tokens);
    let (_, bystander) = cluster.sign_in([1, 1, 1, 1]).await;
    for i in 0..3 {
        // Also puts the token's claims in each gateway's verified-token cache.
        assert_eq!(cluster.mcp_ping(i, &access).await, 200, "replica {i}");
    }
    let res = cluster
        .api
        .post(format!("{}/revoke", cluster.base(1)))
        .form(&[
            ("token", access.as_str()),
            ("client_id", client_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let revoked_at = Instant::now();
    let mut refused = [false; 3];
    while refused.contains(&false) {
        assert!(
            revoked_at.elapsed() < Duration::from_secs(5),
            "a revoked token still passes some gateway after 5 s: refused by {refused:?}\n{}",
            cluster.logs()
        );
        for (i, done) in refused.iter_mut().enumerate() {
            if !*done {
                *done = cluster.mcp_ping(i, &access).await == 401;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Nobody else was affected.
    for i in 0..3 {
        assert_eq!(cluster.mcp_ping(i, &pair(&bystander).0).await, 200);
        assert!(!active_on(&cluster, i, &access).await);
    }
}

/// A rotation on one replica (both steps at once, the riskiest form): until the new key has
/// been published for two reload intervals every replica keeps signing with the old one, and
/// every token any replica issues meanwhile verifies on every replica.
#[tokio::test]
async fn rotated_key_signs_only_once_every_replica_knows_it() {
    let reload = 2;
    let Some(cluster) = Cluster::start(ClusterOptions {
        key_reload_seconds: reload,
        ..ClusterOptions::default()
    })
    .await
    else {
        return;
    };
    let (client_id, tokens) = cluster.sign_in([0, 0, 0, 0]).await;
    let (access, mut refresh) = pair(&tokens);
    let old = kid(&access);

    // Measured from before the call: the key's publication (its created_at, whole seconds) is
    // somewhere inside it.
    let rotated_at = Instant::now();
    let rotated = cluster.admin_post(1, "/admin/v1/signing-keys/rotate").await;
    let newest = rotated["activated"].as_str().unwrap().to_owned();
    assert_ne!(newest, old);

    let mut kids_seen = Vec::new();
    let mut first_new = None;
    let deadline = Duration::from_secs(u64::try_from(4 * reload).unwrap() + 10);
    'outer: loop {
        assert!(
            rotated_at.elapsed() < deadline,
            "new key never signed: {kids_seen:?}"
        );
        for r in 0..3 {
            let res = cluster.refresh(r, &refresh, &client_id).await.unwrap();
            assert_eq!(res.status(), 200);
            let (access, next) = pair(&res.json().await.unwrap());
            refresh = next;
            let k = kid(&access);
            for s in 0..3 {
                assert!(
                    active_on(&cluster, s, &access).await,
                    "a token signed by {k} on replica {r} is unknown to replica {s}"
                );
                assert_eq!(cluster.mcp_ping(s, &access).await, 200);
            }
            if k == newest && first_new.is_none() {
                first_new = Some(rotated_at.elapsed());
            }
            kids_seen.push(k);
            if kids_seen.iter().rev().take(3).all(|k| *k == newest) && kids_seen.len() >= 3 {
                break 'outer;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Right after the rotation the old key still signed (the first round of refreshes ran
    // well inside the 2 × 2 s publish delay).
    assert_eq!(kids_seen[0], old, "{kids_seen:?}");
    let first_new = first_new.unwrap();
    assert!(
        first_new >= Duration::from_secs(u64::try_from(2 * reload).unwrap() - 1),
        "the new key signed {first_new:?} after the rotation, before the publish delay"
    );
    for i in 0..3 {
        assert!(cluster.jwks_kids(i).await.contains(&newest), "replica {i}");
    }
}

/// What a user's client did during the rolling restart.
#[derive(Debug, Default)]
struct Outcome {
    refreshed: usize,
    /// Attempts that reached no replica or got a 5xx, retried on the next one.
    retried: usize,
    /// Answers that would log the user out (invalid_grant and the like).
    refused: Vec<String>,
}

/// Refreshes `refresh` continuously, round-robin over `bases`, until `stop`; a transport error
/// or a 5xx is retried with the same refresh token on the next replica (what a client behind a
/// load balancer sees); every new access token is introspected on the next replica.
async fn keep_refreshing(
    api: reqwest::Client,
    bases: Vec<String>,
    client_id: String,
    mut refresh: String,
    stop: Arc<AtomicBool>,
) -> (Outcome, String, String) {
    let mut out = Outcome::default();
    let mut at = 0;
    while !stop.load(Ordering::Relaxed) {
        at = (at + 1) % bases.len();
        let res = api
            .post(format!("{}/token", bases[at]))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.as_str()),
                ("client_id", client_id.as_str()),
            ])
            .send()
            .await;
        let res = match res {
            Ok(res) if res.status().is_server_error() => {
                out.retried += 1;
                continue;
            }
            Ok(res) => res,
            Err(_) => {
                out.retried += 1;
                continue;
            }
        };
        let status = res.status();
        let Ok(body) = res.json::<Value>().await else {
            out.retried += 1;
            continue;
        };
        if status != 200 {
            out.refused
                .push(format!("{status} from {}: {body}", bases[at]));
            break;
        }
        let (access, next) = pair(&body);
        refresh = next;
        out.refreshed += 1;
        let peer = &bases[(at + 1) % bases.len()];
        if let Ok(res) = api
            .post(format!("{peer}/introspect"))
            .basic_auth("tools", Some(crate::support::app::RS_SECRET))
            .form(&[("token", access.as_str())])
            .send()
            .await
        {
            if res.status() == 200 {
                let body: Value = res.json().await.unwrap_or_default();
                if body["active"] != true {
                    out.refused
                        .push(format!("fresh access token inactive at {peer}: {body}"));
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (out, client_id, refresh)
}

/// Each replica in turn is stopped (SIGTERM) and started again while three users refresh
/// continuously: every refresh eventually succeeds on some live replica, none is refused, and
/// a sign-in begun on a replica just before it stops completes on another.
#[tokio::test]
async fn rolling_restart_under_load_logs_nobody_out() {
    let Some(mut cluster) = Cluster::start(ClusterOptions::default()).await else {
        return;
    };
    let bases: Vec<String> = cluster.replicas.iter().map(|r| r.base.clone()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let mut users = Vec::new();
    for u in 0..3 {
        let (client_id, tokens) = cluster.sign_in([u, u, u, u]).await;
        users.push(tokio::spawn(keep_refreshing(
            cluster.api.clone(),
            bases.clone(),
            client_id,
            pair(&tokens).1,
            stop.clone(),
        )));
    }
    for i in 0..3 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let pending = cluster.begin_sign_in(i, i).await;
        cluster.stop(i).await;
        let next = (i + 1) % 3;
        let (_, tokens) = cluster.finish_sign_in(pending, next, next).await;
        assert!(active_on(&cluster, next, &pair(&tokens).0).await);
        tokio::time::sleep(Duration::from_millis(300)).await;
        cluster.restart(i).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);
    for (u, user) in users.into_iter().enumerate() {
        let (out, client_id, refresh) = user.await.unwrap();
        assert!(out.refused.is_empty(), "user {u} was refused: {out:?}");
        assert!(out.refreshed >= 10, "user {u} barely refreshed: {out:?}");
        // Still signed in.
        let res = cluster.refresh(u, &refresh, &client_id).await.unwrap();
        assert_eq!(res.status(), 200, "user {u}");
    }
}
