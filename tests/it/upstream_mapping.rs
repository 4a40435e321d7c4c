//! Issue 13 item 2, "Done when": ONE dcr-bridge in front of TWO upstreams, each a certified
//! `oidc-provider` (`tests/interop/upstream.mjs`): `okta` (an Okta custom authorization server
//! look-alike, `kind = "okta"`, `allowed_groups = ["engineering"]`, domain example.com) and
//! `entra` (an Entra ID tenant look-alike, `kind = "entra"`, domain contoso.com). Resource
//! `/mcp` accepts both; `/hr` only entra. `[[client_rules]]` map DCR clients by `software_id`.
//! Each mapped client signs in at its upstream and its refresh reaches that upstream; an
//! unmapped client chooses on the consent page; `login_hint` picks by email domain; forged
//! choices, a resource that does not accept the client's upstream and a user outside the
//! allowed groups are refused.

use dcr_bridge::config::{AccessPolicy, UpstreamRefresh};
use dcr_bridge::config::{ClientMatch, ClientRuleConfig, ResourceConfig, UpstreamKind};
use dcr_bridge::store::{PageRequest, UserRecord};
use reqwest::{Client, Method, Response};
use secrecy::SecretString;
use serde_json::{json, Value};

use crate::account_browser::{browser, walk, Walked};
use crate::admin::{call, BOOT};
use crate::support::app::{
    code_form, hidden, jwt_claims, location, meta_refresh, pkce, query_param, return_link, Db,
    TestApp,
};
use crate::support::node::{node_or_skip, OidcProviderProc};

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
/// The `oid` upstream.mjs gives its first user (alice) in Entra mode.
const ALICE_OID: &str = "00000000-0000-4000-8000-000000000001";
/// A user of the Entra look-alike only, in the domain entra claims.
const ERIN: &str = r#"{"00u5erin":{"email":"erin@contoso.com","name":"Erin Contoso"}}"#;
const REDIRECT: &str = "http://127.0.0.1:33418/callback";
/// `[upstreams.refresh] recheck_interval_seconds` of both upstreams.
const RECHECK: i64 = 60;

struct Env {
    app: TestApp,
    okta: OidcProviderProc,
    entra: OidcProviderProc,
}

/// A rule mapping clients that registered `software_id` to `upstream`.
fn rule(software_id: &str, upstream: &str) -> ClientRuleConfig {
    ClientRuleConfig {
        matches: ClientMatch {
            software_id: Some(software_id.to_owned()),
            ..ClientMatch::default()
        },
        upstream: Some(upstream.to_owned()),
        ..ClientRuleConfig::default()
    }
}

/// The deployment of the module comment on `db`; `None` when Node or Postgres is opted out.
async fn env(db: Db) -> Option<Env> {
    if !node_or_skip().await {
        return None;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = format!(
        "http://127.0.0.1:{}/oauth/callback",
        listener.local_addr().unwrap().port()
    );
    let start = |args: &'static [&'static str]| {
        OidcProviderProc::start_with_args(Some(&callback), "bridge-client", "bridge-secret", args)
    };
    let (okta, entra) = tokio::join!(
        start(&["--offline-access-without-prompt"]),
        start(&["--entra-tenant", TENANT, "--users-json", ERIN]),
    );
    let (okta, entra) = (okta.unwrap(), entra.unwrap());
    let app = TestApp::start_on(db, listener, Some(okta.issuer.clone()), |c| {
        c.admin_token = Some(SecretString::from(BOOT.to_owned()));
        let o = &mut c.upstreams[0];
        o.id = "okta".into();
        o.kind = UpstreamKind::Okta;
        o.domains = vec!["example.com".into()];
        o.policy.allowed_groups = vec!["engineering".into()];
        o.refresh = UpstreamRefresh {
            recheck_interval_seconds: RECHECK as u64,
            ..UpstreamRefresh::default()
        };
        let mut e = o.clone();
        e.id = "entra".into();
        e.kind = UpstreamKind::Entra;
        e.issuer = Some(entra.issuer.parse().unwrap());
        e.domains = vec!["contoso.com".into()];
        e.policy = AccessPolicy::default();
        c.upstreams.push(e);
        c.resources[0].upstreams = vec!["okta".into(), "entra".into()];
        let hr = ResourceConfig {
            id: "hr".into(),
            path: "/hr".into(),
            upstream: Some("entra".into()),
            upstreams: Vec::new(),
            upstream_url: None,
            identity_headers: Default::default(),
            ..c.resources[0].clone()
        };
        c.resources.push(hr);
        c.client_rules = vec![rule("okta-app", "okta"), rule("entra-app", "entra")];
    })
    .await?;
    Some(Env { app, okta, entra })
}

