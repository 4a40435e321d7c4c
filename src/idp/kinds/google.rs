//! `kind = "google"`: Google accounts and Google Workspace (UPSTREAMS §3, COMPAT U3).

use super::{
    generic_refresh_failure, generic_refusal, standard_identity, IdpError, Quirks, RefreshFailure,
    TokenClaims, UpstreamIdentity, UpstreamRefusal,
};
use crate::config::{UpstreamConfig, UpstreamKind};

/// Google.
#[derive(Debug, Clone, Default)]
pub struct Google {
    /// The one Workspace domain of `allowed_hosted_domains`, sent as the `hd` hint.
    hd_hint: Option<String>,
}

impl Google {
    /// The hooks for `config`: with exactly one allowed hosted domain, its `hd` hint.
    #[must_use]
    pub fn new(config: &UpstreamConfig) -> Self {
        let domains = &config.policy.allowed_hosted_domains;
        Self {
            hd_hint: (domains.len() == 1).then(|| domains[0].clone()),
        }
    }
}

impl Quirks for Google {
    fn kind(&self) -> UpstreamKind {
        UpstreamKind::Google
    }

    /// `offline_access` is not a Google scope: Google answers "Error 400: invalid_scope" and
    /// the user never gets to sign in. Google's way to a refresh token is `access_type=offline`
    /// (below), so the default scope list works unchanged.
    fn authorize_scopes(
        &self,
        configured: &[String],
        _supported: Option<&[String]>,
    ) -> Vec<String> {
        configured
            .iter()
            .filter(|s| *s != "offline_access")
            .cloned()
            .collect()
    }

    /// Google issues a refresh token only for `access_type=offline`, and only at the user's
    /// first consent unless `prompt=consent` asks again: without both, a second sign-in has no
    /// refresh token and the grant cannot be refreshed upstream (UPSTREAMS §3.2).
    fn authorize_params(&self) -> &'static [(&'static str, &'static str)] {
        &[("access_type", "offline"), ("prompt", "consent")]
    }

    /// `hd=<domain>` when exactly one Workspace domain is allowed: Google then offers only that
    /// domain's accounts on its account chooser. Only a hint (the user can edit the URL): the
    /// policy checks the ID token's `hd` claim (UPSTREAMS §3.4, oauth2-proxy#2363).
    fn authorize_hints(&self) -> Vec<(String, String)> {
        self.hd_hint
            .iter()
            .map(|d| ("hd".to_owned(), d.clone()))
            .collect()
    }

    /// The standard claims, plus the Workspace domain from the verified `hd` claim (absent for
    /// consumer accounts).
    fn identity(&self, claims: &TokenClaims<'_>) -> Result<UpstreamIdentity, IdpError> {
        let mut identity = standard_identity(claims, claims.subject.to_owned());
        identity.hosted_domain = claims
            .extra
            .hd
            .as_deref()
            .filter(|d| !d.is_empty())
            .map(str::to_ascii_lowercase);
        Ok(identity)
    }

    /// Google documents `accounts.google.com` (no scheme) as a legacy `iss` value next to
    /// `https://accounts.google.com`; ID tokens with either have been seen (UPSTREAMS §3.1,
    /// coreos/go-oidc#125). Only the scheme may be missing; host and path must match.
    fn check_issuer(&self, discovered: &str, claims: &TokenClaims<'_>) -> Result<(), IdpError> {
        let without_scheme = discovered.strip_prefix("https://");
        if claims.issuer == discovered || without_scheme == Some(claims.issuer) {
            Ok(())
        } else {
            Err(IdpError::InvalidIdToken(format!(
                "iss {:?} is not Google's issuer {discovered:?}",
                claims.issuer
            )))
        }
    }

    fn classify_error(&self, error: &str, description: Option<&str>) -> UpstreamRefusal {
        match error {
            // A Workspace administrator restricted third-party access to this application.
            "admin_policy_enforced" => UpstreamRefusal::refused(
                "your Google Workspace administrator does not allow this application; ask them to trust it",
            ),
            // The OAuth app's user type is "Internal": only its own Workspace may sign in.
            "org_internal" => UpstreamRefusal::refused(
                "this application accepts only accounts of its own Google Workspace organisation",
            ),
            _ => generic_refusal(error, description),
        }
    }

    /// Google answers a revoked, expired (six months unused, the Testing status's 7 days) or
    /// evicted refresh token with `invalid_grant` ("Token has been expired or revoked."), the
    /// generic case; a Workspace administrator who blocks the application later makes refreshes
    /// fail with `admin_policy_enforced`, which also ends the grant.
    fn classify_refresh_error(&self, error: &str, description: Option<&str>) -> RefreshFailure {
        match error {
            "admin_policy_enforced" => RefreshFailure::Revoked,
            _ => generic_refresh_failure(error, description),
        }
    }
}
