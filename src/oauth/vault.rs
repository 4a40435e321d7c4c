//! The upstream token vault tied to our refresh (docs/security.md, "Upstream token vault"):
//! before our refresh token grant issues new tokens, a grant whose upstream side is due (the
//! upstream access token expired, or `[upstreams.refresh] recheck_interval_seconds` passed
//! since the last confirmation) is refreshed upstream first, so a user disabled at the IdP
//! loses access at our next refresh.
//!
//! Once per grant, whatever the number of replicas and concurrent refreshes: the caller that
//! takes the grant's lease (a compare-and-set UPDATE, no transaction held across the HTTP call)
//! is the only one to send the upstream refresh token, and seals the new one before it releases
//! the lease; the others wait briefly for its result. So an upstream that rotates refresh tokens
//! (Okta) never sees one twice.

use std::time::Duration;

use secrecy::ExposeSecret as _;

use super::access::{self, ResourceAccess};
use super::login::upstream_tokens_aad;
use super::policy::Subject;
use super::upstreams::Upstream;
use super::{Core, Error, Result};
use crate::config::UpstreamRefresh;
use crate::idp::{IdpError, RefreshFailure, UpstreamIdentity, UpstreamTokens};
use crate::store::{AuditEvent, GrantRecord, UpstreamSession, UserRecord};

/// How long a lease lasts: beyond [`REFRESH_TIMEOUT`], so that it never expires while its holder
/// may still be talking to the upstream (a second caller would then send the same refresh
/// token).
const LEASE_SECONDS: i64 = 60;
/// The longest an upstream re-confirmation (discovery, JWKS, the token request and, for kinds
/// that ask their API who holds the token, those calls) may take.
const REFRESH_TIMEOUT: Duration = Duration::from_secs(40);
/// How long a caller that did not get the lease waits for the holder's result.
const WAIT_FOR_HOLDER: Duration = Duration::from_secs(45);
/// How often it looks.
const POLL: Duration = Duration::from_millis(100);

/// What the grant's upstream side needs now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Nothing: confirmed recently enough, or nothing to refresh with.
    No,
    /// Refresh upstream now.
    Now,
    /// Due, but a transient failure asked to wait until the back-off passes: decide by
    /// staleness.
    BackingOff,
}

/// Whether the upstream side is due at `now`. A token set without a refresh token (the IdP gave
/// none) is never due: nothing could refresh it, and `tokens.session_max_age` bounds the grant;
/// unless the kind `rechecks_without_refresh` (GitHub OAuth Apps: the API is asked with the
/// access token, which never expires), where the recheck interval applies as usual.
#[must_use]
pub fn due(
    tokens: &UpstreamTokens,
    rechecks_without_refresh: bool,
    confirmed_at: i64,
    retry_at: Option<i64>,
    settings: &UpstreamRefresh,
    now: i64,
) -> Due {
    due_within(
        tokens,
        rechecks_without_refresh,
        confirmed_at,
        retry_at,
        settings,
        now,
        0,
    )
}

/// [`due`], counting an access token that expires within `margin` seconds as expired: a token
/// handed out (token exchange, gateway injection) must still be good when its holder uses it.
#[must_use]
pub fn due_within(
    tokens: &UpstreamTokens,
    rechecks_without_refresh: bool,
    confirmed_at: i64,
    retry_at: Option<i64>,
    settings: &UpstreamRefresh,
    now: i64,
    margin: i64,
) -> Due {
    if tokens.refresh_token.is_none() && !rechecks_without_refresh {
        return Due::No;
    }
    let expired = tokens
        .expires_at
        .is_some_and(|at| at <= now.saturating_add(margin));
    let recheck = confirmed_at.saturating_add(secs(settings.recheck_interval_seconds)) <= now;
    if !expired && !recheck {
        Due::No
    } else if retry_at.is_some_and(|at| at > now) {
        Due::BackingOff
    } else {
        Due::Now
    }
}

/// Without a fresh confirmation: fine while the last one is within `max_staleness_seconds`,
/// else 503 `temporarily_unavailable`. RFC 6749 §5.2 has no code for "try later"; the
/// authorization endpoint's `temporarily_unavailable` (§4.1.2.1) with 503 tells the client its
/// refresh token is still good (nothing was rotated), where `invalid_grant` would make it
/// throw the token away and send the user to a sign-in the unreachable IdP cannot complete.
///
/// # Errors
/// `TemporarilyUnavailable` beyond the bound.
pub fn within_staleness(confirmed_at: i64, settings: &UpstreamRefresh, now: i64) -> Result<()> {
    if now.saturating_sub(confirmed_at) <= secs(settings.max_staleness_seconds) {
        Ok(())
    } else {
        Err(Error::TemporarilyUnavailable(
            "the identity provider cannot be reached to confirm the sign-in; try again later"
                .to_owned(),
        ))
    }
}

