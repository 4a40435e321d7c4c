//! Gateway mode: a resource with `upstream_url` is served at `public_url + path` (and below it)
//! and proxied to its MCP server once the caller's access token checks out.
//!
//! The gateway has its own router and layers: none of the authorization server's middleware
//! (64 KiB body limit, the rewriting of framework 405/413/415 answers into OAuth JSON) or its
//! discovery catch-all touches proxied traffic (the one exception is the OIDC discovery document
//! at `{path}/.well-known/openid-configuration`, COMPAT C2); only request ids, tracing, security headers and
//! CORS are shared. The per-request token check touches no database ([`auth`]); revocations
//! arrive by polling ([`revocation`]). On resources with `tool_scopes`, `tools/call` needs the
//! tool's scopes ([`tools`]) and `tools/list` answers leave out what the token may not call
//! ([`tools_list`]). The MCP server learns the caller's address from headers we write
//! ([`forwarded`]). Where configured, the user's upstream access token goes along in a header
//! ([`upstream_token`]).

pub mod auth;
pub mod forwarded;
pub mod identity;
pub mod proxy;
pub mod revocation;
pub mod sse;
pub mod tools;
pub mod tools_list;
pub mod upstream_token;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{header, HeaderName, Method, Request, StatusCode};
use axum::response::{IntoResponse as _, Response};
use axum::routing::{any, get};
use axum::Router;
use url::Url;

use crate::app::AppState;
use crate::config::{Config, GatewaySettings, IdentityHeaders};
use crate::oauth::{Resource, Settings};

use self::revocation::Revocations;

/// One proxied resource.
#[derive(Debug, Clone)]
pub struct Route {
    /// The resource (its URI is the token audience).
    pub resource: Resource,
    /// The MCP server.
    pub upstream_url: Url,
    /// Scopes every request needs.
    pub required_scopes: Vec<String>,
    /// The identity headers to send.
    pub identity: IdentityHeaders,
    /// Incoming headers removed (the identity header names and every forwarding header).
    pub strip: Vec<HeaderName>,
    /// Scopes per tool, beyond `required_scopes`.
    pub tool_scopes: BTreeMap<String, Vec<String>>,
    /// Whether `tools/list` answers leave out the tools the token may not call (only ever
    /// true with `tool_scopes`: without them every tool is callable).
    pub filter_tools_list: bool,
    /// The header that carries the user's upstream access token, if configured (also in
    /// `strip`: a client's copy never passes).
    pub upstream_token_header: Option<HeaderName>,
}

/// The gateway's shared parts.
#[derive(Debug)]
pub struct Gateway {
    /// The proxied resources.
    pub routes: Vec<Arc<Route>>,
    /// Limits and timings.
    pub settings: GatewaySettings,
    /// Revoked access tokens, as of the last poll (introspection reads them too).
    pub revocations: Arc<Revocations>,
    /// Users' email, name and groups for identity headers.
    pub users: identity::Users,
    /// Access tokens whose signature checked out.
    pub verified: auth::Verified,
    /// The `X-Forwarded-*` headers sent to every MCP server.
    pub forwarding: forwarded::Forwarding,
    client: reqwest::Client,
}

