//! `/admin/v1/audit-events`: the audit trail, filtered by type, client, user and time range,
//! newest first in cursor pages as JSON, or every matching event as a CSV export
//! (`Accept: text/csv` or `?format=csv`, see [`super::audit_csv`]).

use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::audit_csv;
use super::error::{AdminError, AdminQuery};
use super::pagination::{self, List, Page};
use super::responses::{BadRequest, Unauthorized};
use crate::app::AppState;
use crate::store::{AuditAfter, AuditEntry, AuditFilter};

/// One audit event: a security-relevant fact. Times are Unix seconds.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "4c1d9a3e-2b7f-4e8a-9c6d-0f1e2d3c4b5a", "at": 1_765_000_000, "type": "token_issued",
    "actor": "0b9d4c1e-8f2a-4e6b-a7c3-5d1f9e2b8a60", "client_id": "dcrb_c_k3J9cQ2xS0a1b2c3d4e5fA",
    "user_id": "0b9d4c1e-8f2a-4e6b-a7c3-5d1f9e2b8a60", "ip": "203.0.113.7", "user_agent": "node",
    "grant_id": "6f1c2e8a-3b7d-4f0e-9a51-2c8d7e6b5a43", "request_id": "8e0c…",
    "detail": { "grant_type": "authorization_code", "refresh_token": true }
}))]
pub struct AuditEventView {
    pub id: String,
    pub at: i64,
    /// What happened: `login`, `login_failed`, `consented`, `consent_denied`, `token_issued`,
    /// `refreshed`, `revoked`, `reuse_detected`, `registered`, `client_*`, `cimd_client_*`,
    /// `static_client_*`, `admin_*` … (docs/admin-api.md lists them).
    #[serde(rename = "type")]
    pub kind: String,
    /// Who did it: a user id, `admin:<token name>`, or absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The user the fact concerns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    /// The `X-Request-Id` of the request that caused it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The address the request came from (the trusted proxy's header when configured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    /// The request's `User-Agent` (at most 256 characters).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Further facts, a JSON object (never a secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub detail: Option<serde_json::Value>,
}

impl From<AuditEntry> for AuditEventView {
    fn from(e: AuditEntry) -> Self {
        let e = e.event;
        // A detail that is not JSON (none is written so) is shown as the text it is.
        let detail = e
            .detail
            .map(|text| serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)));
        Self {
            id: e.id,
            at: e.at,
            kind: e.kind,
            actor: e.actor,
            client_id: e.client_id,
            user_id: e.user_id,
            grant_id: e.grant_id,
            request_id: e.request_id,
            ip: e.ip,
            user_agent: e.user_agent,
            detail,
        }
    }
}

/// The answer's format, when not chosen by `Accept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Json,
    Csv,
}

/// Query of the audit event list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditEventQuery {
    /// Only events of this type (e.g. `login_failed`).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Only events about this client.
    pub client_id: Option<String>,
    /// Only events concerning this user (sign-ins, consents, tokens, revocations).
    pub user_id: Option<String>,
    /// Only events by this actor: a user id, `admin:<token name>`, `config`, `housekeeping`.
    pub actor: Option<String>,
    /// Only events at or after this time (Unix seconds).
    pub from: Option<i64>,
    /// Only events before this time (Unix seconds).
    pub to: Option<i64>,
    /// `csv` for the export, whatever `Accept` says; `json` for a page.
    pub format: Option<ExportFormat>,
    /// Page size, 1 to 500 (default 50). Not with CSV.
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page. Not with CSV.
    pub cursor: Option<String>,
}

impl AuditEventQuery {
    /// The store filter, once the values are checked.
    fn filter(&self) -> Result<AuditFilter, AdminError> {
        if let Some(kind) = &self.kind {
            let plain = (1..=64).contains(&kind.len())
                && kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
            if !plain {
                return Err(AdminError::BadRequest(
                    "type is 1 to 64 of a-z and _".to_owned(),
                ));
            }
        }
        if let (Some(from), Some(to)) = (self.from, self.to) {
            if from > to {
                return Err(AdminError::BadRequest(
                    "from must not be after to".to_owned(),
                ));
            }
        }
        Ok(AuditFilter {
            kind: self.kind.clone(),
            client_id: self.client_id.clone(),
            actor: self.actor.clone(),
            user_id: self.user_id.clone(),
            from: self.from,
            to: self.to,
        })
    }
}

/// List audit events, newest first; or export every matching one as CSV.
#[utoipa::path(get, path = "/admin/v1/audit-events", operation_id = "list_audit_events", tag = "audit",
    params(AuditEventQuery),
    responses(
        (status = 200, description = "One page of events (JSON), or every matching event \
            (CSV, with a header row, streamed)",
            content(
                (Page<AuditEventView> = "application/json"),
                (String = "text/csv"),
            )),
        BadRequest, Unauthorized,
    ))]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    AdminQuery(q): AdminQuery<AuditEventQuery>,
) -> Result<Response, AdminError> {
    let filter = q.filter()?;
    let csv = match q.format {
        Some(format) => format == ExportFormat::Csv,
        None => prefers_csv(&headers),
    };
    if csv {
        if q.limit.is_some() || q.cursor.is_some() {
            return Err(AdminError::BadRequest(
                "the CSV export is not paged: leave out limit and cursor".to_owned(),
            ));
        }
        return Ok(audit_csv::export(state.core.store.clone(), filter));
    }
    let page = pagination::request(List::AuditEvents, q.limit, q.cursor.as_deref())?;
    let after = page
        .after
        .as_ref()
        .map(|a| {
            a.id.parse().map(|seq| AuditAfter {
                at: a.created_at,
                seq,
            })
        })
        .transpose()
        .map_err(|_| pagination::invalid_cursor())?;
    let rows = state
        .core
        .store
        .list_audit_page(&filter, after, page.limit)
        .await?;
    // The cursor's id part is the event's seq (the id orders nothing).
    let keyed = rows.into_iter().map(|e| (e.seq.to_string(), e)).collect();
    Ok(Json(pagination::page(
        List::AuditEvents,
        &page,
        keyed,
        |(seq, e)| (e.event.at, seq.as_str()),
        |(_, e)| AuditEventView::from(e),
    ))
    .into_response())
}

/// Whether `Accept` asks for CSV before JSON. Media ranges are taken in the order sent and
/// their q-values ignored: the two formats carry the same events, so a client naming
/// `text/csv` first wants the export; `*/*` or no header is JSON. (Hand-written: no crate in
/// the tree negotiates, and this is the whole rule.)
fn prefers_csv(headers: &HeaderMap) -> bool {
    let ranges = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|r| {
            r.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        });
    for range in ranges {
        match range.as_str() {
            "text/csv" => return true,
            "application/json" | "application/*" | "*/*" => return false,
            _ => {}
        }
    }
    false
}
