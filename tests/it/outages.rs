//! What a replica does when what it depends on goes away (issue 15 #4), against a Postgres
//! cluster the test owns and stops: requests fail fast with 503 `temporarily_unavailable`
//! JSON, `/readyz` says not ready, no rotation is half-written, and service resumes by itself
//! when the database returns. Then the IdP stops (existing sessions keep refreshing; a new
//! sign-in gets our page, not a hang) and the MCP server stops (502 at once, the rest fine).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::private_pg::PrivatePostgres;
use crate::support::replicas::{Cluster, ClusterOptions};

/// Generous: the pool's acquire timeout here is 2 s; this bounds "fails fast", it is not a
/// benchmark.
const FAIL_WITHIN: Duration = Duration::from_secs(10);

fn pair(tokens: &Value) -> (String, String) {
    (
        tokens["access_token"].as_str().unwrap().to_owned(),
        tokens["refresh_token"].as_str().unwrap().to_owned(),
    )
}

/// `res` is the 503 `temporarily_unavailable` JSON answer.
async fn assert_unavailable(what: &str, res: reqwest::Response) {
    let status = res.status();
    let ctype = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = res.text().await.unwrap();
    assert_eq!(status, 503, "{what}: {body}");
    assert!(ctype.starts_with("application/json"), "{what}: {ctype}");
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["error"], "temporarily_unavailable", "{what}: {json}");
}

