//! Upstream kinds (`kind = "oidc" | "okta" | "entra" | "google"`): what one identity provider
//! needs beyond generic OpenID Connect, as hooks the generic client ([`super::oidc`]) calls.
//! (`kind = "github"` is not OpenID Connect: it implements `UpstreamIdp` itself, in
//! [`super::github`].)
//! One file per kind; every quirk names the IdP error it avoids. The generic client itself knows
//! no IdP by name.

mod entra;
mod generic;
mod google;
mod okta;

use std::fmt::Debug;

use super::{ExtraClaims, IdpError, UpstreamIdentity};
use crate::config::{UpstreamConfig, UpstreamKind};

pub use entra::Entra;
pub use generic::Generic;
pub use google::Google;
pub use okta::Okta;

/// The standard and extra claims of a verified ID token, as a kind maps them to a user.
#[derive(Debug, Clone, Copy)]
pub struct TokenClaims<'a> {
    /// `iss`.
    pub issuer: &'a str,
    /// `sub`.
    pub subject: &'a str,
    /// `email`.
    pub email: Option<&'a str>,
    /// `email_verified`.
    pub email_verified: Option<bool>,
    /// `name`.
    pub name: Option<&'a str>,
    /// Claims beyond the standard set (`groups`, `tid`, `oid`, `hd`).
    pub extra: &'a ExtraClaims,
}

/// What the user is told when the upstream answers the authorization request with an error
/// (RFC 6749 §4.1.2.1). The upstream's own `error_description` is never shown: it may be
/// attacker-influenced text; the kind turns what it recognises into our own words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamRefusal {
    /// Trying again later may work (`temporarily_unavailable`, `server_error`).
    pub transient: bool,
    /// The page text (and the client's `error_description`).
    pub message: String,
}

impl UpstreamRefusal {
    fn refused(message: impl Into<String>) -> Self {
        Self {
            transient: false,
            message: message.into(),
        }
    }
}

/// What an OAuth error from the upstream token endpoint on refresh (RFC 6749 §5.2) means for
/// our grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshFailure {
    /// The user's upstream grant is over (refresh token revoked or expired, user disabled or
    /// removed, sign-in required again): our grant is revoked.
    Revoked,
    /// Not the user's standing: the upstream is in trouble, or our own client registration
    /// there is (a secret that expired must not revoke every grant). The grant is kept, within
    /// `[upstreams.refresh] max_staleness_seconds`.
    Transient,
}

/// The hooks of one upstream kind. Defaults are generic OpenID Connect; a kind overrides what
/// its IdP does differently.
pub trait Quirks: Send + Sync + Debug {
    /// The configuration spelling of the kind.
    fn kind(&self) -> UpstreamKind;

    /// Authorization parameters this kind never lets `extra_authorize_params` send, beyond the
    /// ones dcr-bridge always sets itself.
    fn forbidden_params(&self) -> &'static [&'static str] {
        &[]
    }

    /// Scopes for the authorization request, from the configured ones and the discovery
    /// document's `scopes_supported` (when advertised).
    fn authorize_scopes(
        &self,
        configured: &[String],
        _supported: Option<&[String]>,
    ) -> Vec<String> {
        configured.to_vec()
    }

    /// Parameters the kind adds to every authorization request. A `prompt` value is merged
    /// with the configured and the client's ones.
    fn authorize_params(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    /// Parameters the kind derives from the configuration (Google's `hd` hint), sent after
    /// [`Quirks::authorize_params`]; `extra_authorize_params` of the same name replace them.
    fn authorize_hints(&self) -> Vec<(String, String)> {
        Vec::new()
    }

    /// The issuer the discovery document must name, when it is not the configured one
    /// (Entra's multi-tenant template). `None`: the configured issuer, exactly.
    fn discovery_issuer(&self, _configured: &str) -> Option<String> {
        None
    }

    /// Checks an ID token's `iss` against the discovery document's `issuer`, after the
    /// signature, audience, expiry and nonce verified.
    ///
    /// # Errors
    /// `IdpError::InvalidIdToken` naming what did not match.
    fn check_issuer(&self, discovered: &str, claims: &TokenClaims<'_>) -> Result<(), IdpError> {
        if claims.issuer == discovered {
            Ok(())
        } else {
            Err(IdpError::InvalidIdToken(format!(
                "iss {:?} is not the issuer {discovered:?}",
                claims.issuer
            )))
        }
    }

    /// The user, from a verified ID token: the subject key and the claims the policy reads.
    ///
    /// # Errors
    /// `IdpError::InvalidIdToken` when a claim the kind keys users by is missing.
    fn identity(&self, claims: &TokenClaims<'_>) -> Result<UpstreamIdentity, IdpError> {
        Ok(standard_identity(claims, claims.subject.to_owned()))
    }

    /// Configuration the kind finds risky, for `check-config` and the startup check.
    fn warnings(&self) -> Vec<String> {
        Vec::new()
    }

    /// What to tell the user about an error the upstream sent back to our callback.
    fn classify_error(&self, error: &str, description: Option<&str>) -> UpstreamRefusal {
        generic_refusal(error, description)
    }

    /// What an OAuth error answering our upstream refresh means for the grant.
    fn classify_refresh_error(&self, error: &str, description: Option<&str>) -> RefreshFailure {
        generic_refresh_failure(error, description)
    }

    /// The `scope` of an upstream refresh request, from the configured scopes. `None` sends
    /// none, which RFC 6749 §6 reads as "the scope originally granted".
    fn refresh_scopes(&self, _configured: &[String]) -> Option<Vec<String>> {
        None
    }
}