impl Gateway {
    /// The gateway for every resource of `config` that names an `upstream_url`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (TLS backend failure).
    pub fn new(config: &Config, settings: &Settings) -> anyhow::Result<Self> {
        let mut routes = Vec::new();
        for rc in &config.resources {
            let (Some(url), Some(resource)) = (
                &rc.upstream_url,
                settings.resources.iter().find(|r| r.id == rc.id),
            ) else {
                continue;
            };
            let upstream_token_header = rc
                .upstream_token_header
                .as_deref()
                .map(|n| HeaderName::from_bytes(n.to_ascii_lowercase().as_bytes()))
                .transpose()
                .context("resources.upstream_token_header")?;
            routes.push(Arc::new(Route {
                resource: resource.clone(),
                upstream_url: url.clone(),
                required_scopes: rc.required_scopes.clone(),
                identity: rc.identity_headers.clone(),
                strip: identity::strip_list(&rc.identity_headers)
                    .into_iter()
                    .chain(forwarded::FROM_CLIENT)
                    .chain(upstream_token_header.clone())
                    .collect(),
                upstream_token_header,
                tool_scopes: rc.tool_scopes.clone(),
                filter_tools_list: rc.filters_tools_list() && !rc.tool_scopes.is_empty(),
            }));
        }
        let g = &config.gateway;
        // Not the IdP client of idp/: that one has a total timeout and a small response cap,
        // which would cut SSE streams; this one times only the connection (the response
        // headers are timed per request in `proxy::forward`), keeps a pool of warm connections
        // to the MCP servers, keeps no cookies, and passes redirects back to the MCP client
        // rather than following them on the client's behalf. No environment proxy: the MCP
        // server is named explicitly by the admin.
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(g.connect_timeout_seconds))
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .no_proxy()
            .build()
            .context("building the gateway HTTP client")?;
        Ok(Self {
            routes,
            settings: g.clone(),
            revocations: Arc::new(Revocations::new(settings.max_access_token_ttl())),
            users: identity::Users::default(),
            verified: auth::Verified::default(),
            forwarding: forwarded::Forwarding::new(
                &config.public_url,
                config.rate_limit.client_ip_header,
            )?,
            client,
        })
    }

    /// Whether `path` is a proxied resource path or below one.
    #[must_use]
    pub fn serves(&self, path: &str) -> bool {
        self.routes.iter().any(|r| under(&r.resource.path, path))
    }
}

fn under(resource_path: &str, path: &str) -> bool {
    path.strip_prefix(resource_path)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The routes of every proxied resource: its path and everything below it.
pub fn routes(state: &AppState) -> Router<AppState> {
    let mut router = Router::new();
    for route in &state.gateway.routes {
        let handler = {
            let route = route.clone();
            move |State(app): State<AppState>, req: Request<Body>| {
                let route = route.clone();
                async move {
                    crate::metrics::gateway(&route.resource.id, handle(&app, &route, req)).await
                }
            }
        };
        let path = &route.resource.path;
        router = router
            .route(path, any(handler.clone()))
            .route(&format!("{path}/{{*rest}}"), any(handler))
            // OIDC path appending: the third metadata URL MCP clients derive from the MCP URL
            // (COMPAT C2) stays the authorization server's, the only path below a proxied
            // resource that is.
            .route(
                &format!("{path}/.well-known/openid-configuration"),
                get(crate::http::discovery::oidc_metadata),
            );
    }
    router.layer(crate::http::middleware::cors())
}

async fn handle(app: &AppState, route: &Route, req: Request<Body>) -> Response {
    let core = &app.core;
    let gw = &app.gateway;
    // A revocation committed by this process is refused from the next request on.
    if let Err(e) = gw.revocations.catch_up(core).await {
        let res = crate::oauth::Error::from(e).into_response();
        return proxy::after_unread_body(req.into_body(), res).await;
    }
    let claims = match auth::check(
        core,
        &gw.verified,
        &gw.revocations,
        &route.resource,
        req.headers(),
        &route.required_scopes,
    ) {
        Ok(c) => c,
        Err(refusal) => {
            let res = auth::refuse(core, &route.resource, &refusal);
            return proxy::after_unread_body(req.into_body(), res).await;
        }
    };
    let (mut req, list) = if route.tool_scopes.is_empty() || req.method() != Method::POST {
        (req, None)
    } else {
        match check_tools(app, route, &claims, req).await {
            Ok(checked) => checked,
            Err(res) => return *res,
        }
    };
    // A resumed stream (MCP Streamable HTTP: GET with Last-Event-ID) may replay the answer to
    // an earlier tools/list: filtered the same way, event by event.
    let list = list.or_else(|| {
        (req.method() == Method::GET && req.headers().contains_key("last-event-id"))
            .then(|| list_filter(app, route, &claims, Vec::new()))
            .flatten()
    });
    if list.is_some() {
        // The answer is read to be filtered: ask for it uncompressed.
        req.headers_mut().remove(header::ACCEPT_ENCODING);
    }
    tracing::debug!(client_id = %claims.client_id, "proxying to the MCP server");
    let user = if identity::needs_user(&route.identity, &claims) {
        match gw.users.get(core, &claims.sub).await {
            Ok(u) => u,
            Err(e) => return crate::oauth::Error::from(e).into_response(),
        }
    } else {
        Arc::default()
    };
    let mut add = match identity::headers(
        core,
        &route.identity,
        route.upstream_url.as_str(),
        &claims,
        &user,
    ) {
        Ok(h) => h,
        Err(e) => return e.into_response(),
    };
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip());
    add.extend(gw.forwarding.headers(req.headers(), peer));
    if let Some(name) = &route.upstream_token_header {
        let rid = crate::http::form::request_id(req.headers());
        match upstream_token::header_value(core, &route.resource, &claims, rid.as_deref()).await {
            Ok(v) => {
                add.insert(name.clone(), v);
            }
            Err(res) => return proxy::after_unread_body(req.into_body(), *res).await,
        }
    }
    let url = proxy::target(
        &route.upstream_url,
        &route.resource.path,
        req.uri().path(),
        req.uri().query(),
    );
    let res = proxy::forward(
        proxy::Upstream {
            client: &gw.client,
            url,
            max_body: gw.settings.max_body_bytes,
            response_timeout: Duration::from_secs(gw.settings.response_timeout_seconds),
            add,
            strip: &route.strip,
        },
        req,
    )
    .await;
    match list {
        Some(filter) => tools_list::apply(filter, res).await,
        None => res,
    }
}

