//! The connected apps of the signed-in user, as the page shows them, and "Remove access": the
//! grant and every token family under it revoked at once, audited as the user's own action in
//! the same transaction.

use serde::Serialize;

use super::{Account, Session};
use crate::oauth::flow::display_host;
use crate::oauth::{cimd, Result};
use crate::store::{AuditEvent, ClientKind, ConnectedApp};

/// One connected app on the page. Every text is the client's or the store's: the template
/// autoescapes it.
#[derive(Debug, Serialize)]
pub struct AppView {
    /// The grant's id, which the "Remove access" form posts.
    pub grant_id: String,
    pub client_name: String,
    /// `dcr`, `cimd`, `static`, or `unknown`.
    pub kind: &'static str,
    /// What the kind means for the name's trustworthiness, in words.
    pub kind_label: String,
    /// `host[:port]` (or `scheme:`) of the client's first redirect URI: where its sign-ins
    /// return. Logos are not shown: a client-chosen image URL would tell its owner when the
    /// user looked at this page.
    pub redirect_host: String,
    /// How many more redirect URIs it has.
    pub more_redirects: usize,
    /// The resource (MCP server) URI.
    pub resource: String,
    /// The resource's configured id, when it is still configured.
    pub resource_name: Option<String>,
    pub scopes: Vec<String>,
    /// First connected (the grant's creation), HTTP date.
    pub connected: String,
    /// Last token issued or refreshed, HTTP date; `None`: not since tracking began.
    pub last_used: Option<String>,
}

/// The outcome of "Remove access".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removed {
    /// Revoked, with its token families.
    Revoked,
    /// No active grant of this user has that id (another user's grants look the same).
    NotFound,
}

impl Account<'_> {
    /// The signed-in user's active grants, newest first.
    ///
    /// # Errors
    /// Store failures (internal).
    pub async fn apps(&self, session: &Session) -> Result<Vec<AppView>> {
        let apps = self
            .core
            .store
            .list_connected_apps(&session.user_id)
            .await?;
        Ok(apps.into_iter().map(|a| self.view(a)).collect())
    }

    fn view(&self, app: ConnectedApp) -> AppView {
        let client_id = app.grant.client_id.clone();
        let (kind, kind_label) = match app.client_kind {
            Some(ClientKind::Dcr) => (
                "dcr",
                "Registered itself: the name is the application's own claim".to_owned(),
            ),
            Some(ClientKind::Cimd) => (
                "cimd",
                cimd::verified_domain(&client_id).map_or_else(
                    || "Published its own metadata document".to_owned(),
                    |d| format!("Published by {d}"),
                ),
            ),
            Some(ClientKind::Static) => ("static", "Configured by your administrator".to_owned()),
            None => ("unknown", "No longer registered".to_owned()),
        };
        let resource_name = self
            .core
            .settings
            .resource_by_uri(&app.grant.resource)
            .map(|r| r.id.clone());
        AppView {
            client_name: app
                .client_name
                .unwrap_or_else(|| "An unnamed application".to_owned()),
            kind,
            kind_label,
            redirect_host: app
                .redirect_uris
                .first()
                .map(|u| display_host(u))
                .unwrap_or_default(),
            more_redirects: app.redirect_uris.len().saturating_sub(1),
            resource_name,
            scopes: app
                .grant
                .scope
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            connected: http_date(app.grant.created_at),
            last_used: app.last_used_at.map(http_date),
            resource: app.grant.resource,
            grant_id: app.grant.id,
        }
    }

    /// "Remove access": revokes the user's grant `grant_id` and every token family under it,
    /// with an `account_grant_revoked` audit event, in one transaction. Refresh tokens fail at
    /// once; access tokens at the gateway within its revocation bound.
    ///
    /// # Errors
    /// Store failures (internal); nothing is revoked then.
    pub async fn remove(
        &self,
        session: &Session,
        grant_id: &str,
        request_id: Option<String>,
    ) -> Result<Removed> {
        let now = self.core.now();
        let mut tx = self.core.store.begin().await?;
        let grant = match tx.get_grant(grant_id).await? {
            // Someone else's grant is "not found" too: its existence is not this user's business.
            Some(g) if g.user_id == session.user_id && g.revoked_at.is_none() => g,
            _ => return Ok(Removed::NotFound),
        };
        let audit = AuditEvent::new("account_grant_revoked", now)
            .actor(session.user_id.clone())
            .client(grant.client_id.clone())
            .grant(grant.id.clone())
            .request(request_id)
            .detail(&serde_json::json!({ "resource": grant.resource }));
        if !tx.revoke_grant(&grant.id, now, &audit).await? {
            return Ok(Removed::NotFound);
        }
        tx.commit().await?;
        tracing::info!(grant_id = %grant.id, client_id = %grant.client_id, "user removed a connected app");
        Ok(Removed::Revoked)
    }
}

/// Unix seconds as an HTTP date (`Mon, 07 Dec 2026 17:23:39 GMT`); the epoch for a negative
/// time.
fn http_date(at: i64) -> String {
    let secs = u64::try_from(at).unwrap_or(0);
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs))
}

#[cfg(test)]
#[path = "apps_tests.rs"]
mod tests;
