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