/// The hooks for `config`'s kind.
///
/// # Errors
/// `IdpError::Config` when the issuer does not fit the kind.
pub fn for_config(config: &UpstreamConfig) -> Result<Box<dyn Quirks>, IdpError> {
    Ok(match config.kind {
        UpstreamKind::Oidc => Box::new(Generic),
        UpstreamKind::Okta => Box::new(Okta::new(config)?),
        UpstreamKind::Entra => Box::new(Entra::new(config)?),
        UpstreamKind::Google => Box::new(Google::new(config)),
        UpstreamKind::Github => {
            return Err(IdpError::Config(format!(
                "upstream {}: GitHub is not OpenID Connect and has no OIDC hooks",
                config.id
            )))
        }
    })
}

/// The configured issuer of an OpenID Connect upstream (`Config::validate` requires it).
///
/// # Errors
/// `IdpError::Config` when it is missing.
pub fn issuer(config: &UpstreamConfig) -> Result<&url::Url, IdpError> {
    config
        .issuer
        .as_ref()
        .ok_or_else(|| IdpError::Config(format!("upstream {}: issuer is required", config.id)))
}

/// An identity from the standard claims with `subject` as key.
fn standard_identity(claims: &TokenClaims<'_>, subject: String) -> UpstreamIdentity {
    UpstreamIdentity {
        issuer: claims.issuer.to_owned(),
        subject,
        email: claims.email.map(str::to_owned),
        email_verified: claims.email_verified,
        name: claims.name.map(str::to_owned),
        groups: claims.extra.groups.clone(),
        tenant: None,
        groups_incomplete: false,
        hosted_domain: None,
    }
}

/// The generic mapping of RFC 6749 §4.1.2.1 / OIDC Core §3.1.2.6 error codes.
#[must_use]
pub fn generic_refusal(error: &str, _description: Option<&str>) -> UpstreamRefusal {
    match error {
        "access_denied" => {
            UpstreamRefusal::refused("sign-in was cancelled or refused at the identity provider")
        }
        "temporarily_unavailable" | "server_error" => UpstreamRefusal {
            transient: true,
            message: "the identity provider could not complete the sign-in".to_owned(),
        },
        // The code only when it looks like one: a short lowercase token.
        code if is_error_code(code) => UpstreamRefusal::refused(format!(
            "the identity provider refused the sign-in ({code})"
        )),
        _ => UpstreamRefusal::refused("the identity provider refused the sign-in"),
    }
}

/// The generic reading of a refresh error: the codes that say the user's grant is over
/// (RFC 6749 §5.2 `invalid_grant`; OIDC Core §3.1.2.6's sign-in-required codes, which some
/// IdPs return from the token endpoint when a policy wants the user back) revoke; everything
/// else (`invalid_client`, `unauthorized_client`, `invalid_scope`, `server_error`, unknown
/// codes) is ours or the upstream's trouble, not the user's standing.
#[must_use]
pub fn generic_refresh_failure(error: &str, _description: Option<&str>) -> RefreshFailure {
    match error {
        "invalid_grant"
        | "access_denied"
        | "interaction_required"
        | "login_required"
        | "consent_required"
        | "account_selection_required" => RefreshFailure::Revoked,
        _ => RefreshFailure::Transient,
    }
}

/// An upstream error code worth naming to the client: a short lowercase token, as the RFC 6749
/// and OIDC codes are.
fn is_error_code(code: &str) -> bool {
    (1..=64).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
}

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
