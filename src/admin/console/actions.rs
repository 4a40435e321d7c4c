//! The console's actions (form POSTs, each checked by [`Posted`]): disable, enable or delete a
//! client, revoke a client's or a user's grants, revoke one grant. Each calls the admin API's
//! handler with the operator's caller, so it is audited with the admin token's name exactly as
//! the API audits it, then redirects (303) to the page that shows the outcome.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Json};

use super::guard::Posted;
use super::render::{segment, Refusal};
use super::Console;
use crate::admin::client_write::{self, ClientPatch};
use crate::admin::clients;
use crate::admin::error::{AdminJson, AdminPath};
use crate::admin::{grants, users};

/// `disable`, `enable`, `delete` or `revoke-grants` on a client.
pub async fn client(
    State(c): State<Console>,
    path: Result<Path<(String, String)>, PathRejection>,
    posted: Posted,
) -> Result<Response, Refusal> {
    let Path((id, action)) = path.map_err(|_| Refusal::bad_request("malformed client id"))?;
    let app = State(c.app.clone());
    let caller = Extension(posted.operator.caller);
    let page = format!("/admin/clients/{}", segment(&id));
    let to = match action.as_str() {
        "disable" | "enable" => {
            let disabled = action == "disable";
            let change = ClientPatch {
                disabled: Some(disabled),
                client_name: None,
                redirect_uris: None,
                upstream_id: None,
            };
            let _changed =
                client_write::patch(app, caller, AdminPath(id), AdminJson(change)).await?;
            format!("{page}?done={action}d")
        }
        "delete" => {
            clients::delete(app, caller, AdminPath(id)).await?;
            "/admin/clients?done=deleted".to_owned()
        }
        "revoke-grants" => {
            let Json(n) = clients::revoke_grants(app, caller, AdminPath(id)).await?;
            format!("{page}?done=revoked&n={}", n.revoked)
        }
        _ => {
            return Err(Refusal::Page(
                axum::http::StatusCode::NOT_FOUND,
                "no such client action".to_owned(),
            ))
        }
    };
    Ok(Redirect::to(&to).into_response())
}

/// Revokes every active grant of a user.
pub async fn revoke_user_grants(
    State(c): State<Console>,
    path: Result<Path<String>, PathRejection>,
    posted: Posted,
) -> Result<Response, Refusal> {
    let Path(id) = path.map_err(|_| Refusal::bad_request("malformed user id"))?;
    let to = format!("/admin/users/{}", segment(&id));
    let Json(n) = users::revoke_grants(
        State(c.app.clone()),
        Extension(posted.operator.caller),
        AdminPath(id),
    )
    .await?;
    Ok(Redirect::to(&format!("{to}?done=revoked&n={}", n.revoked)).into_response())
}

/// Revokes one grant, then back to the page the form names (a console path), else the grants.
pub async fn revoke_grant(
    State(c): State<Console>,
    path: Result<Path<String>, PathRejection>,
    posted: Posted,
) -> Result<Response, Refusal> {
    let Path(id) = path.map_err(|_| Refusal::bad_request("malformed grant id"))?;
    grants::revoke(
        State(c.app.clone()),
        Extension(posted.operator.caller),
        AdminPath(id),
    )
    .await?;
    let back = posted
        .form
        .get("back")
        .filter(|b| local(b))
        .unwrap_or("/admin/grants");
    let sep = if back.contains('?') { '&' } else { '?' };
    Ok(Redirect::to(&format!("{back}{sep}done=revoked")).into_response())
}

/// A path of this console only: no scheme, no host, no `//` or `\` that a browser might
/// read as another host (open redirect).
fn local(path: &str) -> bool {
    path.starts_with("/admin/")
        && !path.contains("//")
        && !path.contains('\\')
        && path.bytes().all(|b| b.is_ascii_graphic())
        && path.len() <= 4096
}

#[cfg(test)]
#[path = "actions_tests.rs"]
mod tests;