/// Per-tool scopes: reads the body (bounded), finds the tools it calls, and refuses with the
/// step-up challenge when the token lacks a scope one of them needs. Returns the request with
/// its body restored, and the filter for its answer when it lists tools (by its body, or by
/// `Mcp-Method: tools/list`) and some are hidden from this token.
async fn check_tools(
    app: &AppState,
    route: &Route,
    claims: &crate::oauth::tokens::AccessClaims,
    req: Request<Body>,
) -> Result<(Request<Body>, Option<tools_list::Filter>), Box<Response>> {
    let limit = app.gateway.settings.max_body_bytes;
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| {
        Box::new(proxy::gateway_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            &format!("the request body is larger than {limit} bytes"),
        ))
    })?;
    let bad = |why: &str| {
        Box::new(proxy::gateway_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            why,
        ))
    };
    let asked = tools::read(&bytes).map_err(bad)?;
    let names = asked.called;
    // MCP 2026-07-28: `Mcp-Name` mirrors the body; a mismatch is refused, never trusted.
    let header_name = parts
        .headers
        .get("mcp-name")
        .and_then(|v| v.to_str().ok())
        .map(|v| crate::mcp::decode_header_value(v).ok_or_else(|| bad("Mcp-Name is not valid")))
        .transpose()?;
    let header_method = parts
        .headers
        .get("mcp-method")
        .and_then(|v| v.to_str().ok());
    if header_method == Some("tools/call")
        && header_name.is_some_and(|h| names.len() != 1 || names[0] != h)
    {
        return Err(bad("Mcp-Name does not match the tool the body calls"));
    }
    let needed = tools::needed(&route.required_scopes, &route.tool_scopes, &names);
    let held: Vec<&str> = claims.scope.split(' ').collect();
    if needed.iter().any(|s| !held.contains(&s.as_str())) {
        return Err(Box::new(auth::refuse(
            &app.core,
            &route.resource,
            &auth::Refusal::Scope(needed),
        )));
    }
    let lists = !asked.list_ids.is_empty() || header_method == Some("tools/list");
    let list = lists
        .then(|| list_filter(app, route, claims, asked.list_ids))
        .flatten();
    Ok((Request::from_parts(parts, Body::from(bytes)), list))
}

/// The filter for an answer that may carry tool lists (`list_ids`: the request's tools/list
/// ids), when the resource filters and this token has tools hidden from it.
fn list_filter(
    app: &AppState,
    route: &Route,
    claims: &crate::oauth::tokens::AccessClaims,
    list_ids: Vec<serde_json::Value>,
) -> Option<tools_list::Filter> {
    if !route.filter_tools_list {
        return None;
    }
    let hidden = tools::hidden(&route.tool_scopes, &claims.scope);
    (!hidden.is_empty()).then(|| tools_list::Filter {
        hidden,
        list_ids,
        max_bytes: app.gateway.settings.max_tools_list_bytes,
    })
}