fn secs(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Brings the grant's upstream side up to date before our refresh issues tokens (see the
/// module comment). When the upstream's answer shows the user again (a refreshed ID token),
/// the access policies and the resource's scope grants are applied to them as at sign-in:
/// a user the policies no longer admit, or who lost a group one of `scope`'s scopes needs,
/// loses the grant (`policy_revoked`; refresh never widens, so nothing is narrowed in place).
///
/// # Errors
/// `invalid_grant` when the upstream ended the user's grant (ours is then revoked, with an
/// `upstream_revoked` audit event) or it was revoked meanwhile; `temporarily_unavailable` when
/// the upstream cannot confirm the user and the last confirmation is too old; store failures.
pub async fn ensure_current(
    core: &Core,
    grant: &GrantRecord,
    scope: &str,
    request_id: Option<&str>,
) -> Result<()> {
    current_tokens(core, grant, scope, request_id, 0)
        .await
        .map(|_| ())
}

/// [`ensure_current`] on the grant's upstream side and user as the caller read them (our
/// refresh reads both with its token, in one statement), so no store read happens here unless
/// a refresh is due.
///
/// # Errors
/// As [`ensure_current`].
pub async fn ensure_current_as_read(
    core: &Core,
    grant: &GrantRecord,
    session: &UpstreamSession,
    user: Option<&UserRecord>,
    scope: &str,
    request_id: Option<&str>,
) -> Result<()> {
    let Some(sealed) = session.sealed_tokens.as_deref() else {
        return Ok(());
    };
    let Some(user) = user else {
        return Err(Error::server(anyhow::anyhow!("grant without its user")));
    };
    let read = Read {
        session,
        sealed,
        user,
    };
    tokens_as_read(core, grant, &read, scope, request_id, 0)
        .await
        .map(|_| ())
}

/// What the vault decides on: the grant's upstream side, its sealed tokens, its user.
struct Read<'a> {
    session: &'a UpstreamSession,
    sealed: &'a str,
    user: &'a UserRecord,
}

/// The grant's upstream tokens, brought up to date first as [`ensure_current`] does, where an
/// access token expiring within `margin` seconds also counts as due: what token exchange and
/// the gateway's upstream token header hand to an MCP server (issue 13 item 5). The same lease,
/// so a hand-out and our refresh never send one upstream refresh token twice. `scope`: what
/// the grant's holder may obtain, for the scope grants at a re-confirmation.
///
/// `None` when the grant holds no upstream tokens, or none that could ever be confirmed (see
/// below). `Some` tokens may still be expired: the caller decides what an old token is worth
/// (kept after a transient upstream failure within `max_staleness_seconds`, or an upstream that
/// issued no refresh token).
///
/// # Errors
/// As [`ensure_current`].
pub async fn current_tokens(
    core: &Core,
    grant: &GrantRecord,
    scope: &str,
    request_id: Option<&str>,
    margin: i64,
) -> Result<Option<UpstreamTokens>> {
    let Some(session) = core.store.get_upstream_session(&grant.id).await? else {
        return Ok(None);
    };
    let Some(sealed) = session.sealed_tokens.as_deref() else {
        return Ok(None);
    };
    let Some(user) = core.store.get_user(&grant.user_id).await? else {
        return Err(Error::server(anyhow::anyhow!("grant without its user")));
    };
    let read = Read {
        session: &session,
        sealed,
        user: &user,
    };
    tokens_as_read(core, grant, &read, scope, request_id, margin).await
}

