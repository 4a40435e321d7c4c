//! Probes for orchestrators: `/healthz` says the process serves HTTP (no dependencies touched,
//! so a database outage never gets healthy replicas killed); `/readyz` says this replica can do
//! its work now: the database answers and a signing key is loaded.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::app::AppState;

/// How long `/readyz` waits for the database.
const PING_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(800);

/// Health routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

async fn readyz(State(app): State<AppState>) -> Response {
    // Bounded apart from the pool's acquire timeout: a probe must answer within the
    // orchestrator's own timeout (Kubernetes: 1 s by default) even while the database is away.
    let database = match tokio::time::timeout(PING_TIMEOUT, app.core.store.ping()).await {
        Ok(Ok(())) => "ok".to_owned(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: database ping failed");
            "unavailable".to_owned()
        }
        Err(_) => {
            tracing::warn!("readiness: database ping timed out");
            "unavailable".to_owned()
        }
    };
    let signing_key = if app.core.keys.current_kid().is_ok() {
        "ok"
    } else {
        "missing"
    };
    let ready = database == "ok" && signing_key == "ok";
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if ready { "ready" } else { "not_ready" },
        "database": database,
        "signing_key": signing_key,
        "backend": app.core.store.backend(),
    });
    crate::http::error::no_store((status, Json(body)).into_response())
}
