//! Finding users by email or subject. The store lists users in keyset pages without a text
//! filter, so the search reads the newest [`MAX_SCANNED`] users through the admin API's own
//! list and keeps the matches; the page says when older users were not searched.

use axum::extract::State;
use axum::Json;

use super::render::Refusal;
use crate::admin::error::AdminQuery;
use crate::admin::users::{self, PageQuery, UserView};
use crate::app::AppState;

/// Rows read per page of the scan (the API's largest page).
const SCAN_PAGE: u32 = 500;
/// Most users one search reads.
pub const MAX_SCANNED: usize = 20_000;
/// Most matches shown.
const MAX_FOUND: usize = 200;

/// Users whose email contains `term` (case-insensitively) or whose subject or id is `term`;
/// and whether every user was searched.
///
/// # Errors
/// Store failures.
pub async fn users(state: &AppState, term: &str) -> Result<(Vec<UserView>, bool), Refusal> {
    let needle = term.trim().to_lowercase();
    let mut found = Vec::new();
    let mut cursor = None;
    let mut scanned = 0;
    loop {
        let Json(page) = users::list(
            State(state.clone()),
            AdminQuery(PageQuery {
                limit: Some(SCAN_PAGE),
                cursor,
            }),
        )
        .await?;
        scanned += page.items.len();
        for user in page.items {
            if matches(&user, term.trim(), &needle) && found.len() < MAX_FOUND {
                found.push(user);
            }
        }
        match page.next_cursor {
            None => return Ok((found, true)),
            Some(_) if scanned >= MAX_SCANNED || found.len() >= MAX_FOUND => {
                return Ok((found, false))
            }
            next => cursor = next,
        }
    }
}

fn matches(user: &UserView, term: &str, needle: &str) -> bool {
    user.subject == term
        || user.id == term
        || user
            .email
            .as_deref()
            .is_some_and(|e| e.to_lowercase().contains(needle))
}
