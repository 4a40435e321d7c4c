//! `/admin/v1/users`: who signed in through which upstream, their grants, and revoking all of
//! them at once ("revoke everything this laptop had").

use axum::extract::State;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::auth::AdminCaller;
use super::error::{AdminError, AdminPath, AdminQuery};
use super::grants::{list_page, revoke_all, GrantView, RevokedCount};
use super::pagination::{self, List, Page};
use super::responses::{BadRequest, Forbidden, NotFound, Unauthorized};
use crate::app::AppState;
use crate::store::{GrantFilter, UserRecord};

/// A person as an upstream identified them. Times are Unix seconds.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "0b9d4c1e-8f2a-4e6b-a7c3-5d1f9e2b8a60", "upstream_id": "corp",
    "issuer": "https://login.example.com", "subject": "00u1a2b3c4", "email": "alice@example.com",
    "groups": ["engineering"], "created_at": 1_765_000_000, "last_login_at": 1_765_003_600
}))]
pub struct UserView {
    pub id: String,
    /// The configured upstream the user last signed in through.
    pub upstream_id: String,
    /// The issuer that vouched for `subject`.
    pub issuer: String,
    /// The upstream's stable subject.
    pub subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub groups: Vec<String>,
    pub created_at: i64,
    pub last_login_at: i64,
}

impl From<UserRecord> for UserView {
    fn from(u: UserRecord) -> Self {
        Self {
            id: u.id,
            upstream_id: u.upstream_id,
            issuer: u.issuer,
            subject: u.subject,
            email: u.email,
            name: u.name,
            groups: u.groups,
            created_at: u.created_at,
            last_login_at: u.last_login_at,
        }
    }
}

/// Page parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The user id path parameter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct UserId {
    pub user_id: String,
}

/// Query of the users list: a page, and an optional search.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Page size, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page (of the same search).
    pub cursor: Option<String>,
    /// Only users whose id or upstream subject is this, or whose email contains it
    /// (case-insensitively), 1 to 320 characters.
    #[param(min_length = 1, max_length = 320)]
    pub q: Option<String>,
}

/// List users, newest first; with `q`, only those it finds.
#[utoipa::path(get, path = "/admin/v1/users", operation_id = "list_users", tag = "users",
    params(UserListQuery),
    responses(
        (status = 200, description = "One page of users", body = Page<UserView>),
        BadRequest, Unauthorized,
    ))]
pub async fn list(
    State(state): State<AppState>,
    AdminQuery(q): AdminQuery<UserListQuery>,
) -> Result<Json<Page<UserView>>, AdminError> {
    let page = pagination::request(List::Users, q.limit, q.cursor.as_deref())?;
    let rows = match q.q.as_deref().map(str::trim) {
        None => state.core.store.list_users(&page).await?,
        Some(term) if (1..=320).contains(&term.chars().count()) => {
            state.core.store.search_users(term, &page).await?
        }
        Some(_) => {
            return Err(AdminError::BadRequest(
                "q must be 1 to 320 characters (spaces at either end are ignored)".to_owned(),
            ))
        }
    };
    Ok(Json(pagination::page(
        List::Users,
        &page,
        rows,
        |u| (u.created_at, u.id.as_str()),
        UserView::from,
    )))
}

/// Get one user.
#[utoipa::path(get, path = "/admin/v1/users/{user_id}", operation_id = "get_user", tag = "users",
    params(UserId),
    responses(
        (status = 200, description = "The user", body = UserView),
        Unauthorized, NotFound,
    ))]
pub async fn get(
    State(state): State<AppState>,
    AdminPath(id): AdminPath<String>,
) -> Result<Json<UserView>, AdminError> {
    let user = state.core.store.get_user(&id).await?.ok_or_else(no_user)?;
    Ok(Json(user.into()))
}

/// List a user's grants, newest first.
#[utoipa::path(get, path = "/admin/v1/users/{user_id}/grants", operation_id = "list_user_grants", tag = "users",
    params(UserId, PageQuery),
    responses(
        (status = 200, description = "One page of the user's grants", body = Page<GrantView>),
        BadRequest, Unauthorized, NotFound,
    ))]
pub async fn grants(
    State(state): State<AppState>,
    AdminPath(id): AdminPath<String>,
    AdminQuery(q): AdminQuery<PageQuery>,
) -> Result<Json<Page<GrantView>>, AdminError> {
    state.core.store.get_user(&id).await?.ok_or_else(no_user)?;
    let filter = GrantFilter {
        user_id: Some(id),
        ..GrantFilter::default()
    };
    list_page(&state, &filter, q.limit, q.cursor.as_deref()).await
}

/// Revoke every active grant of a user: their refresh tokens fail at once, their access tokens
/// at the gateway within its revocation bound.
#[utoipa::path(delete, path = "/admin/v1/users/{user_id}/grants", operation_id = "revoke_user_grants", tag = "users",
    params(UserId),
    responses(
        (status = 200, description = "How many grants were revoked", body = RevokedCount),
        Unauthorized, Forbidden, NotFound,
    ))]
pub async fn revoke_grants(
    State(state): State<AppState>,
    Extension(caller): Extension<AdminCaller>,
    AdminPath(id): AdminPath<String>,
) -> Result<Json<RevokedCount>, AdminError> {
    let core = &state.core;
    let user = core.store.get_user(&id).await?.ok_or_else(no_user)?;
    let mut tx = core.store.begin().await?;
    let revoked = revoke_all(tx.as_mut(), &caller, core.now(), Some(&user.id), None).await?;
    tx.commit().await?;
    Ok(Json(RevokedCount { revoked }))
}

fn no_user() -> AdminError {
    AdminError::NotFound("no user with this id".to_owned())
}
