//! Discovery documents as the MCP SDKs read them (COMPAT C1, C2, C4, C15; SPEC A3, B).

use serde_json::Value;

use crate::support::app::{header, TestApp};

#[tokio::test]
async fn as_metadata_has_what_mcp_clients_need() {
    let app = TestApp::start().await;
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server/mcp",
        "/.well-known/openid-configuration/mcp",
        "/mcp/.well-known/openid-configuration",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert!(header(&res, "content-type").starts_with("application/json"));
        let m: Value = res.json().await.unwrap();
        assert_eq!(
            m["issuer"], app.base,
            "issuer must equal the public URL exactly ({path})"
        );
        assert_eq!(
            m["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        assert_eq!(m["response_types_supported"], serde_json::json!(["code"]));
        assert_eq!(m["registration_endpoint"], app.url("/register"));
        assert_eq!(m["authorization_response_iss_parameter_supported"], true);
        let methods = m["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap();
        for wanted in ["none", "client_secret_post", "client_secret_basic"] {
            assert!(methods.iter().any(|v| v == wanted), "{wanted}");
        }
        let scopes = m["scopes_supported"].as_array().unwrap();
        assert!(scopes.iter().any(|s| s == "mcp:read"));
    }
    let oidc = app.get_json("/.well-known/openid-configuration").await;
    assert!(oidc["jwks_uri"].is_string() && oidc["subject_types_supported"].is_array());
    assert!(oidc["id_token_signing_alg_values_supported"].is_array());
}

#[tokio::test]
async fn unknown_well_known_variants_are_json_404() {
    let app = TestApp::start().await;
    for path in [
        "/.well-known/oauth-authorization-server/other",
        "/.well-known/oauth-protected-resource/other",
        "/other/.well-known/openid-configuration",
        "/nope",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 404, "{path}");
        let body: Value = res.json().await.unwrap();
        assert!(body["error"].is_string());
    }
}

#[tokio::test]
async fn protected_resource_metadata_root_and_suffixed() {
    let app = TestApp::start().await;
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200);
        let m: Value = res.json().await.unwrap();
        assert_eq!(m["resource"], app.resource());
        assert_eq!(m["authorization_servers"], serde_json::json!([app.base]));
        let scopes = m["scopes_supported"].as_array().unwrap();
        assert!(
            !scopes.iter().any(|s| s == "offline_access"),
            "offline_access is not a resource scope"
        );
    }
}

#[tokio::test]
async fn resource_answers_401_with_resource_metadata() {
    let app = TestApp::start().await;
    let res = app
        .api
        .post(app.resource())
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let challenge = header(&res, "www-authenticate");
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    assert!(challenge.contains(&format!(
        "resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
        app.base
    )));
    assert!(challenge.contains("scope=\"mcp:read mcp:write\""));
    let res = app
        .api
        .post(app.resource())
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(header(&res, "www-authenticate").contains("error=\"invalid_token\""));
}

/// Issue 11, finding 11: every 401 from a resource path is `no-store`, challenge kept.
#[tokio::test]
async fn resource_401s_are_never_cached() {
    let app = TestApp::start().await;
    let (_, _, tokens) = app.tokens_for_new_client().await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    for (method, bearer) in [
        (reqwest::Method::GET, None),
        (reqwest::Method::POST, None),
        (reqwest::Method::POST, Some("not-a-token")),
        (reqwest::Method::POST, Some(refresh)),
    ] {
        let mut req = app.api.request(method.clone(), app.resource()).body("{}");
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401, "{method} {bearer:?}");
        assert_eq!(
            header(&res, "cache-control"),
            "no-store",
            "{method} {bearer:?}"
        );
        assert!(header(&res, "www-authenticate").starts_with("Bearer resource_metadata="));
    }
}

#[tokio::test]
async fn cors_preflight_is_204_and_exposes_www_authenticate() {
    let app = TestApp::start().await;
    for path in [
        "/token",
        "/register",
        "/.well-known/oauth-authorization-server",
        "/mcp",
    ] {
        let res = app
            .api
            .request(reqwest::Method::OPTIONS, app.url(path))
            .header("origin", "https://claude.ai")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, mcp-protocol-version",
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 204, "{path}");
        let allow = header(&res, "access-control-allow-headers").to_ascii_lowercase();
        assert!(
            allow.contains("authorization") && allow.contains("mcp-protocol-version"),
            "{allow}"
        );
    }
    let res = app
        .api
        .get(app.resource())
        .header("origin", "https://claude.ai")
        .send()
        .await
        .unwrap();
    let expose = header(&res, "access-control-expose-headers").to_ascii_lowercase();
    assert!(expose.contains("www-authenticate"));
    // RFC 9700 §2.6: no CORS on the authorization endpoint.
    let res = app
        .api
        .get(app.url("/authorize"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(res.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn jwks_lists_the_signing_key() {
    let app = TestApp::start().await;
    let jwks = app.get_json("/jwks").await;
    let keys = jwks["keys"].as_array().unwrap();
    assert!(!keys.is_empty());
    // A new key ring is ES256: a P-256 key (RFC 7518 §6.2).
    assert_eq!(
        (keys[0]["kty"].as_str(), keys[0]["crv"].as_str()),
        (Some("EC"), Some("P-256"))
    );
    assert!(keys[0]["kid"].is_string());
    assert!(
        keys[0].get("d").is_none(),
        "private part must never be published"
    );
}

#[tokio::test]
async fn demo_mcp_server_answers_with_a_valid_token_only() {
    let app = TestApp::start().await;
    let (_, _, tokens) = app.tokens_for_new_client().await;
    let at = tokens["access_token"].as_str().unwrap();
    let call = |body: Value| {
        let req = app.api.post(app.resource()).bearer_auth(at).json(&body);
        async move { req.send().await.unwrap() }
    };
    let init: Value = call(serde_json::json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})).await.json().await.unwrap();
    assert_eq!(init["result"]["serverInfo"]["name"], "dcr-bridge-dev-demo");
    assert_eq!(
        call(serde_json::json!({"jsonrpc":"2.0","method":"notifications/initialized"}))
            .await
            .status(),
        202
    );
    let who: Value = call(serde_json::json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami","arguments":{}}})).await.json().await.unwrap();
    let text = who["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("alice@example.com"), "{text}");
    // Audience binding: a token is not accepted with a tampered signature.
    let forged = format!("{}x", &at[..at.len() - 1]);
    let res = app
        .api
        .post(app.resource())
        .bearer_auth(forged)
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::start().await;
    let res = app.api.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let res = app.api.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ready");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["signing_key"], "ok");
}
