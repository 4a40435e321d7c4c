//! Issue 15: access tokens signed ES256, EdDSA or RS256 (`[tokens] signing_algorithm`) verify
//! in software nobody here wrote, through our jwks_uri alone: `jose` (Node, the JOSE library of
//! the MCP TypeScript SDK) and PyJWT (Python, the MCP Python SDK's JWT library). A tampered
//! token is refused by both. And switching the setting from RS256 to ES256 across a restart
//! keeps the old tokens working while new ones are ES256 once the new key's publish delay has
//! passed.

use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use dcr_bridge::oauth::signing_alg::SigningAlgorithm;
use serde_json::Value;
use tokio::process::Command;

use crate::support::app::{jwt_claims, Db, TestApp, RS_SECRET};
use crate::support::node::{ensure_npm_deps, interop_dir, node_or_skip};
use crate::support::process::run_json_script;
use crate::support::python::{python_dir, venv_or_skip, venv_python};

const SCRIPT_TIMEOUT: Duration = Duration::from_secs(60);

fn header(jwt: &str) -> Value {
    let part = jwt.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// `jwt` with another `sub` in its payload, header and signature untouched.
fn tampered(jwt: &str) -> String {
    let parts: Vec<&str> = jwt.split('.').collect();
    let mut claims = jwt_claims(jwt);
    claims["sub"] = Value::String("someone-else".into());
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{}.{payload}.{}", parts[0], parts[2])
}

async fn app_signing(db: Db, alg: SigningAlgorithm) -> Option<TestApp> {
    TestApp::start_with(db, |c| c.tokens.signing_algorithm = Some(alg)).await
}

async fn jose_verifies(app: &TestApp, tokens: &[&str]) -> Value {
    let out = run_json_script(
        Command::new("node")
            .arg("verify_jwt.mjs")
            .arg(app.url("/jwks"))
            .arg(&app.base)
            .arg(app.resource())
            .args(tokens)
            .current_dir(interop_dir()),
        SCRIPT_TIMEOUT,
        "node verify_jwt.mjs",
    )
    .await
    .unwrap();
    out.into_json("verify_jwt.mjs").unwrap()
}

async fn pyjwt_verifies(app: &TestApp, alg: SigningAlgorithm, tokens: &[&str]) -> Value {
    let out = run_json_script(
        Command::new(venv_python())
            .arg("verify_jwt.py")
            .arg(app.url("/jwks"))
            .arg(&app.base)
            .arg(app.resource())
            .arg(alg.as_str())
            .args(tokens)
            .current_dir(python_dir())
            .env("PYTHONDONTWRITEBYTECODE", "1"),
        SCRIPT_TIMEOUT,
        "python verify_jwt.py",
    )
    .await
    .unwrap();
    out.into_json("verify_jwt.py").unwrap()
}

async fn third_parties_verify_each_algorithm(db: Db) {
    if !(node_or_skip().await && venv_or_skip().await) {
        return;
    }
    ensure_npm_deps().await.unwrap();
    for alg in [
        SigningAlgorithm::Es256,
        SigningAlgorithm::EdDsa,
        SigningAlgorithm::Rs256,
    ] {
        let Some(app) = app_signing(db, alg).await else {
            return;
        };
        let (_, _, tokens) = app.tokens_for_new_client().await;
        let at = tokens["access_token"].as_str().unwrap();
        let h = header(at);
        assert_eq!(h["alg"], alg.as_str());
        let kid = h["kid"].as_str().unwrap().to_owned();
        let bad = tampered(at);

        let jose = jose_verifies(&app, &[at, &bad]).await;
        let ok = &jose["results"][0];
        assert_eq!(
            ok["ok"], true,
            "jose {} on {alg}: {jose}",
            jose["jose_version"]
        );
        assert_eq!(
            (ok["alg"].as_str(), ok["kid"].as_str()),
            (Some(alg.as_str()), Some(kid.as_str()))
        );
        assert_eq!(ok["sub"], jwt_claims(at)["sub"]);
        assert_eq!(jose["results"][1]["ok"], false, "{jose}");
        assert_eq!(
            jose["results"][1]["code"], "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
            "{jose}"
        );
        // jose computes the same RFC 7638 thumbprint we use as kid.
        assert_eq!(jose["thumbprints"][&kid], kid.as_str(), "{jose}");

        let py = pyjwt_verifies(&app, alg, &[at, &bad]).await;
        assert_eq!(
            py["results"][0]["ok"], true,
            "PyJWT {} on {alg}: {py}",
            py["pyjwt_version"]
        );
        assert_eq!(py["results"][0]["kid"], kid.as_str());
        assert_eq!(py["results"][1]["ok"], false, "{py}");
        assert!(
            py["results"][1]["error"]
                .as_str()
                .unwrap()
                .starts_with("InvalidSignatureError"),
            "{py}"
        );
    }
}

#[tokio::test]
async fn jose_and_pyjwt_verify_each_algorithm_sqlite() {
    third_parties_verify_each_algorithm(Db::Sqlite).await;
}

#[tokio::test]
async fn jose_and_pyjwt_verify_each_algorithm_postgres() {
    third_parties_verify_each_algorithm(Db::Postgres).await;
}

/// A second server on the first one's database and clock, configured with `alg`: a restart.
struct Restarted {
    base: String,
    _server: tokio::task::JoinHandle<()>,
}

async fn restart_with(app: &TestApp, alg: SigningAlgorithm) -> Restarted {
    let mut config = (*app.state.config).clone();
    config.tokens.signing_algorithm = Some(alg);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let state =
        dcr_bridge::app::build_with(config, Arc::clone(&app.state.core.store), app.clock.clone())
            .await
            .unwrap();
    let server = tokio::spawn(async move {
        dcr_bridge::app::serve(state, listener, std::future::pending())
            .await
            .unwrap();
    });
    Restarted {
        base,
        _server: server,
    }
}

impl Restarted {
    async fn introspect(&self, app: &TestApp, token: &str) -> Value {
        let res = app
            .api
            .post(format!("{}/introspect", self.base))
            .basic_auth("tools", Some(RS_SECRET))
            .form(&[("token", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    async fn refresh(&self, app: &TestApp, refresh_token: &str, client_id: &str) -> Value {
        let res = app
            .api
            .post(format!("{}/token", self.base))
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", client_id),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    async fn jwks_algs(&self, app: &TestApp) -> Vec<String> {
        let jwks: Value = app
            .api
            .get(format!("{}/jwks", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let mut algs: Vec<String> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["alg"].as_str().unwrap().to_owned())
            .collect();
        algs.sort();
        algs
    }
}

async fn switching_rs256_to_es256_across_a_restart(db: Db) {
    let Some(app) = app_signing(db, SigningAlgorithm::Rs256).await else {
        return;
    };
    let (client_id, _, tokens) = app.tokens_for_new_client().await;
    let old_at = tokens["access_token"].as_str().unwrap().to_owned();
    assert_eq!(header(&old_at)["alg"], "RS256");

    let second = restart_with(&app, SigningAlgorithm::Es256).await;
    // Both keys published at once; the RS256 token still good.
    assert_eq!(second.jwks_algs(&app).await, ["ES256", "RS256"]);
    assert_eq!(second.introspect(&app, &old_at).await["active"], true);
    // The ES256 key is not yet published long enough: the RS256 key keeps signing.
    let refreshed = second
        .refresh(&app, tokens["refresh_token"].as_str().unwrap(), &client_id)
        .await;
    assert_eq!(
        header(refreshed["access_token"].as_str().unwrap())["alg"],
        "RS256"
    );

    // After the publish delay (two reload intervals), new tokens are ES256.
    let delay = app.state.config.tokens.signing_key_publish_seconds();
    app.clock.advance(delay + 1);
    let later = second
        .refresh(
            &app,
            refreshed["refresh_token"].as_str().unwrap(),
            &client_id,
        )
        .await;
    let new_at = later["access_token"].as_str().unwrap();
    assert_eq!(header(new_at)["alg"], "ES256");
    assert_eq!(second.introspect(&app, new_at).await["active"], true);
    assert_eq!(second.introspect(&app, &old_at).await["active"], true);

    // Once audited; a second restart with the same setting changes nothing.
    let events = app.state.core.store.list_audit_events(100).await.unwrap();
    let switched = events
        .iter()
        .filter(|e| e.kind == "signing_algorithm_switched")
        .count();
    assert_eq!(switched, 1);
    let third = restart_with(&app, SigningAlgorithm::Es256).await;
    assert_eq!(third.jwks_algs(&app).await, ["ES256", "RS256"]);
    assert_eq!(third.introspect(&app, &old_at).await["active"], true);
    assert_eq!(third.introspect(&app, new_at).await["active"], true);
}

#[tokio::test]
async fn switching_rs256_to_es256_across_a_restart_sqlite() {
    switching_rs256_to_es256_across_a_restart(Db::Sqlite).await;
}

#[tokio::test]
async fn switching_rs256_to_es256_across_a_restart_postgres() {
    switching_rs256_to_es256_across_a_restart(Db::Postgres).await;
}
