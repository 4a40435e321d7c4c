//! The console's pages (GET): overview with the flow-failure chart, clients, users, grants,
//! and the audit log with its CSV export. Each calls the admin API's handler for the same data
//! and renders what it returns.

use axum::extract::{Path, State};
use axum::http::header::HeaderMap;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::Json;
use minijinja::context;
use serde::Serialize;

use super::guard::Signed;
use super::render::{page, Refusal};
use super::views::{flag, json_body, link, next_link, query, text, time, value};
use super::Console;
use crate::admin::audit::{self, AuditEventQuery, ExportFormat};
use crate::admin::clients::{self, ClientListQuery, Kind};
use crate::admin::error::{AdminPath, AdminQuery};
use crate::admin::grants::{self, GrantListQuery};
use crate::admin::stats::{self, StatsQuery};
use crate::admin::users::{self, PageQuery, UserListQuery};

/// Rows per console page.
const PAGE: u32 = 50;
/// Longest id, email or resource a filter takes.
const MAX_FIELD: usize = 2048;

/// One bar of the flow-failure chart: its width is a percentage of the largest.
#[derive(Serialize)]
struct Bar {
    reason: String,
    count: i64,
    width: i64,
}

/// The windows the overview offers, in seconds.
const WINDOWS: [(&str, i64); 3] = [("1h", 3_600), ("24h", 86_400), ("7d", 604_800)];

/// Counts, and flow failures by reason over a window as a bar chart.
pub async fn overview(
    State(c): State<Console>,
    Signed(op): Signed,
    uri: Uri,
) -> Result<Response, Refusal> {
    let q = query(&uri, &["window"])?;
    let window = q.get("window").unwrap_or("24h");
    let (_, seconds) = WINDOWS
        .iter()
        .find(|(name, _)| *name == window)
        .ok_or_else(|| Refusal::bad_request("window is 1h, 24h or 7d"))?;
    let until = c.app.core.now().saturating_add(1);
    let Json(stats) = stats::get(
        State(c.app.clone()),
        AdminQuery(StatsQuery {
            since: Some(until - seconds),
            until: Some(until),
        }),
    )
    .await?;
    let mut reasons: Vec<(&String, &i64)> = stats.flows.failed_by_reason.iter().collect();
    reasons.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let max = reasons.first().map_or(1, |(_, n)| (**n).max(1));
    let bars: Vec<Bar> = reasons
        .into_iter()
        .map(|(reason, count)| Bar {
            reason: reason.clone(),
            count: *count,
            width: (count * 100 / max).max(1),
        })
        .collect();
    let windows: Vec<&str> = WINDOWS.iter().map(|(n, _)| *n).collect();
    page(
        &c,
        "admin/overview.html",
        &op,
        "overview",
        context! { stats => value(&stats), bars => bars, window => window, windows => windows },
    )
}

/// The client list, filtered by kind and state.
pub async fn clients(
    State(c): State<Console>,
    Signed(op): Signed,
    uri: Uri,
) -> Result<Response, Refusal> {
    let q = query(&uri, &["kind", "disabled", "cursor", "done"])?;
    let kind = match q.get("kind") {
        None => None,
        Some("dcr") => Some(Kind::Dcr),
        Some("cimd") => Some(Kind::Cimd),
        Some("static") => Some(Kind::Static),
        Some(_) => return Err(Refusal::bad_request("kind is dcr, cimd or static")),
    };
    let disabled = flag(&q, "disabled")?;
    let cursor = text(&q, "cursor", MAX_FIELD)?;
    let Json(list) = clients::list(
        State(c.app.clone()),
        AdminQuery(ClientListQuery {
            kind,
            disabled,
            limit: Some(PAGE),
            cursor,
        }),
    )
    .await?;
    let next = next_link(
        "/admin/clients",
        &[
            ("kind", q.get("kind").map(str::to_owned)),
            ("disabled", q.get("disabled").map(str::to_owned)),
        ],
        list.next_cursor.as_deref(),
    );
    page(
        &c,
        "admin/clients.html",
        &op,
        "clients",
        context! {
            clients => value(&list.items), next => next, done => done(&q),
            kind => q.get("kind"), disabled => q.get("disabled"),
        },
    )
}