/// [`current_tokens`] after its reads.
async fn tokens_as_read(
    core: &Core,
    grant: &GrantRecord,
    read: &Read<'_>,
    scope: &str,
    request_id: Option<&str>,
    margin: i64,
) -> Result<Option<UpstreamTokens>> {
    let Read {
        session,
        sealed,
        user,
    } = *read;
    let upstream_id = session
        .upstream_id
        .clone()
        .unwrap_or_else(|| user.upstream_id.clone());
    // Grants stored before the vault have no confirmation time: their last login.
    let confirmed_at = session.checked_at.unwrap_or(grant.updated_at);
    // Where nothing could ever confirm the user (the upstream was removed from the
    // configuration, the tokens were sealed with a key no longer configured), the grant is
    // treated like one without an upstream refresh token: it lasts until session_max_age, and
    // the administrator revokes it if that is not wanted. Never a 503 that could not end.
    let Some(upstream) = core.upstreams.get(&upstream_id) else {
        tracing::warn!(upstream = %upstream_id, grant = %grant.id, "the grant's upstream is no longer configured; its standing cannot be confirmed");
        return Ok(None);
    };
    let aad = upstream_tokens_aad(
        &upstream_id,
        &user.subject,
        &grant.client_id,
        &grant.resource,
    );
    let tokens = match open(core, sealed, &aad) {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, grant = %grant.id, "the grant's upstream tokens cannot be opened; its standing cannot be confirmed");
            return Ok(None);
        }
    };
    let now = core.now();
    let due = due_within(
        &tokens,
        upstream.idp.rechecks_without_refresh(),
        confirmed_at,
        session.retry_at,
        &upstream.refresh,
        now,
        margin,
    );
    match due {
        Due::No => Ok(Some(tokens)),
        Due::BackingOff => {
            within_staleness(confirmed_at, &upstream.refresh, now)?;
            Ok(Some(tokens))
        }
        Due::Now => {
            let job = RefreshUpstream {
                core,
                upstream,
                grant,
                subject: &user.subject,
                aad: &aad,
                confirmed_at,
                scope,
                request_id,
            };
            let holder = super::crypto::random_b64(16);
            let fresh = if core
                .store
                .take_upstream_lease(&grant.id, &holder, sealed, now, now + LEASE_SECONDS)
                .await?
            {
                job.as_holder(&holder, &tokens).await?
            } else {
                job.wait_for_holder(session).await?
            };
            Ok(Some(fresh.unwrap_or(tokens)))
        }
    }
}

fn open(core: &Core, sealed: &str, aad: &[u8]) -> anyhow::Result<UpstreamTokens> {
    let plain = core.cipher.open(sealed, aad)?;
    Ok(UpstreamTokens::from_json(std::str::from_utf8(&plain)?)?)
}

/// One due upstream refresh of one grant.
struct RefreshUpstream<'a> {
    core: &'a Core,
    upstream: &'a Upstream,
    grant: &'a GrantRecord,
    subject: &'a str,
    aad: &'a [u8],
    confirmed_at: i64,
    /// The scope the refresh token being redeemed can obtain (its family's).
    scope: &'a str,
    request_id: Option<&'a str>,
}