/// A public native client registered with `software_id` (none: no rule maps it).
async fn register(app: &TestApp, software_id: Option<&str>) -> String {
    let mut body = json!({
        "client_name": "Mapping Test Client",
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "application_type": "native",
    });
    if let Some(s) = software_id {
        body["software_id"] = s.into();
    }
    app.register(body).await["client_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The admin API's view of a client.
async fn admin_client(app: &TestApp, client_id: &str) -> Value {
    let path = format!("/admin/v1/clients/{client_id}");
    let (status, _, body) = call(app, Method::GET, &path, Some(BOOT), None).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A new browser's `/authorize` for `client_id` and `resource` (plus `extra` parameters):
/// the browser, the PKCE verifier and the response.
async fn authorize(
    app: &TestApp,
    client_id: &str,
    resource: &str,
    extra: &[(&str, &str)],
) -> (Client, String, Response) {
    let b = browser();
    let (verifier, challenge) = pkce();
    let mut params = TestApp::auth_params(client_id, REDIRECT, &challenge, resource);
    params.extend_from_slice(extra);
    let res = b
        .get(app.url("/authorize"))
        .query(&params)
        .send()
        .await
        .unwrap();
    (b, verifier, res)
}

/// Walks `res` in `b` (our consent page approved, the upstream's login as `login`) to the
/// client's redirect URI; redeems the code. Returns the token response.
async fn finish(
    app: &TestApp,
    b: &Client,
    res: Response,
    login: &str,
    client_id: &str,
    verifier: &str,
) -> Value {
    let back = walk(b, &app.base, res, login, |u| u.starts_with(REDIRECT))
        .await
        .stopped();
    let code = query_param(&back, "code").unwrap_or_else(|| panic!("no code: {back}"));
    let resource = app.resource();
    let mut form = code_form(&code, REDIRECT, verifier, client_id);
    form.push(("resource", &resource));
    let res = app.token(&form).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The user behind `tokens`' access token, and its grant id.
async fn user_of(app: &TestApp, tokens: &Value) -> (UserRecord, String) {
    let jti = jwt_claims(tokens["access_token"].as_str().unwrap())["jti"]
        .as_str()
        .unwrap()
        .to_owned();
    let store = &app.state.core.store;
    let view = store.get_access_token(&jti).await.unwrap().unwrap();
    let page = PageRequest {
        after: None,
        limit: 50,
    };
    let users = store.list_users(&page).await.unwrap();
    let user = users
        .into_iter()
        .find(|u| u.id == view.grant.user_id)
        .unwrap();
    (user, view.grant.id)
}

/// How many refresh_token grants reached `up`.
async fn upstream_refreshes(up: &OidcProviderProc) -> u64 {
    let url = format!("http://127.0.0.1:{}/__control/stats", up.port);
    let stats: Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    stats["refreshes"].as_u64().unwrap()
}

/// Our refresh of `tokens` for `client_id` (200).
async fn refresh(app: &TestApp, tokens: &Value, client_id: &str) -> Value {
    let res = app
        .refresh(tokens["refresh_token"].as_str().unwrap(), client_id)
        .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

/// POSTs the consent form of `html` from `b` with `fields` (same origin).
async fn post_consent(app: &TestApp, b: &Client, fields: &[(&str, &str)]) -> Response {
    b.post(app.url("/consent"))
        .header("origin", &app.base)
        .form(fields)
        .send()
        .await
        .unwrap()
}

/// The consent form's handles.
fn handles(html: &str) -> (String, String) {
    (hidden(html, "consent_id"), hidden(html, "csrf_token"))
}

#[tokio::test]
async fn mapped_clients_sign_in_at_their_upstreams_sqlite() {
    mapped_clients_sign_in_at_their_upstreams(Db::Sqlite).await;
}

#[tokio::test]
async fn mapped_clients_sign_in_at_their_upstreams_postgres() {
    mapped_clients_sign_in_at_their_upstreams(Db::Postgres).await;
}

/// Two DCR clients mapped to different upstreams by `software_id`: the mapping is in the admin
/// API, each whole flow signs in at its upstream (the user's issuer and upstream), the same
/// email at the two upstreams is two users with two grants, and each refresh reaches only its
/// own upstream.
async fn mapped_clients_sign_in_at_their_upstreams(db: Db) {
    let Some(env) = env(db).await else {
        return;
    };
    let app = &env.app;
    let okta_client = register(app, Some("okta-app")).await;
    let entra_client = register(app, Some("entra-app")).await;
    assert_eq!(admin_client(app, &okta_client).await["upstream_id"], "okta");
    assert_eq!(
        admin_client(app, &entra_client).await["upstream_id"],
        "entra"
    );

    let mut signed_in = Vec::new();
    for (client, up, name) in [
        (&okta_client, &env.okta, "okta"),
        (&entra_client, &env.entra, "entra"),
    ] {
        let (b, verifier, res) = authorize(app, client, &app.resource(), &[]).await;
        assert_eq!(res.status(), 200);
        let html = res.text().await.unwrap();
        // Decided by the mapping: no chooser.
        assert!(!html.contains("name=\"upstream\""), "{html}");
        let (consent_id, csrf) = handles(&html);
        let res = post_consent(
            app,
            &b,
            &[
                ("consent_id", &consent_id),
                ("csrf_token", &csrf),
                ("decision", "approve"),
            ],
        )
        .await;
        assert_eq!(res.status(), 303);
        assert!(location(&res).starts_with(&up.issuer), "{}", location(&res));
        let tokens = finish(app, &b, res, "00u1alice", client, &verifier).await;
        let (user, grant) = user_of(app, &tokens).await;
        assert_eq!(
            (user.upstream_id.as_str(), &user.issuer),
            (name, &up.issuer)
        );
        signed_in.push((client, up, tokens, user, grant));
    }
    let [(_, _, _, okta_alice, okta_grant), (_, _, _, entra_alice, entra_grant)] = &signed_in[..]
    else {
        unreachable!()
    };
    // Keyed by (upstream issuer, subject), never merged by email.
    assert_eq!(okta_alice.subject, "00u1alice");
    assert_eq!(entra_alice.subject, format!("{TENANT}/{ALICE_OID}"));
    assert_eq!(okta_alice.email, entra_alice.email);
    assert_ne!(okta_alice.id, entra_alice.id);
    assert_ne!(okta_grant, entra_grant);

    // Each refresh, once due, goes to its own upstream and nowhere else.
    app.clock.advance(RECHECK + 1);
    assert_eq!(
        (
            upstream_refreshes(&env.okta).await,
            upstream_refreshes(&env.entra).await
        ),
        (0, 0)
    );
    let (client, _, tokens, ..) = &signed_in[0];
    refresh(app, tokens, client).await;
    assert_eq!(
        (
            upstream_refreshes(&env.okta).await,
            upstream_refreshes(&env.entra).await
        ),
        (1, 0),
        "{}",
        env.okta.logs()
    );
    let (client, _, tokens, ..) = &signed_in[1];
    refresh(app, tokens, client).await;
    assert_eq!(
        (
            upstream_refreshes(&env.okta).await,
            upstream_refreshes(&env.entra).await
        ),
        (1, 1),
        "{}",
        env.entra.logs()
    );
}

#[tokio::test]
async fn an_unmapped_client_chooses_or_home_realm_discovery_picks_sqlite() {
    an_unmapped_client_chooses_or_home_realm_discovery_picks(Db::Sqlite).await;
}

#[tokio::test]
async fn an_unmapped_client_chooses_or_home_realm_discovery_picks_postgres() {
    an_unmapped_client_chooses_or_home_realm_discovery_picks(Db::Postgres).await;
}

/// An unmapped client on the two-upstream resource: the consent page offers both, the choice
/// (a POST with the CSRF token) decides where the user signs in; with `login_hint` of a domain
/// an upstream claims there is no chooser and the hint goes upstream. Unmapping a client
/// through the admin API brings the chooser back.
async fn an_unmapped_client_chooses_or_home_realm_discovery_picks(db: Db) {
    let Some(env) = env(db).await else {
        return;
    };
    let app = &env.app;
    let client = register(app, None).await;
    assert_eq!(admin_client(app, &client).await["upstream_id"], Value::Null);

    // The chooser, and the choice of entra.
    let (b, verifier, res) = authorize(app, &client, &app.resource(), &[]).await;
    let html = res.text().await.unwrap();
    assert!(html.contains("Sign in with:"), "{html}");
    for id in ["okta", "entra"] {
        assert!(
            html.contains(&format!("name=\"upstream\" value=\"{id}\"")),
            "{html}"
        );
    }
    let (consent_id, csrf) = handles(&html);
    let res = post_consent(
        app,
        &b,
        &[
            ("consent_id", &consent_id),
            ("csrf_token", &csrf),
            ("upstream", "entra"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with(&env.entra.issuer));
    let tokens = finish(app, &b, res, "00u1alice", &client, &verifier).await;
    let (user, _) = user_of(app, &tokens).await;
    assert_eq!(
        (user.upstream_id.as_str(), &user.issuer),
        ("entra", &env.entra.issuer)
    );
    let started = crate::admin::audit_events(app)
        .await
        .into_iter()
        .find(|e| e.kind == "authorize_started")
        .unwrap();
    assert!(started
        .detail
        .unwrap()
        .contains("\"upstream_chosen_by\":\"user\""));

    // Home-realm discovery: erin@contoso.com goes to entra (no chooser), the hint with her.
    let hint = [("login_hint", "erin@contoso.com")];
    let (b, verifier, res) = authorize(app, &client, &app.resource(), &hint).await;
    let html = res.text().await.unwrap();
    assert!(!html.contains("name=\"upstream\""), "{html}");
    let (consent_id, csrf) = handles(&html);
    let res = post_consent(
        app,
        &b,
        &[
            ("consent_id", &consent_id),
            ("csrf_token", &csrf),
            ("decision", "approve"),
        ],
    )
    .await;
    let to = location(&res);
    assert!(to.starts_with(&env.entra.issuer), "{to}");
    assert_eq!(
        query_param(&to, "login_hint").as_deref(),
        Some("erin@contoso.com")
    );
    let tokens = finish(app, &b, res, "00u5erin", &client, &verifier).await;
    let (erin, _) = user_of(app, &tokens).await;
    assert_eq!(
        (erin.upstream_id.as_str(), erin.email.as_deref()),
        ("entra", Some("erin@contoso.com"))
    );
    // A domain no upstream claims: the chooser.
    let hint = [("login_hint", "bob@fabrikam.example")];
    let (_, _, res) = authorize(app, &client, &app.resource(), &hint).await;
    assert!(res.text().await.unwrap().contains("name=\"upstream\""));

    // A mapped client unmapped by the admin: the chooser instead of its upstream.
    let mapped = register(app, Some("okta-app")).await;
    let path = format!("/admin/v1/clients/{mapped}");
    let (s, _, body) = call(
        app,
        Method::PATCH,
        &path,
        Some(BOOT),
        Some(json!({ "upstream_id": "" })),
    )
    .await;
    assert_eq!((s, &body["upstream_id"]), (200, &Value::Null), "{body}");
    let (_, _, res) = authorize(app, &mapped, &app.resource(), &[]).await;
    assert!(res.text().await.unwrap().contains("name=\"upstream\""));
}

/// Forged choices, a resource that does not accept the client's upstream, hostile input, and
/// a user outside okta's allowed groups (a clear page, `access_denied` for the client).
#[tokio::test]
async fn forged_choices_foreign_resources_and_policy_refusals() {
    let Some(env) = env(Db::Sqlite).await else {
        return;
    };
    let app = &env.app;
    let unmapped = register(app, None).await;
    let (b, _, res) = authorize(app, &unmapped, &app.resource(), &[]).await;
    let html = res.text().await.unwrap();
    let (consent_id, csrf) = handles(&html);
    let long = "x".repeat(10_000);
    // Not on the resource's list (a configured upstream of nothing, an unknown one, a huge one).
    for forged in ["google", "OKTA", long.as_str()] {
        let res = post_consent(
            app,
            &b,
            &[
                ("consent_id", &consent_id),
                ("csrf_token", &csrf),
                ("upstream", forged),
            ],
        )
        .await;
        assert_eq!(res.status(), 400, "{}", &forged[..forged.len().min(20)]);
        assert!(res.text().await.unwrap().contains("not offered"));
    }
    // Approve without a choice, without the CSRF token, with another token, from elsewhere.
    let no_choice = [
        ("consent_id", consent_id.as_str()),
        ("csrf_token", csrf.as_str()),
        ("decision", "approve"),
    ];
    let res = post_consent(app, &b, &no_choice).await;
    assert_eq!(res.status(), 400);
    assert!(res
        .text()
        .await
        .unwrap()
        .contains("Choose the identity provider"));
    let no_csrf = [("consent_id", consent_id.as_str()), ("upstream", "okta")];
    assert_eq!(post_consent(app, &b, &no_csrf).await.status(), 400);
    let wrong_csrf = [
        ("consent_id", consent_id.as_str()),
        ("csrf_token", "forged"),
        ("upstream", "okta"),
    ];
    assert_eq!(post_consent(app, &b, &wrong_csrf).await.status(), 403);
    let other_browser = browser();
    let stolen = [
        ("consent_id", consent_id.as_str()),
        ("csrf_token", csrf.as_str()),
        ("upstream", "okta"),
    ];
    assert_eq!(
        post_consent(app, &other_browser, &stolen).await.status(),
        403
    );
    // The request survived the forgeries: the real choice still works.
    let res = post_consent(app, &b, &stolen).await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).starts_with(&env.okta.issuer));

    // A decided request (mapped to okta) does not take another upstream from the form.
    let okta_client = register(app, Some("okta-app")).await;
    let (b, _, res) = authorize(app, &okta_client, &app.resource(), &[]).await;
    let (consent_id, csrf) = handles(&res.text().await.unwrap());
    let swapped = [
        ("consent_id", consent_id.as_str()),
        ("csrf_token", csrf.as_str()),
        ("decision", "approve"),
        ("upstream", "entra"),
    ];
    assert_eq!(post_consent(app, &b, &swapped).await.status(), 400);

    // /hr accepts only entra: the okta-mapped client is refused before anything is stored
    // (a page for an unvetted client, the error response offered as a link).
    let (_, _, res) = authorize(app, &okta_client, &app.url("/hr"), &[]).await;
    assert_eq!(res.status(), 400);
    let link = return_link(&res.text().await.unwrap()).unwrap();
    assert_eq!(
        query_param(&link, "error").as_deref(),
        Some("invalid_target")
    );
    assert!(query_param(&link, "error_description")
        .unwrap()
        .contains("okta"));
    // A hostile login_hint: invalid_request, never a 500.
    for hint in ["a".repeat(5000), "alice@example.com\r\nX: 1".to_owned()] {
        let (_, _, res) =
            authorize(app, &unmapped, &app.resource(), &[("login_hint", &hint)]).await;
        assert_eq!(res.status(), 400);
        let link = return_link(&res.text().await.unwrap()).unwrap();
        assert_eq!(
            query_param(&link, "error").as_deref(),
            Some("invalid_request")
        );
    }

    // Bob (sales) at okta, whose policy allows engineering only: a page that says why and
    // returns access_denied to the client.
    let (b, _, res) = authorize(app, &okta_client, &app.resource(), &[]).await;
    let walked = walk(&b, &app.base, res, "00u2bob", |u| u.starts_with(REDIRECT)).await;
    let Walked::Page(status, html) = walked else {
        panic!("expected the refusal page, got {walked:?}");
    };
    assert_eq!(status, 400, "{html}");
    assert!(html.contains("Sign-in did not complete"), "{html}");
    assert!(
        html.contains("your account is not in a group allowed to use this server"),
        "{html}"
    );
    // The page returns to the client by itself (a meta refresh after the user acted).
    let back = meta_refresh(&html).unwrap();
    assert!(back.starts_with(REDIRECT), "{back}");
    assert_eq!(
        query_param(&back, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        query_param(&back, "state").as_deref(),
        Some("client-state-123")
    );
    let page = PageRequest {
        after: None,
        limit: 10,
    };
    let users = app.state.core.store.list_users(&page).await.unwrap();
    assert!(users.iter().all(|u| u.subject != "00u2bob"), "{users:?}");
}
