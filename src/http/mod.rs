//! The only place that knows axum: routes, extractors, error → wire mapping, middleware and
//! HTML pages. Each endpoint lives in its own file and stays thin: extract, call one service,
//! map the result.

pub mod account;
pub mod account_cookie;
pub mod authorize;
pub mod browser;
pub mod callback;
pub mod consent;
pub mod cookies;
pub mod demo_mcp;
pub mod discovery;
pub mod error;
pub mod form;
pub mod health;
pub mod introspect;
pub mod metrics;
pub mod middleware;
pub mod pages;
pub mod rate_limit;
pub mod register;
pub mod resource;
pub mod revoke;
pub mod token;

use axum::Router;

use self::rate_limit::Endpoint;
use crate::app::AppState;

/// Every public route with its middleware.
pub fn routes(state: AppState) -> Router {
    // RFC 9700 §2.6: CORS MAY be offered on metadata, token, registration and JWKS endpoints,
    // and MUST NOT be on the authorization endpoint; browser clients (COMPAT C4) need it.
    let limits = &state.rate_limits;
    let api = Router::new()
        .merge(discovery::routes())
        .merge(health::routes())
        .merge(limits.apply(Endpoint::Register, register::routes()))
        .merge(limits.apply(Endpoint::Token, token::routes()))
        .merge(limits.apply(Endpoint::Revoke, revoke::routes()))
        .merge(limits.apply(Endpoint::Introspect, introspect::routes()))
        .merge(resource::routes(&state))
        .layer(middleware::cors());
    let browser = Router::new()
        .merge(limits.apply(Endpoint::Authorize, authorize::routes()))
        .merge(consent::routes())
        .merge(callback::routes())
        .merge(account::routes(limits));
    let own = middleware::inner(api.merge(browser).fallback(discovery::not_found));
    // Proxied resources get their own layers (gateway/mod.rs): none of the inner ones above.
    let gateway = crate::gateway::routes(&state)
        .layer(axum::middleware::from_fn(middleware::preflight_no_content));
    // The admin API: here unless it has a listener of its own (`admin_listen`, app::serve).
    let admin = state
        .config
        .admin_listen
        .is_none()
        .then(|| crate::admin::router(state.clone()));
    let ip_header = state.config.rate_limit.client_ip_header;
    let metrics = metrics::routes(&state, metrics::Listener::Main);
    let mut all = own.merge(gateway).with_state(state);
    if let Some(admin) = admin {
        all = all.merge(admin);
    }
    if let Some(metrics) = metrics {
        all = all.merge(metrics);
    }
    middleware::common(all, ip_header)
}
