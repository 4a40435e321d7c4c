//! `/admin/v1/signing-keys` through HTTP: the list (public identity only), rotation in steps
//! (stage, promote) and at once, what JWKS and newly signed tokens show after it, the audit
//! event, and the refusals (no token, read-only token, unknown step).

use reqwest::Method;
use serde_json::Value;

use crate::admin::{admin_app, assert_problem, call, create_token, expect_problem, get, BOOT};
use crate::support::app::{Db, TestApp};

const PATH: &str = "/admin/v1/signing-keys";

async fn rotate(app: &TestApp, query: &str) -> Value {
    let (s, _, b) = call(
        app,
        Method::POST,
        &format!("{PATH}/rotate{query}"),
        Some(BOOT),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    b
}

/// `(kid, state)` of every listed key, by kid (keys made in one second have no other order).
fn states(keys: &Value) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["kid"].as_str().unwrap().to_owned(),
                k["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    out.sort();
    out
}

async fn jwks_kids(app: &TestApp) -> Vec<String> {
    let jwks = app.get_json("/jwks").await;
    let mut kids: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    kids.sort();
    kids
}

#[tokio::test]
async fn admin_signing_keys_list_and_rotate_in_steps() {
    let app = admin_app(Db::Sqlite).await.unwrap();
    let (reader, _) = create_token(&app, "keys-reader", true).await;

    // One active key; only public fields.
    let (s, b) = get(&app, PATH, &reader).await;
    assert_eq!(s, 200, "{b}");
    let first = states(&b["items"]);
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].1, "active");
    let mut fields: Vec<&str> = b["items"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["alg", "created_at", "kid", "state"]);
    // A new key ring is ES256 (docs/security.md, "Signing keys").
    assert_eq!(b["items"][0]["alg"], "ES256");
    let old = first[0].0.clone();

    // A read-only token may not rotate: nothing changes, nothing is audited.
    let (s, h, b) = call(
        &app,
        Method::POST,
        &format!("{PATH}/rotate"),
        Some(&reader),
        None,
    )
    .await;
    assert_problem(s, &h, &b, 403, "forbidden");
    assert_eq!(states(&get(&app, PATH, BOOT).await.1["items"]), first);

    // Stage: a next key, published in JWKS, not signing.
    let b = rotate(&app, "?step=stage").await;
    let next = b["staged"].as_str().unwrap().to_owned();
    assert!(b.get("activated").is_none(), "{b}");
    let staged = states(&b["keys"]);
    assert_eq!(staged.len(), 2);
    assert!(
        staged.contains(&(next.clone(), "next".into())),
        "{staged:?}"
    );
    assert!(
        staged.contains(&(old.clone(), "active".into())),
        "{staged:?}"
    );
    let mut both = vec![old.clone(), next.clone()];
    both.sort();
    assert_eq!(jwks_kids(&app).await, both);
    assert_eq!(app.state.core.keys.current_kid().unwrap(), old);

    // Promote: the next key is active (it signs once published long enough, below); the old
    // one is retired, still published.
    let b = rotate(&app, "?step=promote").await;
    assert_eq!(b["activated"], next.as_str(), "{b}");
    let after = states(&b["keys"]);
    assert!(
        after.contains(&(next.clone(), "active".into())),
        "{after:?}"
    );
    assert!(
        after.contains(&(old.clone(), "retired".into())),
        "{after:?}"
    );
    let retired = b["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == old.as_str());
    assert!(retired.unwrap()["retired_at"].is_i64(), "{b}");
    assert_eq!(app.state.core.keys.current_kid().unwrap(), next);
    assert_eq!(jwks_kids(&app).await, both);
    // Promoting with nothing staged changes nothing.
    let b = rotate(&app, "?step=promote").await;
    assert!(b.get("activated").is_none(), "{b}");

    // Both steps at once (the default), audited with the acting token.
    let b = rotate(&app, "").await;
    let newest = b["activated"].as_str().unwrap();
    assert_eq!(b["staged"], newest);
    assert_eq!(app.state.core.keys.current_kid().unwrap(), newest);
    let audited: Vec<_> = app
        .state
        .core
        .store
        .list_audit_events(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.kind == "admin_signing_key_rotated")
        .collect();
    assert_eq!(audited.len(), 4);
    assert_eq!(audited[0].actor.as_deref(), Some("admin:bootstrap"));
    let detail: Value = serde_json::from_str(audited[0].detail.as_deref().unwrap()).unwrap();
    assert_eq!(detail["step"], "both");
    assert_eq!(detail["activated_kid"], newest);

    // A token issued now is still signed by an older key (here one of the two retired ones:
    // every key of this test was made in the same second, which the ring breaks by kid), so no
    // replica can meet a token whose key it has not loaded yet. Once the newest key has been
    // published for two reload intervals (`tokens.signing_key_reload_seconds`), it signs.
    let kid_of = |tokens: Value| {
        let jwt = tokens["access_token"].as_str().unwrap().to_owned();
        jsonwebtoken::decode_header(&jwt).unwrap().kid.unwrap()
    };
    let (_, _, tokens) = app.tokens_for_new_client().await;
    let mut retired = [old.clone(), next.clone()];
    retired.sort();
    assert_eq!(kid_of(tokens), retired[0]);
    app.clock
        .advance(app.state.config.tokens.signing_key_publish_seconds());
    let (_, _, tokens) = app.tokens_for_new_client().await;
    assert_eq!(kid_of(tokens), newest);
}

#[tokio::test]
async fn admin_signing_keys_refusals() {
    let app = admin_app(Db::Sqlite).await.unwrap();
    for (method, path) in [
        (Method::GET, PATH.to_owned()),
        (Method::POST, format!("{PATH}/rotate")),
    ] {
        let (s, h, b) = call(&app, method, &path, None, None).await;
        assert_problem(s, &h, &b, 401, "unauthorized");
    }
    let rotate = format!("{PATH}/rotate");
    let bad = ["?step=all", "?step=", "?kid=x"];
    for query in bad {
        let (s, h, b) = call(
            &app,
            Method::POST,
            &format!("{rotate}{query}"),
            Some(BOOT),
            None,
        )
        .await;
        assert_problem(s, &h, &b, 400, "invalid_request");
    }
    expect_problem(&app, Method::GET, &rotate, 405, "method_not_allowed").await;
    expect_problem(
        &app,
        Method::GET,
        &format!("{PATH}/some-kid"),
        404,
        "not_found",
    )
    .await;
    // Nothing was rotated by the refused calls.
    assert_eq!(
        get(&app, PATH, BOOT).await.1["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