/// One client, with its grants.
pub async fn client(
    State(c): State<Console>,
    Signed(op): Signed,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
    uri: Uri,
) -> Result<Response, Refusal> {
    let Path(id) = id.map_err(|_| Refusal::bad_request("malformed client id"))?;
    let q = query(&uri, &["done", "n"])?;
    let Json(client) = clients::get(State(c.app.clone()), AdminPath(id.clone())).await?;
    let Json(list) = grants::list(
        State(c.app.clone()),
        AdminQuery(GrantListQuery {
            user_id: None,
            client_id: Some(id),
            resource: None,
            active: None,
            limit: Some(PAGE),
            cursor: None,
        }),
    )
    .await?;
    page(
        &c,
        "admin/client.html",
        &op,
        "clients",
        context! {
            client => value(&client), grants => value(&list.items),
            more => list.next_cursor.is_some(), done => done(&q), n => q.get("n"),
        },
    )
}

/// Users, newest first; with `q`, those whose email contains it or whose subject or id is it
/// (the admin API's search, paged the same way).
pub async fn users(
    State(c): State<Console>,
    Signed(op): Signed,
    uri: Uri,
) -> Result<Response, Refusal> {
    let q = query(&uri, &["q", "cursor"])?;
    // An empty search box lists everyone.
    let search = text(&q, "q", 320)?.filter(|t| !t.trim().is_empty());
    let cursor = text(&q, "cursor", MAX_FIELD)?;
    let Json(list) = users::list(
        State(c.app.clone()),
        AdminQuery(UserListQuery {
            limit: Some(PAGE),
            cursor,
            q: search.clone(),
        }),
    )
    .await?;
    let next = next_link(
        "/admin/users",
        &[("q", search)],
        list.next_cursor.as_deref(),
    );
    page(
        &c,
        "admin/users.html",
        &op,
        "users",
        context! { users => value(&list.items), next => next, q => q.get("q") },
    )
}

/// One user, with their grants.
pub async fn user(
    State(c): State<Console>,
    Signed(op): Signed,
    id: Result<Path<String>, axum::extract::rejection::PathRejection>,
    uri: Uri,
) -> Result<Response, Refusal> {
    let Path(id) = id.map_err(|_| Refusal::bad_request("malformed user id"))?;
    let q = query(&uri, &["done", "n", "cursor"])?;
    let cursor = text(&q, "cursor", MAX_FIELD)?;
    let Json(user) = users::get(State(c.app.clone()), AdminPath(id.clone())).await?;
    let Json(list) = users::grants(
        State(c.app.clone()),
        AdminPath(id.clone()),
        AdminQuery(PageQuery {
            limit: Some(PAGE),
            cursor,
        }),
    )
    .await?;
    let next = next_link(
        &format!("/admin/users/{}", super::render::segment(&id)),
        &[],
        list.next_cursor.as_deref(),
    );
    page(
        &c,
        "admin/user.html",
        &op,
        "users",
        context! {
            user => value(&user), grants => value(&list.items), next => next,
            done => done(&q), n => q.get("n"),
        },
    )
}

/// Grants by user, client, resource and state.
pub async fn grants(
    State(c): State<Console>,
    Signed(op): Signed,
    uri: Uri,
) -> Result<Response, Refusal> {
    let q = query(
        &uri,
        &[
            "user_id",
            "client_id",
            "resource",
            "active",
            "cursor",
            "done",
        ],
    )?;
    let filters = [
        ("user_id", text(&q, "user_id", MAX_FIELD)?),
        ("client_id", text(&q, "client_id", MAX_FIELD)?),
        ("resource", text(&q, "resource", MAX_FIELD)?),
        ("active", q.get("active").map(str::to_owned)),
    ];
    let Json(list) = grants::list(
        State(c.app.clone()),
        AdminQuery(GrantListQuery {
            user_id: filters[0].1.clone(),
            client_id: filters[1].1.clone(),
            resource: filters[2].1.clone(),
            active: flag(&q, "active")?,
            limit: Some(PAGE),
            cursor: text(&q, "cursor", MAX_FIELD)?,
        }),
    )
    .await?;
    let next = next_link("/admin/grants", &filters, list.next_cursor.as_deref());
    let back = link("/admin/grants", &filters);
    page(
        &c,
        "admin/grants.html",
        &op,
        "grants",
        context! {
            grants => value(&list.items), next => next, done => done(&q), back => back,
            user_id => filters[0].1, client_id => filters[1].1, resource => filters[2].1,
            active => filters[3].1,
        },
    )
}

