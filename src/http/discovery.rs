//! Discovery: RFC 8414 authorization server metadata (and its path-inserted forms), OpenID
//! Connect discovery, RFC 9728 protected resource metadata (root and path-suffixed), and JWKS.
//! All answer 200 JSON without authentication (COMPAT C1, C2).

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::app::AppState;
use crate::oauth::{Resource, Settings};

/// Discovery routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/.well-known/oauth-authorization-server", get(as_metadata))
        .route(
            "/.well-known/oauth-authorization-server/{*path}",
            get(as_metadata_suffixed),
        )
        .route("/.well-known/openid-configuration", get(oidc_metadata))
        .route(
            "/.well-known/openid-configuration/{*path}",
            get(oidc_metadata_suffixed),
        )
        .route("/{*path}", get(oidc_metadata_appended))
        .route("/.well-known/oauth-protected-resource", get(prm_root))
        .route(
            "/.well-known/oauth-protected-resource/{*path}",
            get(prm_suffixed),
        )
        .route("/jwks", get(jwks))
}

/// RFC 8414 §2 metadata, with the fields the MCP SDKs read (SPEC A3).
#[must_use]
pub fn authorization_server_metadata(s: &Settings, registration_enabled: bool) -> Value {
    let i = &s.issuer;
    let auth_methods = ["none", "client_secret_post", "client_secret_basic"];
    let mut m = json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "revocation_endpoint": format!("{i}/revoke"),
        "introspection_endpoint": format!("{i}/introspect"),
        "jwks_uri": format!("{i}/jwks"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "scopes_supported": s.scopes_supported(),
        "authorization_response_iss_parameter_supported": true,
        "service_documentation": "https://github.com/dcr-bridge/dcr-bridge/tree/main/docs",
    });
    if registration_enabled {
        m["registration_endpoint"] = json!(format!("{i}/register"));
    }
    // CIMD-00 §AS Metadata: an AS that supports URL client ids MUST say so; MCP clients pick
    // CIMD over DCR on it.
    if s.cimd.enabled {
        m["client_id_metadata_document_supported"] = json!(true);
    }
    // RFC 8693 and the MCP client-credentials and enterprise-managed-authorization extensions
    // are advertised only where configured: a client should not learn of a grant no one may
    // use.
    let mut grants = vec!["authorization_code", "refresh_token"];
    if s.token_exchange_enabled() {
        grants.push(crate::oauth::grants::token_exchange::GRANT_TYPE);
    }
    if s.machine.has_accounts() {
        grants.push("client_credentials");
    }
    if !s.enterprise_idps.is_empty() {
        grants.push(crate::oauth::grants::jwt_bearer::GRANT_TYPE);
        m["authorization_grant_profiles_supported"] =
            json!([crate::oauth::grants::jwt_bearer::GRANT_PROFILE]);
    }
    m["grant_types_supported"] = json!(grants);
    if s.machine.has_keys() {
        m["token_endpoint_auth_methods_supported"] = json!([
            "none",
            "client_secret_post",
            "client_secret_basic",
            "private_key_jwt"
        ]);
        m["token_endpoint_auth_signing_alg_values_supported"] =
            json!(crate::oauth::client_assertion::algorithm_names());
    }
    m
}

fn json_ok(v: Value) -> Response {
    let mut res = (StatusCode::OK, Json(v)).into_response();
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    res
}

async fn as_metadata(State(app): State<AppState>) -> Response {
    json_ok(authorization_server_metadata(
        &app.core.settings,
        app.config.registration.mode() != crate::config::RegistrationMode::Closed,
    ))
}

/// RFC 8414 §3.1 path insertion. Our issuer has no path, so the only suffixes served are the
/// resource paths: legacy clients derive the AS location from the MCP URL.
async fn as_metadata_suffixed(State(app): State<AppState>, Path(path): Path<String>) -> Response {
    if resource_for_path(&app.core.settings, &path).is_some() {
        as_metadata(State(app)).await
    } else {
        not_found().await
    }
}

fn oidc_doc(app: &AppState) -> Value {
    let mut m = authorization_server_metadata(
        &app.core.settings,
        app.config.registration.mode() != crate::config::RegistrationMode::Closed,
    );
    // Required by OpenID Connect Discovery §3 and by the TS SDK's OIDC schema.
    m["subject_types_supported"] = json!(["public"]);
    m["id_token_signing_alg_values_supported"] = json!(["RS256"]);
    m
}

/// OIDC discovery document (the gateway also answers it below a proxied resource path).
pub async fn oidc_metadata(State(app): State<AppState>) -> Response {
    json_ok(oidc_doc(&app))
}

async fn oidc_metadata_suffixed(State(app): State<AppState>, Path(path): Path<String>) -> Response {
    if resource_for_path(&app.core.settings, &path).is_some() {
        json_ok(oidc_doc(&app))
    } else {
        not_found().await
    }
}

/// `/<resource path>/.well-known/openid-configuration` (OIDC path appending), the third URL
/// the MCP clients try.
async fn oidc_metadata_appended(State(app): State<AppState>, Path(path): Path<String>) -> Response {
    match path.strip_suffix("/.well-known/openid-configuration") {
        Some(prefix) if resource_for_path(&app.core.settings, prefix).is_some() => {
            json_ok(oidc_doc(&app))
        }
        _ => not_found().await,
    }
}

fn resource_for_path<'a>(s: &'a Settings, path: &str) -> Option<&'a Resource> {
    let wanted = format!("/{}", path.trim_matches('/'));
    s.resources.iter().find(|r| r.path == wanted)
}

/// RFC 9728 §2 metadata for one resource.
#[must_use]
pub fn protected_resource_metadata(s: &Settings, r: &Resource) -> Value {
    json!({
        "resource": r.uri,
        "authorization_servers": [s.issuer],
        // SPEC B: offline_access is not a resource scope and stays out of PRM.
        "scopes_supported": r.scopes,
        "bearer_methods_supported": ["header"],
        "resource_name": r.id,
    })
}

/// Root form: describes the first resource (clients that probe only the root, COMPAT C1).
async fn prm_root(State(app): State<AppState>) -> Response {
    match app.core.settings.resources.first() {
        Some(r) => json_ok(protected_resource_metadata(&app.core.settings, r)),
        None => not_found().await,
    }
}

async fn prm_suffixed(State(app): State<AppState>, Path(path): Path<String>) -> Response {
    match resource_for_path(&app.core.settings, &path) {
        Some(r) => json_ok(protected_resource_metadata(&app.core.settings, r)),
        None => not_found().await,
    }
}

async fn jwks(State(app): State<AppState>) -> Response {
    json_ok(app.core.keys.jwks())
}

/// JSON 404 for anything unknown (clients move on to the next discovery URL on 4xx).
pub async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Json(json!({"error": "not_found", "error_description": "no such endpoint"})),
    )
        .into_response()
}
