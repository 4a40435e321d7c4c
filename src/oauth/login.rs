//! The end of a successful upstream login: remember the user and their consent, create (or
//! reuse) the grant, and issue our authorization code for the MCP client.

use serde_json::Value;

use super::crypto::{self, CODE_PREFIX};
use super::{Core, Error, Result};
use crate::store::{
    AuditEvent, AuthCodeRecord, AuthRequestRecord, ConsentRecord, GrantRecord, UserRecord,
};

/// The identity the upstream vouched for (ID token or user API, already verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamUser {
    /// Configured id of the upstream the user logged in at.
    pub upstream_id: String,
    /// The issuer that vouched for the user (the ID token's `iss`): with `subject`, the user's
    /// key (OIDC Core §5.7), so re-pointing an upstream id at another IdP never merges people.
    pub issuer: String,
    /// The upstream's stable subject (never the email).
    pub subject: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
}

impl UpstreamUser {
    /// The user `identity` names, signed in at the upstream `upstream_id`.
    #[must_use]
    pub fn new(upstream_id: &str, identity: &crate::idp::UpstreamIdentity) -> Self {
        Self {
            upstream_id: upstream_id.to_owned(),
            issuer: identity.issuer.clone(),
            subject: identity.subject.clone(),
            email: identity.email.clone(),
            name: identity.name.clone(),
            groups: identity.groups.clone(),
        }
    }

    /// The `users` row of a sign-in at `now` (a new id, which the store's upsert on (issuer,
    /// subject) keeps only for a first sign-in).
    #[must_use]
    pub fn record(&self, now: i64) -> UserRecord {
        UserRecord {
            id: uuid::Uuid::new_v4().to_string(),
            upstream_id: self.upstream_id.clone(),
            issuer: self.issuer.clone(),
            subject: self.subject.clone(),
            email: self.email.clone(),
            name: self.name.clone(),
            groups: self.groups.clone(),
            created_at: now,
            last_login_at: now,
        }
    }
}

/// Records the login and the consent given for `request`, and issues the authorization code
/// the callback redirects to the client with. Returns the plain code (stored only hashed).
///
/// `sealed_upstream_tokens` should be sealed with [`seal_upstream_tokens`] and the aad from
/// [`upstream_tokens_aad`], which stays valid when the store reuses an existing grant.
///
/// # Errors
/// Store failures (internal).
pub async fn finish_login(
    core: &Core,
    request: &AuthRequestRecord,
    user: &UpstreamUser,
    sealed_upstream_tokens: Option<String>,
    request_id: Option<String>,
) -> Result<String> {
    let now = core.now();
    // One transaction for the whole login: if the grant cannot be stored, neither the `login`
    // audit row nor the consent stays behind (STYLE 16, 21).
    let mut tx = core.store.begin().await?;
    let user_id = tx.upsert_user(&user.record(now)).await?;
    tx.insert_audit_event(
        &AuditEvent::new("login", now)
            .actor(user_id.clone())
            .user(user_id.clone())
            .client(request.client_id.clone())
            .request(request_id.clone())
            .detail(&serde_json::json!({ "upstream": user.upstream_id })),
    )
    .await?;
    tx.upsert_consent(&ConsentRecord {
        user_id: user_id.clone(),
        client_id: request.client_id.clone(),
        scope: request.scope.clone(),
        resource: request.resource.clone(),
        created_at: now,
    })
    .await?;

    // The store keeps one active grant per (user, client, resource) and attaches the code to it.
    let grant = GrantRecord {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: user_id.clone(),
        client_id: request.client_id.clone(),
        resource: request.resource.clone(),
        scope: request.scope.clone(),
        upstream_tokens: sealed_upstream_tokens,
        created_at: now,
        updated_at: now,
        revoked_at: None,
    };
    let code = crypto::new_secret(CODE_PREFIX);
    let code_record = AuthCodeRecord {
        code_hash: crypto::hash(&code),
        grant_id: grant.id.clone(),
        client_id: request.client_id.clone(),
        user_id: user_id.clone(),
        // Exactly the URI used at /authorize: the token request must repeat it if the client
        // sent it there (RFC 6749 §4.1.3).
        redirect_uri: request.redirect_uri.clone(),
        redirect_uri_sent: request.redirect_uri_sent,
        code_challenge: request.code_challenge.clone(),
        scope: request.scope.clone(),
        resource: request.resource.clone(),
        created_at: now,
        expires_at: now + core.settings.tokens.code_ttl,
        used_at: None,
        family_id: None,
    };
    let audit = AuditEvent::new("consented", now)
        .actor(user_id.clone())
        .user(user_id)
        .client(request.client_id.clone())
        .request(request_id)
        .detail(&serde_json::json!({ "scope": request.scope, "resource": request.resource }));
    let grant_id = tx
        .grant_and_issue_code(&grant, &code_record, &audit)
        .await?;
    if grant.upstream_tokens.is_some() {
        // The vault: these tokens are the upstream's, confirmed now.
        tx.bind_grant_upstream(&grant_id, &user.upstream_id, now)
            .await?;
    }
    tx.commit().await?;
    crate::metrics::flow(crate::metrics::Step::Code, "issued");
    Ok(code)
}

/// Additional data binding sealed upstream tokens to the grant's identity: (upstream, subject,
/// client, resource) names the one active grant, whatever its row id.
#[must_use]
pub fn upstream_tokens_aad(
    upstream_id: &str,
    subject: &str,
    client_id: &str,
    resource: &str,
) -> Vec<u8> {
    format!("upstream_tokens\0{upstream_id}\0{subject}\0{client_id}\0{resource}").into_bytes()
}

/// Seals an upstream token set (JSON) for storage on a grant.
///
/// # Errors
/// Sealing failure (internal).
pub fn seal_upstream_tokens(core: &Core, tokens: &Value, aad: &[u8]) -> Result<String> {
    let plain = serde_json::to_vec(tokens).map_err(Error::server)?;
    core.cipher.seal(&plain, aad).map_err(Error::server)
}

/// Opens what [`seal_upstream_tokens`] sealed.
///
/// # Errors
/// Wrong aad, unknown key or tampered value (internal).
pub fn open_upstream_tokens(core: &Core, sealed: &str, aad: &[u8]) -> Result<Value> {
    let plain = core.cipher.open(sealed, aad).map_err(Error::server)?;
    serde_json::from_slice(&plain).map_err(Error::server)
}

#[cfg(test)]
#[path = "login_tests.rs"]
mod tests;
