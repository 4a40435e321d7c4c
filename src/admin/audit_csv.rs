//! The audit trail as CSV (RFC 4180, with a header row), streamed: the store is read in keyset
//! pages while the body is sent, so an export of a long trail holds one page in memory.
//!
//! Cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a tab or
//! a carriage return) get a leading `'`, as OWASP's CSV injection advice says. No value written
//! today starts so (ids are generated, details are JSON objects, malformed request ids are
//! replaced), but the trail's columns are free text and a spreadsheet is where an export goes.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse as _, Response};
use futures_util::stream;

use crate::store::{AuditAfter, AuditEntry, AuditFilter, Store, StoreError};

/// Rows read from the store per round.
const BATCH: i64 = 500;

/// The header row.
const COLUMNS: [&str; 12] = [
    "seq",
    "id",
    "at",
    "type",
    "actor",
    "client_id",
    "user_id",
    "grant_id",
    "request_id",
    "ip",
    "user_agent",
    "detail",
];

/// Where the export is: the next page starts after `after`; `None` once the last is sent.
struct Cursor {
    store: Arc<dyn Store>,
    filter: AuditFilter,
    after: Option<AuditAfter>,
    header: bool,
}

/// The streamed CSV answer of every event matching `filter`, newest first. A store failure
/// after the first bytes cuts the body short (the status is sent by then): the client sees a
/// truncated transfer, and the error is logged.
pub fn export(store: Arc<dyn Store>, filter: AuditFilter) -> Response {
    let start = Cursor {
        store,
        filter,
        after: None,
        header: true,
    };
    let chunks = stream::unfold(Some(start), |cursor| async move {
        let mut cursor = cursor?;
        match next_chunk(&mut cursor).await {
            Ok((bytes, more)) => Some((Ok(bytes), more.then_some(cursor))),
            Err(e) => {
                tracing::error!(error = %e, "audit CSV export failed");
                Some((Err(e), None))
            }
        }
    });
    let mut res = Body::from_stream(chunks).into_response();
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8; header=present"),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"audit-events.csv\""),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// The next page as CSV bytes (after the header row, the first time), and whether more follow.
async fn next_chunk(cursor: &mut Cursor) -> Result<(Bytes, bool), StoreError> {
    let rows = cursor
        .store
        .list_audit_page(&cursor.filter, cursor.after, BATCH)
        .await?;
    let mut out = csv::Writer::from_writer(Vec::new());
    let csv_error = |e: csv::Error| StoreError::Corrupt(format!("writing CSV: {e}"));
    if std::mem::take(&mut cursor.header) {
        out.write_record(COLUMNS).map_err(csv_error)?;
    }
    for row in &rows {
        out.write_record(record(row)).map_err(csv_error)?;
    }
    cursor.after = rows.last().map(|e| AuditAfter {
        at: e.event.at,
        seq: e.seq,
    });
    let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) == BATCH;
    let bytes = out
        .into_inner()
        .map_err(|e| StoreError::Corrupt(format!("writing CSV: {e}")))?;
    Ok((Bytes::from(bytes), more))
}

fn record(e: &AuditEntry) -> [String; 12] {
    let ev = &e.event;
    let text = |v: &Option<String>| defuse(v.as_deref().unwrap_or_default());
    [
        e.seq.to_string(),
        defuse(&ev.id),
        ev.at.to_string(),
        defuse(&ev.kind),
        text(&ev.actor),
        text(&ev.client_id),
        text(&ev.user_id),
        text(&ev.grant_id),
        text(&ev.request_id),
        text(&ev.ip),
        text(&ev.user_agent),
        text(&ev.detail),
    ]
}

/// A cell a spreadsheet will not run as a formula.
fn defuse(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

#[cfg(test)]
#[path = "audit_csv_tests.rs"]
mod tests;