impl RefreshUpstream<'_> {
    /// This caller holds the lease: refresh (where there is a refresh token), ask the upstream
    /// who holds the token where the kind can tell ([`crate::idp::UpstreamIdp::standing`]) and
    /// check the access policy again, then store the new tokens (releasing the lease) or act on
    /// the failure. The new tokens, or `None` after a transient failure within the staleness
    /// bound (the old ones stand).
    async fn as_holder(
        &self,
        holder: &str,
        tokens: &UpstreamTokens,
    ) -> Result<Option<UpstreamTokens>> {
        let idp = self.upstream.idp.as_ref();
        // Both calls together within the one bound, which the lease outlasts.
        let deadline = tokio::time::Instant::now() + REFRESH_TIMEOUT;
        let refreshed = match &tokens.refresh_token {
            Some(rt) => {
                bounded(
                    deadline,
                    idp.refresh_confirming(rt.expose_secret(), self.subject),
                )
                .await
            }
            None => Ok((tokens.clone(), None)),
        };
        let (fresh, confirmed) = match refreshed {
            Ok(refreshed) => refreshed,
            Err(failure) => return self.failed(holder, &failure, None).await,
        };
        let standing = bounded(deadline, idp.standing(&fresh.access_token)).await;
        // A refresh that rotated the tokens must keep the new ones whatever follows: the old
        // refresh token is dead at the upstream.
        let rotated = tokens.refresh_token.is_some();
        let identity = match standing {
            Ok(identity) => identity,
            Err(failure) => {
                return self
                    .failed(holder, &failure, rotated.then_some(&fresh))
                    .await
            }
        };
        let now = self.core.now();
        if let Some(identity) = &identity {
            if identity.subject != self.subject {
                return self.revoke("other_subject", None, now).await;
            }
        }
        // The user as the refreshed ID token (OpenID kinds) or the API (GitHub) shows them now,
        // under the upstream's and the resource's policy and the scope grants.
        for identity in [&confirmed, &identity].into_iter().flatten() {
            if let Some(reason) = self.no_longer_admitted(identity) {
                return self.revoke_for_policy(reason, now).await;
            }
        }
        let sealed = self.seal(&fresh)?;
        let stored = self
            .core
            .store
            .store_upstream_refresh(&self.grant.id, holder, &sealed, now)
            .await?;
        if stored {
            tracing::info!(upstream = %self.upstream.id, grant = %self.grant.id, "upstream refresh confirmed the user");
        } else {
            // A new login replaced the tokens (or the grant went) meanwhile: its state
            // stands, and the next refresh reads it.
            tracing::info!(upstream = %self.upstream.id, grant = %self.grant.id, "upstream lease lost before the refreshed tokens were stored");
        }
        Ok(Some(fresh))
    }

    fn seal(&self, tokens: &UpstreamTokens) -> Result<String> {
        self.core
            .cipher
            .seal(tokens.to_json().as_bytes(), self.aad)
            .map_err(Error::server)
    }

    /// A failed re-confirmation: revoke when the failure ends the user's grant; else keep the
    /// grant, back off, and answer within `max_staleness_seconds`. `rotated`: tokens the
    /// upstream issued before the failure (a refresh that worked, then the user API did not),
    /// stored without counting as a confirmation.
    async fn failed(
        &self,
        holder: &str,
        failure: &IdpError,
        rotated: Option<&UpstreamTokens>,
    ) -> Result<Option<UpstreamTokens>> {
        let now = self.core.now();
        if let Some(reason) = self.ends_grant(failure) {
            let description = match failure {
                IdpError::Rejected { description, .. } => description.clone(),
                _ => None,
            };
            tracing::info!(upstream = %self.upstream.id, grant = %self.grant.id, error = %failure, "the upstream ended the user's grant; revoking ours");
            return self.revoke(reason, description, now).await;
        }
        tracing::warn!(upstream = %self.upstream.id, grant = %self.grant.id, error = %failure, "upstream re-confirmation failed; the grant is kept");
        let retry_at = now.saturating_add(secs(self.upstream.refresh.retry_interval_seconds));
        let mut holder = holder.to_owned();
        if let Some(fresh) = rotated {
            // Stored under the old confirmation time; then the lease is taken again only to
            // set the back-off.
            let sealed = self.seal(fresh)?;
            let store = &self.core.store;
            if !store
                .store_upstream_refresh(&self.grant.id, &holder, &sealed, self.confirmed_at)
                .await?
            {
                return within_staleness(self.confirmed_at, &self.upstream.refresh, now)
                    .map(|()| rotated.cloned());
            }
            holder = super::crypto::random_b64(16);
            if !store
                .take_upstream_lease(&self.grant.id, &holder, &sealed, now, now + LEASE_SECONDS)
                .await?
            {
                return within_staleness(self.confirmed_at, &self.upstream.refresh, now)
                    .map(|()| rotated.cloned());
            }
        }
        self.core
            .store
            .release_upstream_lease(&self.grant.id, &holder, retry_at)
            .await?;
        within_staleness(self.confirmed_at, &self.upstream.refresh, now).map(|()| rotated.cloned())
    }

    /// The upstream error's code when it ends the user's grant: an OAuth error the kind reads
    /// so, or a refreshed ID token for another subject. An ID token that does not verify
    /// (clock skew, a key not yet published) proves nothing about the user either way: it is
    /// retried like an outage, within `max_staleness_seconds`.
    fn ends_grant<'e>(&self, e: &'e IdpError) -> Option<&'e str> {
        match e {
            IdpError::Rejected { error, description } => {
                let read = self
                    .upstream
                    .idp
                    .classify_refresh_error(error, description.as_deref());
                (read == RefreshFailure::Revoked).then_some(error.as_str())
            }
            IdpError::OtherSubject => Some("other_subject"),
            IdpError::InvalidIdToken(_)
            | IdpError::Discovery(_)
            | IdpError::Unavailable(_)
            | IdpError::Config(_) => None,
        }
    }

    /// Revokes our grant (every family under it) with an `upstream_revoked` audit event naming
    /// the reason (the upstream's error code, or the access policy's refusal); our refresh
    /// answers `invalid_grant`.
    async fn revoke(
        &self,
        reason: &str,
        description: Option<String>,
        now: i64,
    ) -> Result<Option<UpstreamTokens>> {
        let audit = AuditEvent::new("upstream_revoked", now)
            .actor(self.grant.user_id.clone())
            .client(self.grant.client_id.clone())
            .grant(self.grant.id.clone())
            .request(self.request_id.map(str::to_owned))
            .detail(&serde_json::json!({
                "upstream": self.upstream.id,
                "upstream_error": reason,
                // The upstream's own words (bounded), for the administrator; never sent to the
                // client.
                "upstream_error_description": description.map(|d| d.chars().take(200).collect::<String>()),
            }));
        self.core
            .store
            .revoke_grant(&self.grant.id, now, &audit)
            .await?;
        Err(ended())
    }

    /// Why the re-confirmed user may no longer hold this grant, if so: a refusal of the
    /// upstream's or the resource's policy, or `scope_not_granted` when a scope the refresh token
    /// carries is reserved to groups the user has left.
    fn no_longer_admitted(&self, identity: &UpstreamIdentity) -> Option<&'static str> {
        let subject = Subject::from(identity);
        let resource = self.core.settings.resource_by_uri(&self.grant.resource);
        let no_access = ResourceAccess::default();
        let access = resource.map_or(&no_access, |r| &r.access);
        if let Err(denial) = access::admit(&self.upstream.policy, &access.policy, subject) {
            return Some(denial.reason());
        }
        let decision = access::decide_scope(self.scope, &access.scope_grants, subject);
        (!decision.withheld.is_empty()).then_some("scope_not_granted")
    }

    /// Revokes our grant because the access policy no longer admits the user (audit
    /// `policy_revoked` with the reason, in the revocation's transaction); our refresh answers
    /// `invalid_grant`, and the user's next sign-in is decided afresh.
    async fn revoke_for_policy(&self, reason: &str, now: i64) -> Result<Option<UpstreamTokens>> {
        tracing::info!(upstream = %self.upstream.id, grant = %self.grant.id, reason, "the access policy no longer admits the user; revoking the grant");
        let audit = AuditEvent::new("policy_revoked", now)
            .actor(self.grant.user_id.clone())
            .user(self.grant.user_id.clone())
            .client(self.grant.client_id.clone())
            .grant(self.grant.id.clone())
            .request(self.request_id.map(str::to_owned))
            .detail(&serde_json::json!({
                "upstream": self.upstream.id,
                "resource": self.grant.resource,
                "reason": reason,
            }));
        self.core
            .store
            .revoke_grant(&self.grant.id, now, &audit)
            .await?;
        Err(Error::InvalidGrant(
            "the access policy no longer admits this account; sign in again".to_owned(),
        ))
    }

    /// Another caller holds the lease, or refreshed since this one read the grant: wait for its
    /// result and use it (its new tokens; `None` when it failed transiently and the old ones
    /// stand).
    async fn wait_for_holder(&self, before: &UpstreamSession) -> Result<Option<UpstreamTokens>> {
        let started = tokio::time::Instant::now();
        loop {
            tokio::time::sleep(POLL).await;
            let now = self.core.now();
            let Some(s) = self.core.store.get_upstream_session(&self.grant.id).await? else {
                return Err(ended());
            };
            if s.revoked_at.is_some() {
                return Err(ended());
            }
            let held = s.lease_until.is_some_and(|until| until > now);
            if !held {
                // New tokens (sealing is randomised: any write differs) mean a confirmation.
                if s.sealed_tokens != before.sealed_tokens {
                    return Ok(s
                        .sealed_tokens
                        .as_deref()
                        .and_then(|sealed| open(self.core, sealed, self.aad).ok()));
                }
                // The holder failed transiently: the same bound as for it.
                let confirmed = s.checked_at.unwrap_or(self.confirmed_at);
                return within_staleness(confirmed, &self.upstream.refresh, now).map(|()| None);
            }
            if started.elapsed() >= WAIT_FOR_HOLDER {
                return within_staleness(self.confirmed_at, &self.upstream.refresh, now)
                    .map(|()| None);
            }
        }
    }
}

/// `call` until `deadline`; a timeout is an unavailable upstream.
async fn bounded<T>(
    deadline: tokio::time::Instant,
    call: impl std::future::Future<Output = std::result::Result<T, IdpError>>,
) -> std::result::Result<T, IdpError> {
    tokio::time::timeout_at(deadline, call)
        .await
        .unwrap_or_else(|_| {
            Err(IdpError::Unavailable(
                "the upstream re-confirmation timed out".to_owned(),
            ))
        })
}

fn ended() -> Error {
    Error::InvalidGrant("the identity provider ended this sign-in; sign in again".to_owned())
}

#[cfg(test)]
#[path = "vault_tests.rs"]
mod tests;
