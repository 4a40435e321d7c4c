//! `/admin/v1/stats`: how many clients (by kind), users and active grants there are now, and
//! what the audit trail says about a time window: sign-in flows started, completed and failed
//! (by reason), and every event type's count.
//!
//! The flow figures come from audit events. Starting a flow writes `authorize_started` since
//! schema version 5 (counted in the events); the figures keep the mapping below so that
//! windows before and after that upgrade compare:
//! - **started**: `login` + `login_failed`, the flows that came back from the upstream IdP
//!   (a flow abandoned at the upstream leaves no trace);
//! - **completed**: `consented`, an authorization code sent to the client;
//! - **failed**: `login_failed` by its `detail.reason`, and `consent_denied` as the reason
//!   `consent_denied` (the user refused on the consent page, after a `login`).
//!
//! A flow whose events straddle the window's edge is counted where each event falls.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{AdminError, AdminQuery};
use super::responses::{BadRequest, Unauthorized};
use crate::app::AppState;
use crate::store::AuditCount;

/// The window when `since` is not given: the last day.
const DEFAULT_WINDOW_SECONDS: i64 = 86_400;
/// The one kind counted by its detail too (for its reason).
const LOGIN_FAILED: &str = "login_failed";

/// Query of the stats.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// Start of the window, inclusive (Unix seconds); default `until` minus one day.
    pub since: Option<i64>,
    /// End of the window, exclusive (Unix seconds); default the end of the current second.
    pub until: Option<i64>,
}

/// Clients by how they came to exist.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ClientCounts {
    pub dcr: i64,
    pub cimd: i64,
    #[serde(rename = "static")]
    pub static_: i64,
    pub total: i64,
}

/// Sign-in flows in the window, from the audit trail (docs/admin-api.md has the mapping).
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct FlowCounts {
    /// `login` + `login_failed` events.
    pub started: i64,
    /// `consented` events: a code was sent to the client.
    pub completed: i64,
    /// `login_failed` + `consent_denied` events.
    pub failed: i64,
    /// `failed` by reason: `login_failed`'s `detail.reason`, and `consent_denied`.
    pub failed_by_reason: BTreeMap<String, i64>,
}

/// The figures.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "since": 1_764_913_600, "until": 1_765_000_000,
    "clients": { "dcr": 12, "cimd": 3, "static": 1, "total": 16 },
    "users": 40, "active_grants": 52,
    "flows": { "started": 30, "completed": 27, "failed": 2,
        "failed_by_reason": { "access_denied": 1, "consent_denied": 1 } },
    "events": { "consented": 27, "login": 29, "login_failed": 1, "consent_denied": 1,
        "token_issued": 27, "refreshed": 310 }
}))]
pub struct Stats {
    /// The window `[since, until)` the flow and event counts cover.
    pub since: i64,
    pub until: i64,
    /// Now (not limited to the window).
    pub clients: ClientCounts,
    /// Now: everyone who ever signed in.
    pub users: i64,
    /// Now: grants not revoked.
    pub active_grants: i64,
    pub flows: FlowCounts,
    /// Every audit event type recorded in the window, with its count.
    pub events: BTreeMap<String, i64>,
}

/// Counts of clients, users and grants now, and of flows and audit events in a window.
#[utoipa::path(get, path = "/admin/v1/stats", operation_id = "get_stats", tag = "stats",
    params(StatsQuery),
    responses(
        (status = 200, description = "The figures", body = Stats),
        BadRequest, Unauthorized,
    ))]
pub async fn get(
    State(state): State<AppState>,
    AdminQuery(q): AdminQuery<StatsQuery>,
) -> Result<Json<Stats>, AdminError> {
    // The window ends after the current second, so what just happened is in it.
    let until = q
        .until
        .unwrap_or_else(|| state.core.now().saturating_add(1));
    let since = q
        .since
        .unwrap_or_else(|| until.saturating_sub(DEFAULT_WINDOW_SECONDS));
    if since > until {
        return Err(AdminError::BadRequest(
            "since must not be after until".to_owned(),
        ));
    }
    let store = &state.core.store;
    let inventory = store.inventory().await?;
    let counts = store
        .count_audit_events(since, until, &[LOGIN_FAILED])
        .await?;
    let mut clients = ClientCounts::default();
    for (kind, n) in inventory.clients_by_kind {
        match kind.as_str() {
            "dcr" => clients.dcr = n,
            "cimd" => clients.cimd = n,
            "static" => clients.static_ = n,
            other => tracing::warn!(kind = other, "client of an unknown kind in the stats"),
        }
        clients.total += n;
    }
    let (flows, events) = tally(&counts);
    Ok(Json(Stats {
        since,
        until,
        clients,
        users: inventory.users,
        active_grants: inventory.active_grants,
        flows,
        events,
    }))
}

/// The flow figures and the per-type totals from the store's counts.
fn tally(counts: &[AuditCount]) -> (FlowCounts, BTreeMap<String, i64>) {
    let mut flows = FlowCounts::default();
    let mut events = BTreeMap::new();
    for c in counts {
        *events.entry(c.kind.clone()).or_insert(0) += c.count;
        match c.kind.as_str() {
            "login" => flows.started += c.count,
            "consented" => flows.completed += c.count,
            "consent_denied" => {
                flows.failed += c.count;
                *flows
                    .failed_by_reason
                    .entry("consent_denied".to_owned())
                    .or_insert(0) += c.count;
            }
            LOGIN_FAILED => {
                flows.started += c.count;
                flows.failed += c.count;
                *flows.failed_by_reason.entry(reason(c)).or_insert(0) += c.count;
            }
            _ => {}
        }
    }
    (flows, events)
}

/// The `reason` of a `login_failed` detail; `unknown` when there is none.
fn reason(c: &AuditCount) -> String {
    c.detail
        .as_deref()
        .and_then(|d| serde_json::from_str::<serde_json::Value>(d).ok())
        .and_then(|d| d.get("reason").and_then(|r| r.as_str()).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
#[path = "stats_tests.rs"]
mod tests;
