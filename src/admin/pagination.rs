//! Cursor pagination of admin lists: the opaque cursor, the page size, and the page body.
//!
//! A cursor is base64url of `<list>:<created_at>:<id>`, the last row of the page before: the
//! store resumes after it ([`PageAfter`]), newest first (audit events: `<at>:<seq>`). The list name makes a cursor of one
//! list useless on another (400 instead of a silently wrong page). Clients must treat it as
//! opaque; the encoding may change.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::AdminError;
use crate::store::{PageAfter, PageRequest};

/// Page size when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 50;
/// Largest page size accepted.
pub const MAX_LIMIT: u32 = 500;

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    /// The rows, newest first.
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// Which list a cursor belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    Clients,
    Users,
    Grants,
    AuditEvents,
}

impl List {
    fn tag(self) -> &'static str {
        match self {
            Self::Clients => "clients",
            Self::Users => "users",
            Self::Grants => "grants",
            Self::AuditEvents => "audit-events",
        }
    }
}

/// The store request for `limit` and `cursor` as the client sent them. One row more than the
/// page is asked for, so [`page`] knows whether another page follows.
///
/// # Errors
/// 400 for a limit out of range or a cursor that is not one of this list's.
pub fn request(
    list: List,
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<PageRequest, AdminError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(AdminError::BadRequest(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        )));
    }
    let after = cursor.map(|c| decode(list, c)).transpose()?;
    Ok(PageRequest {
        after,
        limit: i64::from(limit) + 1,
    })
}

/// The page body from the rows the store returned for [`request`]: at most `limit - 1` of
/// them, with the cursor of the last one when more followed.
pub fn page<R, T>(
    list: List,
    request: &PageRequest,
    mut rows: Vec<R>,
    key: impl Fn(&R) -> (i64, &str),
    view: impl Fn(R) -> T,
) -> Page<T> {
    let size = usize::try_from(request.limit - 1).unwrap_or(usize::MAX);
    let more = rows.len() > size;
    rows.truncate(size);
    let next_cursor = if more {
        rows.last().map(|r| {
            let (created_at, id) = key(r);
            encode(list, created_at, id)
        })
    } else {
        None
    };
    Page {
        items: rows.into_iter().map(view).collect(),
        next_cursor,
    }
}

/// The answer to a cursor that is not one this list handed out.
pub fn invalid_cursor() -> AdminError {
    AdminError::BadRequest("invalid cursor: pass next_cursor unchanged".to_owned())
}

fn encode(list: List, created_at: i64, id: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}:{created_at}:{id}", list.tag()))
}

fn decode(list: List, cursor: &str) -> Result<PageAfter, AdminError> {
    let bad = invalid_cursor;
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let mut parts = text.splitn(3, ':');
    let (Some(tag), Some(created_at), Some(id)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad());
    };
    if tag != list.tag() || id.is_empty() {
        return Err(bad());
    }
    Ok(PageAfter {
        created_at: created_at.parse().map_err(|_| bad())?,
        id: id.to_owned(),
    })
}

#[cfg(test)]
#[path = "pagination_tests.rs"]
mod tests;
