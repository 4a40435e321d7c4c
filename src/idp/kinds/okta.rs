//! `kind = "okta"`: Okta's org authorization server (`https://{domain}`) and custom
//! authorization servers (`https://{domain}/oauth2/{authServerId}`, e.g. `/oauth2/default`)
//! (UPSTREAMS §1, COMPAT U4).

use super::{generic_refusal, IdpError, Quirks, UpstreamRefusal};
use crate::config::{UpstreamConfig, UpstreamKind};

/// Okta.
#[derive(Debug, Clone, Copy)]
pub struct Okta;

impl Okta {
    /// Checks the issuer has one of Okta's two shapes. Anything else (an endpoint such as
    /// `/oauth2/v1/authorize`, a discovery URL, `/oauth2/default/v1`) would end in discovery's
    /// "unexpected issuer URI" or in `kid` not found; say so at startup instead.
    ///
    /// # Errors
    /// `IdpError::Config` naming the two accepted shapes.
    pub fn new(config: &UpstreamConfig) -> Result<Self, IdpError> {
        let issuer = super::issuer(config)?;
        let path = issuer.path().trim_end_matches('/');
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        let ok = path.is_empty()
            || matches!(segments.as_slice(), ["oauth2", id] if !id.is_empty() && *id != "v1");
        if ok && issuer.query().is_none() {
            Ok(Self)
        } else {
            Err(IdpError::Config(format!(
                "upstream {}: an Okta issuer is https://{{domain}} (org authorization server) or https://{{domain}}/oauth2/{{authServerId}} (custom, e.g. /oauth2/default), not {}",
                config.id, issuer
            )))
        }
    }
}

impl Quirks for Okta {
    fn kind(&self) -> UpstreamKind {
        UpstreamKind::Okta
    }

    /// Okta emits `groups` only for the `groups` scope (org authorization server, or a custom
    /// one where an admin defined that scope). Asking an authorization server that lacks it
    /// fails the sign-in with `invalid_scope` ("One or more scopes are not configured for the
    /// authorization server resource"), so it is added only when discovery lists it.
    fn authorize_scopes(&self, configured: &[String], supported: Option<&[String]>) -> Vec<String> {
        let mut scopes = configured.to_vec();
        let offered = supported.is_some_and(|s| s.iter().any(|x| x == "groups"));
        if offered && !scopes.iter().any(|s| s == "groups") {
            scopes.push("groups".to_owned());
        }
        scopes
    }

    fn classify_error(&self, error: &str, description: Option<&str>) -> UpstreamRefusal {
        // Okta's answer for a user the application is not assigned to:
        // `access_denied` / "User is not assigned to the client application."
        let unassigned = description.is_some_and(|d| d.contains("not assigned"));
        if error == "access_denied" && unassigned {
            return UpstreamRefusal::refused(
                "your Okta account is not assigned to this application; ask your Okta administrator",
            );
        }
        generic_refusal(error, description)
    }
}