/// A page's filters as they go into its links: name and value, if given.
type Filters = Vec<(&'static str, Option<String>)>;

/// The audit filters of the page and of its export.
fn audit_query(uri: &Uri, paged: bool) -> Result<(AuditEventQuery, Filters), Refusal> {
    let allowed: &[&str] = if paged {
        &["type", "client_id", "user_id", "from", "to", "cursor"]
    } else {
        &["type", "client_id", "user_id", "from", "to"]
    };
    let q = query(uri, allowed)?;
    let filters = vec![
        ("type", text(&q, "type", 64)?),
        ("client_id", text(&q, "client_id", MAX_FIELD)?),
        ("user_id", text(&q, "user_id", MAX_FIELD)?),
        ("from", q.get("from").map(str::to_owned)),
        ("to", q.get("to").map(str::to_owned)),
    ];
    let query = AuditEventQuery {
        kind: filters[0].1.clone(),
        client_id: filters[1].1.clone(),
        user_id: filters[2].1.clone(),
        actor: None,
        from: time(&q, "from")?,
        to: time(&q, "to")?,
        format: Some(if paged {
            ExportFormat::Json
        } else {
            ExportFormat::Csv
        }),
        limit: paged.then_some(PAGE),
        cursor: text(&q, "cursor", MAX_FIELD)?,
    };
    Ok((query, filters))
}

/// The audit log, filtered by type, client, user and time, newest first.
pub async fn audit(
    State(c): State<Console>,
    Signed(op): Signed,
    uri: Uri,
) -> Result<Response, Refusal> {
    let (q, filters) = audit_query(&uri, true)?;
    let res = audit::list(State(c.app.clone()), HeaderMap::new(), AdminQuery(q)).await?;
    let mut body = json_body(res).await?;
    // Details are shown as their JSON text (escaped like any text).
    if let Some(items) = body.get_mut("items").and_then(|v| v.as_array_mut()) {
        for item in items {
            if let Some(detail) = item.get_mut("detail") {
                *detail = serde_json::Value::String(detail.to_string());
            }
        }
    }
    let next = next_link(
        "/admin/audit",
        &filters,
        body.get("next_cursor").and_then(|v| v.as_str()),
    );
    let export = link("/admin/audit/export.csv", &filters);
    let f: std::collections::BTreeMap<&str, Option<String>> = filters.into_iter().collect();
    page(
        &c,
        "admin/audit.html",
        &op,
        "audit",
        context! { events => value(&body["items"]), next => next, export => export, f => f },
    )
}

/// Every audit event matching the filters, as the API's CSV export.
pub async fn audit_csv(
    State(c): State<Console>,
    Signed(_): Signed,
    uri: Uri,
) -> Result<Response, Refusal> {
    let (q, _) = audit_query(&uri, false)?;
    Ok(audit::list(State(c.app.clone()), HeaderMap::new(), AdminQuery(q)).await?)
}

/// Unknown console paths.
pub async fn not_found() -> Refusal {
    Refusal::Page(StatusCode::NOT_FOUND, "no such console page".to_owned())
}

/// The outcome of the action that redirected here, if it is one the pages name.
fn done(q: &crate::http::form::Params) -> Option<&'static str> {
    match q.get("done")? {
        "disabled" => Some("disabled"),
        "enabled" => Some("enabled"),
        "deleted" => Some("deleted"),
        "revoked" => Some("revoked"),
        _ => None,
    }
}
