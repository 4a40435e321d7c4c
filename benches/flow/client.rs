//! The client side of `benches/flow.rs`: the MCP client's and the browser's requests, one
//! whole flow, a refresh chain.

#![allow(clippy::wildcard_imports)]
use super::*;

// ---------------------------------------------------------------------------------------------
// Clients and one unit of work per scenario

/// One MCP `tools/call whoami` at `url`, with `token` as bearer if given.
pub(crate) async fn tools_call(c: &Clients, url: &str, token: Option<&str>) -> Result<()> {
    let mut req = c
        .api
        .post(url)
        // What MCP Streamable HTTP clients send (the SDK server refuses anything less).
        .header("accept", "application/json, text/event-stream")
        .json(&json!({
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "whoami", "arguments": {}},
        }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = expect(req.send().await?, 200, "tools/call whoami").await?;
    let sse = res
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/event-stream"));
    let text = res.text().await?;
    // The SDK server answers a POST with a one-event SSE stream.
    let json = if sse {
        text.lines()
            .find_map(|l| l.strip_prefix("data:"))
            .context("an SSE answer without data")?
    } else {
        text.as_str()
    };
    let body: Value = serde_json::from_str(json.trim())?;
    if body.get("result").is_none() {
        bail!("tools/call whoami: {body}");
    }
    Ok(())
}

/// What every request needs: the server's addresses.
pub(crate) struct Target {
    pub(crate) base: String,
    pub(crate) resource: String,
}

impl Target {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// One worker's HTTP clients: `api` is the MCP client (no cookies), `browser` the user's
/// browser (cookies). Neither follows redirects. Each keeps its own keep-alive connections.
#[derive(Clone)]
pub(crate) struct Clients {
    pub(crate) api: reqwest::Client,
    pub(crate) browser: reqwest::Client,
}

impl Clients {
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            api: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
            browser: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()?,
        })
    }
}

/// Fails unless `res` has `want`; the body goes into the error.
pub(crate) async fn expect(
    res: reqwest::Response,
    want: u16,
    what: &str,
) -> Result<reqwest::Response> {
    if res.status() == StatusCode::from_u16(want)? {
        return Ok(res);
    }
    let status = res.status();
    let body = res.text().await.unwrap_or_default();
    bail!("{what}: expected {want}, got {status}: {body}")
}

pub(crate) fn location(res: &reqwest::Response) -> Result<String> {
    Ok(res
        .headers()
        .get(LOCATION)
        .context("no Location header")?
        .to_str()?
        .to_owned())
}

pub(crate) fn query_param(url: &str, name: &str) -> Result<String> {
    url::Url::parse(url)?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .with_context(|| format!("no {name} in {url}"))
}

/// The value of a hidden input in an HTML page.
pub(crate) fn hidden(html: &str, name: &str) -> Result<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .with_context(|| format!("no hidden {name} in the page"))?
        + marker.len();
    let len = html[start..].find('"').context("unterminated value")?;
    Ok(html[start..start + len].to_owned())
}

pub(crate) fn pkce() -> (String, String) {
    let verifier = dcr_bridge::oauth::crypto::random_b64(48);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// Baseline A: discovery metadata.
pub(crate) async fn metadata(t: &Target, c: &Clients) -> Result<()> {
    let res = c
        .api
        .get(t.url("/.well-known/oauth-authorization-server"))
        .send()
        .await?;
    expect(res, 200, "metadata").await?.bytes().await?;
    Ok(())
}

/// Baseline B (and the first flow step): registers a public native client.
pub(crate) async fn register(t: &Target, c: &Clients) -> Result<String> {
    let res = c
        .api
        .post(t.url("/register"))
        .json(&json!({
            "client_name": "Bench Client",
            "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "application_type": "native",
        }))
        .send()
        .await?;
    let reg: Value = expect(res, 201, "register").await?.json().await?;
    reg["client_id"]
        .as_str()
        .map(str::to_owned)
        .context("no client_id")
}

/// One whole flow; returns the token response and how long each of `FLOW_STEPS` took.
pub(crate) async fn full_flow(t: &Target, c: &Clients) -> Result<(Value, Vec<Duration>)> {
    let mut steps = Vec::with_capacity(FLOW_STEPS.len());
    let mut lap = Instant::now();
    let mut split = |steps: &mut Vec<Duration>| {
        steps.push(lap.elapsed());
        lap = Instant::now();
    };

    let client_id = register(t, c).await?;
    split(&mut steps);

    let (verifier, challenge) = pkce();
    let res = c
        .browser
        .get(t.url("/authorize"))
        .query(&[
            ("response_type", "code"),
            ("client_id", client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("state", "bench-state"),
            ("resource", t.resource.as_str()),
        ])
        .send()
        .await?;
    let html = expect(res, 200, "authorize").await?.text().await?;
    split(&mut steps);

    let res = c
        .browser
        .post(t.url("/consent"))
        .header("origin", &t.base)
        .form(&[
            ("consent_id", hidden(&html, "consent_id")?.as_str()),
            ("csrf_token", hidden(&html, "csrf_token")?.as_str()),
            ("decision", "approve"),
        ])
        .send()
        .await?;
    let upstream = location(&expect(res, 303, "consent").await?)?;
    split(&mut steps);

    let res = c
        .browser
        .get(format!("{upstream}&login_hint={USER}"))
        .send()
        .await?;
    let callback = location(&expect(res, 302, "upstream authorize").await?)?;
    split(&mut steps);

    let res = c.browser.get(callback).send().await?;
    let back = location(&expect(res, 302, "callback").await?)?;
    let code = query_param(&back, "code")?;
    split(&mut steps);

    let res = c
        .api
        .post(t.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
            ("client_id", client_id.as_str()),
            ("resource", t.resource.as_str()),
        ])
        .send()
        .await?;
    let mut tokens: Value = expect(res, 200, "code exchange").await?.json().await?;
    split(&mut steps);
    tokens["client_id"] = Value::String(client_id);
    Ok((tokens, steps))
}

/// A worker's refresh chain: its client and current refresh token.
pub(crate) struct Chain {
    pub(crate) clients: Clients,
    pub(crate) client_id: String,
    pub(crate) refresh_token: String,
}

/// Rotates the chain once (the response carries the next refresh token).
pub(crate) async fn rotate(t: &Target, chain: Chain) -> Result<Chain> {
    let res = chain
        .clients
        .api
        .post(t.url("/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", chain.refresh_token.as_str()),
            ("client_id", chain.client_id.as_str()),
        ])
        .send()
        .await?;
    let tokens: Value = expect(res, 200, "refresh").await?.json().await?;
    if tokens["access_token"].as_str().is_none() {
        bail!("refresh: no access_token in {tokens}");
    }
    let refresh_token = tokens["refresh_token"]
        .as_str()
        .context("refresh: no refresh_token")?
        .to_owned();
    Ok(Chain {
        refresh_token,
        ..chain
    })
}
