//! What the `/account` tests share: dcr-bridge behind the certified `oidc-provider` upstream
//! (`tests/interop/upstream.mjs`), on SQLite or Postgres, and a cookie-keeping browser that
//! walks dcr-bridge's consent page and the upstream's login and consent pages as a user.

#![allow(dead_code)] // not every test uses every helper

use dcr_bridge::config::Config;
use dcr_bridge::store::{GrantFilter, GrantRecord, PageRequest};
use reqwest::header::{LOCATION, SET_COOKIE};
use reqwest::{Client, Response};
use serde_json::{json, Value};

use crate::support::app::{code_form, hidden, pkce, refresh_form, Db, TestApp};
use crate::support::node::{node_or_skip, OidcProviderProc};

/// dcr-bridge and its upstream.
pub struct Env {
    pub app: TestApp,
    pub upstream: OidcProviderProc,
}

/// dcr-bridge on `db` (then `tweak`ed) behind `upstream.mjs`, which knows only dcr-bridge's
/// one `/oauth/callback`. `None` when Node or (for Postgres) the database is opted out.
pub async fn env(db: Db, tweak: impl FnOnce(&mut Config)) -> Option<Env> {
    if !node_or_skip().await {
        return None;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let callback = format!(
        "http://127.0.0.1:{}/oauth/callback",
        listener.local_addr().unwrap().port()
    );
    let upstream = OidcProviderProc::start_with_args(
        Some(&callback),
        "bridge-client",
        "bridge-secret",
        &["--offline-access-without-prompt"],
    )
    .await
    .unwrap();
    let app = TestApp::start_on(db, listener, Some(upstream.issuer.clone()), tweak).await?;
    Some(Env { app, upstream })
}

/// A new browser: its own cookie jar, redirects not followed.
pub fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Where a walk ended.
#[derive(Debug)]
pub enum Walked {
    /// A redirect to a URL `stop` accepted (not followed).
    Stopped(String),
    /// A page that is neither a redirect nor a form the walk knows: status and body.
    Page(u16, String),
}

impl Walked {
    pub fn stopped(self) -> String {
        match self {
            Self::Stopped(url) => url,
            Self::Page(status, body) => panic!("walk ended on a {status} page: {body}"),
        }
    }
}

/// Follows `res` as a browser would: redirects, dcr-bridge's consent page (approve), the
/// upstream's login (as `login`) and consent pages, until a redirect to a URL `stop` accepts.
pub async fn walk(
    b: &Client,
    base: &str,
    mut res: Response,
    login: &str,
    stop: impl Fn(&str) -> bool,
) -> Walked {
    for _ in 0..25 {
        let url = res.url().clone();
        let status = res.status().as_u16();
        if (300..400).contains(&status) {
            let loc = res.headers()[LOCATION].to_str().unwrap();
            let next = url.join(loc).unwrap().to_string();
            if stop(&next) {
                return Walked::Stopped(next);
            }
            res = b.get(&next).send().await.unwrap();
            continue;
        }
        let html = res.text().await.unwrap();
        if status != 200 {
            return Walked::Page(status, html);
        }
        if html.contains("name=\"consent_id\"") {
            let form = [
                ("consent_id", hidden(&html, "consent_id")),
                ("csrf_token", hidden(&html, "csrf_token")),
                ("decision", "approve".to_owned()),
            ];
            res = b
                .post(format!("{base}/consent"))
                .header("origin", base)
                .form(&form)
                .send()
                .await
                .unwrap();
        } else if let Some((action, mut fields)) = prompt_form(&html) {
            if fields.iter().any(|(k, v)| k == "prompt" && v == "login") {
                fields.push(("login".into(), login.into()));
                fields.push(("password".into(), "x".into()));
            }
            let origin = url.origin().ascii_serialization();
            res = b
                .post(url.join(&action).unwrap())
                .header("origin", origin)
                .form(&fields)
                .send()
                .await
                .unwrap();
        } else {
            return Walked::Page(status, html);
        }
    }
    panic!("too many steps");
}

/// The upstream's interaction form (oidc-provider's devInteractions: a hidden `prompt`): its
/// action and hidden fields.
fn prompt_form(html: &str) -> Option<(String, Vec<(String, String)>)> {
    let start = html.find("<form")?;
    let form = &html[start..start + html[start..].find("</form>")?];
    let tag = &form[..form.find('>')?];
    let action = attr(tag, "action")?;
    let fields: Vec<(String, String)> = form
        .split("<input")
        .skip(1)
        .filter_map(|t| {
            let t = &t[..t.find('>')?];
            (attr(t, "type").as_deref() == Some("hidden"))
                .then(|| Some((attr(t, "name")?, attr(t, "value").unwrap_or_default())))?
        })
        .collect();
    fields
        .iter()
        .any(|(k, _)| k == "prompt")
        .then_some((action.replace("&amp;", "&"), fields))
}

/// The value of attribute `name` in an HTML tag (double-quoted values only).
fn attr(tag: &str, name: &str) -> Option<String> {
    let marker = format!(" {name}=\"");
    let start = tag.find(&marker)? + marker.len();
    let end = tag[start..].find('"')? + start;
    Some(tag[start..end].to_owned())
}

/// A public client named `name`, connected by `user` in `b` through the real flow; returns
/// its client id and token response (with a refresh token).
pub async fn connect(env: &Env, b: &Client, user: &str, name: &str) -> (String, Value) {
    let app = &env.app;
    let redirect = "http://127.0.0.1:33418/callback";
    let reg = app
        .register(json!({
            "client_name": name,
            "redirect_uris": [redirect],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "application_type": "native",
        }))
        .await;
    let client_id = reg["client_id"].as_str().unwrap().to_owned();
    let (verifier, challenge) = pkce();
    let resource = app.resource();
    let mut params = TestApp::auth_params(&client_id, redirect, &challenge, &resource);
    params.push(("scope", "mcp:read"));
    let res = b
        .get(app.url("/authorize"))
        .query(&params)
        .send()
        .await
        .unwrap();
    let back = walk(b, &app.base, res, user, |u| u.starts_with(redirect)).await;
    let back = match back {
        Walked::Stopped(url) => url,
        other => panic!("{other:?}\nupstream log:\n{}", env.upstream.logs()),
    };
    let code = crate::support::app::query_param(&back, "code").unwrap();
    let res = app
        .token(&code_form(&code, redirect, &verifier, &client_id))
        .await;
    assert_eq!(res.status(), 200);
    (client_id, res.json().await.unwrap())
}

/// The upstream's redirect to our callback that ends `user`'s `/account` sign-in started in
/// `b` (not visited).
pub async fn callback_url(env: &Env, b: &Client, user: &str) -> String {
    let base = &env.app.base;
    let start = b.get(format!("{base}/account")).send().await.unwrap();
    let callback = format!("{base}/oauth/callback");
    walk(b, base, start, user, |u| u.starts_with(&callback))
        .await
        .stopped()
}

/// The response of the upstream callback that ends `user`'s `/account` sign-in in `b`
/// (visited once; not followed).
pub async fn account_callback(env: &Env, b: &Client, user: &str) -> Response {
    let url = callback_url(env, b, user).await;
    b.get(url).send().await.unwrap()
}

/// Signs `user` in at `/account` in `b`; returns the page's HTML.
pub async fn sign_in(env: &Env, b: &Client, user: &str) -> String {
    let res = account_callback(env, b, user).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(res.headers()[LOCATION], "/account");
    account_page(env, b).await
}

/// `GET /account` in `b`, which must be the signed-in page.
pub async fn account_page(env: &Env, b: &Client) -> String {
    let res = b.get(env.app.url("/account")).send().await.unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.headers());
    res.text().await.unwrap()
}

