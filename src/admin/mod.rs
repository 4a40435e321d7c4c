//! The admin REST API at `/admin/v1`: its router (one file per resource), bearer-token auth,
//! the problem+json error shape, cursor pagination, and the OpenAPI 3.1 document generated from
//! the same handlers (utoipa-axum registers each handler once, for the route and the document);
//! and the admin console under `/admin/` ([`console`]), server-rendered over those handlers.
//!
//! It is a router of its own (STYLE 4): merged into the public listener, or served alone on
//! `admin_listen`. None of the public routes' layers apply (OAuth JSON error rewriting, CORS,
//! rate limits): the admin API has its own body limit and error shape, and no browser origin
//! needs it.

pub mod audit;
pub mod audit_csv;
pub mod auth;
pub mod cli;
pub mod client_write;
pub mod clients;
pub mod console;
pub mod error;
pub mod grants;
pub mod initial_tokens;
pub mod initial_tokens_cli;
pub mod pagination;
pub mod responses;
pub mod signing_keys;
pub mod stats;
pub mod tokens;
pub mod upstreams;
pub mod users;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower_http::limit::RequestBodyLimitLayer;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use self::error::{AdminError, PROBLEM_JSON};
use crate::app::AppState;

/// Path prefix of every admin route.
pub const PREFIX: &str = "/admin/v1";
/// Where the OpenAPI document is served (without a token: it holds nothing secret, and tools
/// that generate clients or fuzz the API start from it).
pub const OPENAPI_PATH: &str = "/admin/v1/openapi.json";
/// Largest admin request body (the API takes small JSON objects only).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "dcr-bridge admin API",
        version = "1",
        description = "Clients, users, grants, admin tokens, the registration policy and initial access tokens, the audit trail, stats, signing keys and upstreams of a dcr-bridge. Every request \
            needs an admin bearer token (`dcr-bridge admin-token create`, or the bootstrap \
            token `DCR_BRIDGE_ADMIN_TOKEN`); read-only tokens may only GET. Every error is an \
            RFC 9457 problem (application/problem+json) with a `code`. Lists are newest first, \
            in pages: pass `next_cursor` back as `cursor`. Times are Unix seconds."
    ),
    modifiers(&BearerAuth),
    security(("admin_token" = [])),
    components(schemas(error::Problem, audit::ExportFormat, signing_keys::RotateStep)),
    tags(
        (name = "clients", description = "Registered, CIMD and configured clients"),
        (name = "users", description = "People who signed in, and their grants"),
        (name = "grants", description = "Authorizations and their revocation"),
        (name = "admin-tokens", description = "Tokens of this API"),
        (name = "registration", description = "Registration policy and RFC 7591 initial access tokens"),
        (name = "audit", description = "The audit trail: list, filter, export as CSV"),
        (name = "stats", description = "Counts of clients, users, grants and sign-in flows"),
        (name = "signing-keys", description = "JWT signing keys and their rotation"),
        (name = "upstreams", description = "Upstream IdPs: discovery status and a test"),
    )
)]
struct ApiDoc;

/// Declares the `admin_token` bearer scheme the document's `security` refers to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("An admin token (dcrb_adm_…) or the bootstrap token"))
                    .build(),
            ),
        );
    }
}

/// Adds the answers every operation can give, whatever its handler does: 429 (the failed
/// authentication throttle of [`auth::require_token`]) and 503 (the database is unreachable).
struct EveryOperation;

impl Modify for EveryOperation {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::IntoResponses as _;
        let mut common = responses::TooManyRequests::responses();
        common.extend(responses::Unavailable::responses());
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                for (status, response) in &common {
                    operation
                        .responses
                        .responses
                        .entry(status.clone())
                        .or_insert_with(|| response.clone());
                }
            }
        }
    }
}

/// The authenticated routes and the OpenAPI document describing exactly them.
fn documented(state: &AppState) -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (routes, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(clients::list, client_write::create))
        .routes(routes!(clients::get, client_write::patch, clients::delete))
        .routes(routes!(clients::revoke_grants))
        .routes(routes!(users::list))
        .routes(routes!(users::get))
        .routes(routes!(users::grants, users::revoke_grants))
        .routes(routes!(grants::list))
        .routes(routes!(grants::get, grants::revoke))
        .routes(routes!(tokens::list, tokens::create))
        .routes(routes!(tokens::revoke))
        .routes(routes!(initial_tokens::list, initial_tokens::create))
        .routes(routes!(initial_tokens::revoke))
        .routes(routes!(initial_tokens::policy))
        .routes(routes!(audit::list))
        .routes(routes!(stats::get))
        .routes(routes!(signing_keys::list))
        .routes(routes!(signing_keys::rotate))
        .routes(routes!(upstreams::list))
        .routes(routes!(upstreams::test))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .split_for_parts();
    // After the routes: a modifier in `#[openapi]` runs before any path exists.
    EveryOperation.modify(&mut doc);
    (routes, doc)
}

/// The admin router, state applied: the documented routes, the document itself, and problem
/// answers for unknown paths, wrong methods and oversized bodies.
pub fn router(state: AppState) -> Router {
    let (routes, doc) = documented(&state);
    let doc = Arc::new(serde_json::to_value(&doc).unwrap_or_else(|e| {
        tracing::error!(error = %e, "serialising the admin OpenAPI document failed");
        serde_json::Value::Null
    }));
    routes
        .route(
            OPENAPI_PATH,
            get(move || {
                let doc = doc.clone();
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .route(PREFIX, axum::routing::any(not_found))
        .route(
            &format!("{PREFIX}/{{*rest}}"),
            axum::routing::any(not_found),
        )
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(problem_framework_errors))
        .with_state(state.clone())
        // The console (`/admin/`) has its own HTML refusals, body limit and CSP.
        .merge(console::router(state))
}

async fn not_found() -> AdminError {
    AdminError::NotFound("no such admin API path".to_owned())
}

/// Answers the framework gives without a handler (405 wrong method, 413 from the body limit)
/// get the problem shape too; the `Allow` header of a 405 is kept.
async fn problem_framework_errors(req: Request<Body>, next: Next) -> Response {
    let res = next.run(req).await;
    let (code, detail) = match res.status() {
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this method is not allowed on this path",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
        _ => return res,
    };
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes() == PROBLEM_JSON.as_bytes());
    if is_problem {
        return res;
    }
    let mut out = AdminError::Status {
        status: res.status(),
        code,
        detail: detail.to_owned(),
    }
    .into_response();
    if let Some(allow) = res.headers().get(header::ALLOW) {
        out.headers_mut().insert(header::ALLOW, allow.clone());
    }
    out
}
