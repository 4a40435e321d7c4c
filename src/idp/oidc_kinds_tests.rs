//! `OidcUpstream` with the hooks of a kind other than `oidc`, against the dev IdP and fake
//! discovery servers (the helpers are the parent module's).

use std::collections::BTreeMap;

use super::*;

#[tokio::test]
async fn google_kind_sends_access_type_offline_and_consent_and_no_offline_access_scope() {
    let idp = dev_idp("").await;
    let mut c = config(&idp.issuer);
    c.kind = UpstreamKind::Google;
    c.extra_authorize_params.clear();
    let (up, _) = upstream_with(&c);
    let (mut req, _) = request("n");
    let query =
        |url: url::Url| -> BTreeMap<String, String> { url.query_pairs().into_owned().collect() };
    let q = query(up.authorization_url(&req).await.unwrap());
    assert_eq!(q["scope"], "openid email profile");
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["prompt"], "consent");
    req.force_login = true;
    let q = query(up.authorization_url(&req).await.unwrap());
    assert_eq!(q["prompt"], "consent login");
    // Configured values: `prompt` merges (once each), other names replace the kind's.
    c.extra_authorize_params = BTreeMap::from([
        ("prompt".to_owned(), "select_account consent".to_owned()),
        ("access_type".to_owned(), "online".to_owned()),
    ]);
    let (up, _) = upstream_with(&c);
    let url = up.authorization_url(&req).await.unwrap();
    assert_eq!(
        url.query_pairs()
            .filter(|(k, _)| k == "access_type")
            .count(),
        1
    );
    let q = query(url);
    assert_eq!(q["prompt"], "consent select_account login");
    assert_eq!(q["access_type"], "online");
}

/// The `hd` parameters of an authorization URL of the upstream `c`.
async fn hd(c: &UpstreamConfig) -> Vec<String> {
    let (up, _) = upstream_with(c);
    let (req, _) = request("n");
    let url = up.authorization_url(&req).await.unwrap();
    url.query_pairs()
        .filter(|(k, _)| k == "hd")
        .map(|(_, v)| v.into_owned())
        .collect()
}

#[tokio::test]
async fn google_kind_hints_the_one_allowed_workspace_domain() {
    let idp = dev_idp("").await;
    let mut c = config(&idp.issuer);
    c.kind = UpstreamKind::Google;
    c.extra_authorize_params.clear();
    assert!(hd(&c).await.is_empty(), "no domain, no hint");
    c.policy.allowed_hosted_domains = vec!["acme.com".to_owned()];
    assert_eq!(hd(&c).await, ["acme.com"]);
    // Two domains: Google's hint takes one; sending either would hide the other's accounts.
    c.policy.allowed_hosted_domains = vec!["acme.com".to_owned(), "acme.org".to_owned()];
    assert!(hd(&c).await.is_empty());
    // A configured `hd` replaces the kind's.
    c.policy.allowed_hosted_domains = vec!["acme.com".to_owned()];
    c.extra_authorize_params = BTreeMap::from([("hd".to_owned(), "*".to_owned())]);
    assert_eq!(hd(&c).await, ["*"]);
}

#[tokio::test]
async fn google_kind_accepts_a_refresh_answer_without_id_token_and_keeps_the_refresh_token() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let doc = serde_json::json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    // Google's refresh answer: a new access token, no refresh_token (no rotation), no id_token.
    let answer = serde_json::json!({
        "access_token": "ya29.new", "token_type": "Bearer", "expires_in": 3599,
        "scope": "openid email profile",
    });
    let app = axum::Router::new()
        .route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || async move { axum::Json(doc) }),
        )
        .route(
            "/jwks",
            axum::routing::get(|| async { axum::Json(serde_json::json!({"keys": []})) }),
        )
        .route(
            "/token",
            axum::routing::post(move || async move { axum::Json(answer) }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut c = config(&base);
    c.kind = UpstreamKind::Google;
    let (up, clock) = upstream_with(&c);
    let tokens = up.refresh("1//refresh", "1234567890").await.unwrap();
    assert_eq!(tokens.access_token.expose_secret(), "ya29.new");
    assert_eq!(tokens.refresh_token.unwrap().expose_secret(), "1//refresh");
    assert!(tokens.id_token.is_none());
    assert_eq!(tokens.expires_at, Some(clock.now() + 3599));
}

#[tokio::test]
async fn entra_kind_refuses_an_issuer_template_from_a_single_tenant_document() {
    // A single-tenant issuer must be exact: a document naming the template is refused. (The
    // route's `{tenant}` is axum's path parameter: one document for every tenant segment.)
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let doc = serde_json::json!({
        "issuer": format!("{base}/{{tenantid}}/v2.0"),
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
    });
    let served = doc.clone();
    let app = axum::Router::new()
        .route(
            "/{tenant}/v2.0/.well-known/openid-configuration",
            axum::routing::get(move || async move { axum::Json(served) }),
        )
        .route(
            "/jwks",
            axum::routing::get(|| async { axum::Json(serde_json::json!({"keys": []})) }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    let mut c = config(&format!("{base}/{tenant}/v2.0"));
    c.kind = UpstreamKind::Entra;
    let (up, _) = upstream_with(&c);
    assert!(matches!(up.check().await, Err(IdpError::Discovery(m)) if m.contains("issuer")));
    // The same document at /organizations is the multi-tenant one, and accepted.
    let mut c = config(&format!("{base}/organizations/v2.0"));
    c.kind = UpstreamKind::Entra;
    let (up, _) = upstream_with(&c);
    let summary = up.check().await.unwrap();
    assert_eq!(summary["issuer"], format!("{base}/{{tenantid}}/v2.0"));
    assert_eq!(summary["kind"], "entra");
    let open_to_all = "users of every Entra tenant can sign in";
    assert!(
        summary["warnings"].to_string().contains(open_to_all),
        "{summary}"
    );
    c.policy.allowed_tenants = vec![tenant.to_owned()];
    let (listed, _) = upstream_with(&c);
    let summary = listed.check().await.unwrap();
    assert!(
        !summary["warnings"].to_string().contains(open_to_all),
        "{summary}"
    );
    let check = up.issuer_identification().await.unwrap().unwrap();
    assert!(check.accepts(&format!("{base}/{tenant}/v2.0")));
    assert!(!check.iss_required);
}
