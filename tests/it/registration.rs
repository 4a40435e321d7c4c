//! RFC 7591 registration responses and RFC 7592 management (COMPAT C5, C12).

use serde_json::{json, Value};

use crate::support::app::{refresh_form, status_json, TestApp};

fn assert_no_nulls(v: &Value) {
    if let Some(map) = v.as_object() {
        for (k, val) in map {
            assert!(!val.is_null(), "field {k} is null");
            assert_ne!(val, "", "field {k} is empty");
        }
    }
}

#[tokio::test]
async fn minimal_public_registration_gets_defaults() {
    let app = TestApp::start().await;
    let reg = app.register(json!({"redirect_uris": ["http://127.0.0.1:6276/oauth/callback"], "token_endpoint_auth_method": "none"})).await;
    assert_no_nulls(&reg);
    assert!(reg["client_id"].as_str().unwrap().starts_with("dcrb_c_"));
    assert_eq!(reg["token_endpoint_auth_method"], "none");
    assert!(reg["grant_types"]
        .as_array()
        .unwrap()
        .iter()
        .any(|g| g == "refresh_token"));
    assert!(reg.get("client_secret").is_none());
    assert!(reg["registration_access_token"].is_string());
}

#[tokio::test]
async fn confidential_client_with_secret_post_and_basic() {
    let app = TestApp::start().await;
    for method in ["client_secret_post", "client_secret_basic"] {
        let reg = app.register(json!({"redirect_uris": ["https://claude.ai/api/mcp/auth_callback"], "token_endpoint_auth_method": method, "client_name": "Claude"})).await;
        assert_no_nulls(&reg);
        assert_eq!(reg["token_endpoint_auth_method"], method);
        assert!(reg["client_secret"]
            .as_str()
            .unwrap()
            .starts_with("dcrb_cs_"));
        assert_eq!(reg["client_secret_expires_at"], 0);
    }
}

#[tokio::test]
async fn private_use_schemes_are_accepted() {
    let app = TestApp::start().await;
    for uri in [
        "cursor://anysphere.cursor-retrieval/oauth/callback",
        "vscode://vscode.github-authentication/did-authenticate",
    ] {
        app.register(json!({"redirect_uris": [uri], "token_endpoint_auth_method": "none"}))
            .await;
    }
}

#[tokio::test]
async fn management_read_update_delete() {
    let app = TestApp::start().await;
    let reg = app.register(json!({"redirect_uris": ["http://127.0.0.1:1/cb"], "token_endpoint_auth_method": "none", "client_name": "Before"})).await;
    let uri = reg["registration_client_uri"].as_str().unwrap().to_owned();
    let rat = reg["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = app.api.get(&uri).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let res = app.api.get(&uri).bearer_auth("wrong").send().await.unwrap();
    assert_eq!(res.status(), 401);
    let (_, read) = status_json(app.api.get(&uri).bearer_auth(&rat).send().await.unwrap()).await;
    assert_eq!(read["client_name"], "Before");
    let res = app.api.put(&uri).bearer_auth(&rat).json(&json!({"client_id": reg["client_id"], "redirect_uris": ["http://127.0.0.1:1/cb"], "token_endpoint_auth_method": "none", "client_name": "After"})).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["client_name"], "After");
    let res = app.api.delete(&uri).bearer_auth(&rat).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let res = app.api.get(&uri).bearer_auth(&rat).send().await.unwrap();
    assert_eq!(res.status(), 401);
    // A deleted client at /token: 401 invalid_client so it re-registers (COMPAT C12).
    let res = app
        .token(&refresh_form("x", reg["client_id"].as_str().unwrap()))
        .await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap()["error"],
        "invalid_client"
    );
}

/// Issue 11, finding 7: RFC 7592 §3 makes `registration_access_token` and
/// `registration_client_uri` REQUIRED in read and update responses. The token is echoed, not
/// rotated, so it keeps working.
#[tokio::test]
async fn management_responses_carry_the_token_and_uri() {
    let app = TestApp::start().await;
    let reg = app.register(json!({"redirect_uris": ["http://127.0.0.1:1/cb"], "token_endpoint_auth_method": "none"})).await;
    let uri = reg["registration_client_uri"].as_str().unwrap().to_owned();
    let rat = reg["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, read) =
        status_json(app.api.get(&uri).bearer_auth(&rat).send().await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(read["registration_access_token"], rat.as_str());
    assert_eq!(read["registration_client_uri"], uri.as_str());
    assert_no_nulls(&read);
    let res = app
        .api
        .put(&uri)
        .bearer_auth(&rat)
        .json(&json!({"client_id": reg["client_id"], "redirect_uris": ["http://127.0.0.1:2/cb"], "token_endpoint_auth_method": "none"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["cache-control"], "no-store");
    let (status, updated) = status_json(res).await;
    assert_eq!(status, 200);
    assert_eq!(updated["registration_access_token"], rat.as_str());
    assert_eq!(updated["registration_client_uri"], uri.as_str());
    // Not rotated: the same token still reads.
    let res = app.api.get(&uri).bearer_auth(&rat).send().await.unwrap();
    assert_eq!(res.status(), 200);
}

/// Issue 11, finding 3: a maximum-size registration is refused with the limit named, and the
/// audit row of an accepted one keeps a summary and a hash, not every URI.
#[tokio::test]
async fn oversized_metadata_is_refused_and_audit_keeps_a_summary() {
    let app = TestApp::start().await;
    let uris: Vec<String> = (0..10)
        .map(|i| format!("https://app.example.com/{i}/{}", "a".repeat(1900)))
        .collect();
    let (status, err) = status_json(
        app.post_json(
            "/register",
            &json!({"redirect_uris": uris, "token_endpoint_auth_method": "none"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(err["error"], "invalid_redirect_uri");
    assert!(
        err["error_description"].as_str().unwrap().contains("4096"),
        "{err}"
    );

    let two = &uris[..2];
    let reg = app
        .register(json!({"redirect_uris": two, "token_endpoint_auth_method": "none", "client_name": "Two"}))
        .await;
    let events = app.state.core.store.list_audit_events(1).await.unwrap();
    assert_eq!(events[0].kind, "registered");
    assert_eq!(events[0].client_id.as_deref(), reg["client_id"].as_str());
    let detail = events[0].detail.clone().unwrap();
    assert!(detail.len() < 600, "{}", detail.len());
    assert!(!detail.contains("aaaa"), "{detail}");
    let detail: Value = serde_json::from_str(&detail).unwrap();
    assert_eq!(detail["redirect_uri_count"], 2);
    assert_eq!(detail["redirect_hosts"], json!(["app.example.com"]));
    assert_eq!(detail["metadata_sha256"].as_str().unwrap().len(), 64);
}
