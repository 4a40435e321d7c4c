//! `GET /metrics`: the Prometheus exposition text (`crate::metrics` renders it).
//!
//! Where it is served follows Keycloak and Hydra, which keep metrics on a management port: with
//! `admin_listen` it is on the admin listener, without a token (that port is meant for a private
//! interface, where Prometheus scrapes), and not on the main one. Without `admin_listen` it is on
//! the main listener behind an admin token (read-only is enough), since the figures tell an
//! outsider how busy the server is and which upstreams fail. `[metrics] public = true` serves it
//! on the main listener without a token (a scraper that cannot send a bearer token, behind a
//! network policy). `[metrics] enabled = false` serves it nowhere.

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::app::AppState;

/// The path of the exposition text.
pub const PATH: &str = "/metrics";
/// Content type of the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Which listener a router is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listener {
    /// The main (public) listener.
    Main,
    /// The admin listener (`admin_listen`).
    Admin,
}

/// The `/metrics` route for `listener`, if the configuration serves it there, state applied.
pub fn routes(state: &AppState, listener: Listener) -> Option<Router> {
    let settings = &state.config.metrics;
    let has_admin = state.config.admin_listen.is_some();
    let (served, token) = match listener {
        _ if !settings.enabled => (false, false),
        Listener::Admin => (true, false),
        Listener::Main if settings.public => (true, false),
        Listener::Main => (!has_admin, true),
    };
    if !served {
        return None;
    }
    let router = Router::new().route(PATH, get(metrics));
    let router = if token {
        router.route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::admin::auth::require_token,
        ))
    } else {
        router
    };
    Some(router.with_state(state.clone()))
}

async fn metrics(State(app): State<AppState>) -> Response {
    let text = crate::metrics::render(app.core.store.as_ref());
    let mut res = text.into_response();
    let headers = res.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}