/// Every answer a refreshing client got while the database went away and came back: each is a
/// success or a 503 `temporarily_unavailable` (never a 500, never `invalid_grant`); returns the
/// number of successes and of 503s.
async fn refresh_through_outage(
    cluster: Arc<Cluster>,
    client_id: String,
    mut refresh: String,
    stop: Arc<AtomicBool>,
) -> (usize, usize, String) {
    let (mut ok, mut unavailable) = (0, 0);
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        let res = cluster.refresh(0, &refresh, &client_id).await.unwrap();
        let status = res.status();
        let body: Value = res.json().await.unwrap();
        assert!(
            started.elapsed() < FAIL_WITHIN,
            "a refresh took {:?}",
            started.elapsed()
        );
        match status.as_u16() {
            200 => {
                ok += 1;
                refresh = pair(&body).1;
            }
            503 => {
                assert_eq!(body["error"], "temporarily_unavailable", "{body}");
                unavailable += 1;
            }
            other => panic!("refresh answered {other} during the outage: {body}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (ok, unavailable, refresh)
}

#[tokio::test]
async fn postgres_idp_and_mcp_server_outages() {
    let Some(pg) = PrivatePostgres::start().await else {
        return;
    };
    let Some(cluster) = Cluster::start(ClusterOptions {
        replicas: 1,
        database_url: Some(pg.url()),
        acquire_timeout_seconds: 2,
        ..ClusterOptions::default()
    })
    .await
    else {
        return;
    };
    let cluster = Arc::new(cluster);
    let (client_id, tokens) = cluster.sign_in([0, 0, 0, 0]).await;
    let (access, refresh) = pair(&tokens);

    // --- Postgres stops under load ---------------------------------------------------------
    let stop = Arc::new(AtomicBool::new(false));
    let load = tokio::spawn(refresh_through_outage(
        cluster.clone(),
        client_id.clone(),
        refresh,
        stop.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    pg.stop("fast");
    let base = cluster.base(0).to_owned();
    let started = Instant::now();
    assert_unavailable(
        "introspection",
        cluster.introspect(0, &access).await.unwrap(),
    )
    .await;
    assert!(started.elapsed() < FAIL_WITHIN);
    let started = Instant::now();
    let res = cluster
        .api
        .post(format!("{base}/register"))
        .json(&serde_json::json!({ "redirect_uris": ["http://127.0.0.1:1/cb"], "token_endpoint_auth_method": "none" }))
        .send()
        .await
        .unwrap();
    assert_unavailable("registration", res).await;
    assert!(started.elapsed() < FAIL_WITHIN);
    // The admin API: its RFC 9457 problem, with the Retry-After its OpenAPI document promises.
    let started = Instant::now();
    let res = cluster
        .api
        .get(format!("{base}/admin/v1/clients"))
        .bearer_auth(crate::support::replicas::ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "5");
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["code"], "temporarily_unavailable", "{problem}");
    assert!(started.elapsed() < FAIL_WITHIN);
    let started = Instant::now();
    let res = cluster
        .api
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    let ready: Value = res.json().await.unwrap();
    assert_eq!(ready["database"], "unavailable", "{ready}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "readyz took {:?}",
        started.elapsed()
    );
    // The process itself is healthy: an orchestrator must not kill it for the database.
    let res = cluster
        .api
        .get(format!("{base}/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // Discovery does not need the database.
    let res = cluster
        .api
        .get(format!("{base}/.well-known/oauth-authorization-server"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    tokio::time::sleep(Duration::from_secs(1)).await;

    // --- Postgres returns: service resumes by itself ----------------------------------------
    pg.resume();
    let back = Instant::now();
    loop {
        let res = cluster
            .api
            .get(format!("{base}/readyz"))
            .send()
            .await
            .unwrap();
        if res.status() == 200 {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(30),
            "not ready 30 s after the database returned:\n{}\n--- postgres ---\n{}",
            cluster.logs(),
            pg.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let the client get through again, then stop it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    stop.store(true, Ordering::Relaxed);
    let (ok, unavailable, refresh) = load.await.unwrap();
    assert!(unavailable > 0, "the client never met the outage");
    assert!(
        ok > 1,
        "the client never got through after the outage: {ok}"
    );
    assert!(cluster.introspect(0, &access).await.unwrap().status() == 200);

    // Nothing half-written: every used refresh token has its child (a rotation that failed
    // rolled back whole), no family was revoked, no reuse was detected.
    {
        use sqlx::Connection as _;
        let mut db = sqlx::PgConnection::connect(&pg.url()).await.unwrap();
        let (orphans,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM refresh_tokens p WHERE p.used_at IS NOT NULL \
             AND NOT EXISTS (SELECT 1 FROM refresh_tokens c WHERE c.parent_hash = p.token_hash)",
        )
        .fetch_one(&mut db)
        .await
        .unwrap();
        assert_eq!(orphans, 0, "a used refresh token without its successor");
        let (revoked,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM token_families WHERE revoked_at IS NOT NULL")
                .fetch_one(&mut db)
                .await
                .unwrap();
        assert_eq!(revoked, 0);
        db.close().await.ok();
    }

    // --- The IdP stops: sessions go on, a new sign-in gets a clear answer ------------------
    let mut cluster = Arc::into_inner(cluster).expect("the load task has ended");
    cluster.stop_idp().await;
    let res = cluster.refresh(0, &refresh, &client_id).await.unwrap();
    assert_eq!(res.status(), 200, "refresh without the IdP");
    let (access, _) = pair(&res.json().await.unwrap());
    assert_eq!(cluster.mcp_ping(0, &access).await, 200);
    // A replica that starts while the IdP is down (no discovery cached) answers the consent
    // at once by sending the user back to the client with `temporarily_unavailable` (RFC 6749
    // §4.1.2.1), which the client shows, instead of sending the browser to a dead IdP.
    cluster.stop(0).await;
    cluster.restart(0).await;
    let (new_client, redirect) = cluster.register(0).await;
    let (_, challenge) = crate::support::app::pkce();
    let resource = cluster.resource();
    let html = cluster
        .browser
        .get(format!("{base}/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", new_client.as_str()),
            ("redirect_uri", redirect.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("state", "s"),
            ("resource", resource.as_str()),
        ])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let started = Instant::now();
    let res = cluster
        .browser
        .post(format!("{base}/consent"))
        .header("origin", &cluster.public)
        .form(&[
            (
                "consent_id",
                crate::support::app::hidden(&html, "consent_id").as_str(),
            ),
            (
                "csrf_token",
                crate::support::app::hidden(&html, "csrf_token").as_str(),
            ),
            ("decision", "approve"),
        ])
        .send()
        .await
        .unwrap();
    assert!(started.elapsed() < FAIL_WITHIN);
    assert_eq!(res.status(), 302, "{}", res.text().await.unwrap());
    let back = crate::support::app::location(&res);
    assert!(back.starts_with(&redirect), "{back}");
    assert_eq!(
        crate::support::app::query_param(&back, "error").as_deref(),
        Some("temporarily_unavailable"),
        "{back}"
    );
    let res = cluster
        .api
        .get(format!("{base}/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "the IdP is not a readiness dependency");

    // --- The MCP server stops: 502 at once, the rest unaffected ----------------------------
    cluster.stop_mcp_server().await;
    let started = Instant::now();
    assert_eq!(cluster.mcp_ping(0, &access).await, 502);
    assert!(started.elapsed() < FAIL_WITHIN);
    assert_eq!(cluster.introspect(0, &access).await.unwrap().status(), 200);
}