/// The value the response sets for cookie `name`, if it sets one.
pub fn set_cookie(res: &Response, name: &str) -> Option<String> {
    res.headers().get_all(SET_COOKIE).iter().find_map(|v| {
        let v = v.to_str().ok()?;
        let rest = v.strip_prefix(&format!("{name}="))?;
        Some(rest.split(';').next().unwrap_or_default().to_owned())
    })
}

/// POSTs `form` to `path` from `b` with `Origin: <base>`.
pub async fn post_form(env: &Env, b: &Client, path: &str, form: &[(&str, &str)]) -> Response {
    b.post(env.app.url(path))
        .header("origin", &env.app.base)
        .form(form)
        .send()
        .await
        .unwrap()
}

/// "Remove access" of `grant_id` from `b` with `csrf`.
pub async fn remove(env: &Env, b: &Client, grant_id: &str, csrf: &str) -> Response {
    post_form(
        env,
        b,
        "/account/remove",
        &[("grant_id", grant_id), ("csrf_token", csrf)],
    )
    .await
}

/// The grants of `client_id`, any state.
pub async fn grants_of(env: &Env, client_id: &str) -> Vec<GrantRecord> {
    let filter = GrantFilter {
        client_id: Some(client_id.to_owned()),
        ..Default::default()
    };
    let page = PageRequest {
        after: None,
        limit: 10,
    };
    env.app
        .state
        .core
        .store
        .list_grants(&filter, &page)
        .await
        .unwrap()
}

/// A refresh of `tokens` for public client `client_id`: status and JSON.
pub async fn refresh(env: &Env, tokens: &Value, client_id: &str) -> (u16, Value) {
    let rt = tokens["refresh_token"].as_str().unwrap();
    let res = env.app.token(&refresh_form(rt, client_id)).await;
    (res.status().as_u16(), res.json().await.unwrap())
}
