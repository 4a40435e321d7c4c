//! The `[[upstreams]]` entries: the identity providers dcr-bridge sends users to, their kind,
//! the ONE client registered there, and who may sign in through them. Checked in
//! `Config::validate`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use secrecy::SecretString;
use serde::{Deserialize, Deserializer, Serialize};
use url::Url;

use super::serialize_opt_secret;

/// Kind of upstream identity provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpstreamKind {
    /// Any OpenID Connect provider with discovery.
    #[default]
    Oidc,
    /// Okta, org or custom authorization server (`src/idp/kinds/okta.rs`).
    Okta,
    /// Microsoft Entra ID v2.0, single- or multi-tenant (`src/idp/kinds/entra.rs`).
    Entra,
    /// Google (`src/idp/kinds/google.rs`).
    Google,
}

impl UpstreamKind {
    /// The configuration spelling (`kind = "..."`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oidc => "oidc",
            Self::Okta => "okta",
            Self::Entra => "entra",
            Self::Google => "google",
        }
    }
}

/// How dcr-bridge authenticates to the upstream token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamClientAuth {
    /// HTTP Basic (RFC 6749 §2.3.1), the OIDC default.
    #[default]
    ClientSecretBasic,
    /// Credentials in the form body.
    ClientSecretPost,
}

/// One upstream identity provider and the ONE client registered there.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Short identifier, referenced by resources and stored on clients.
    pub id: String,
    /// Provider kind.
    #[serde(default)]
    pub kind: UpstreamKind,
    /// Issuer, exactly as the provider spells it (discovery checks it byte for byte). Google's
    /// legacy spelling without scheme (`accounts.google.com`) is read as `https://accounts.google.com`.
    #[serde(deserialize_with = "issuer_url")]
    pub issuer: Url,
    /// The client id registered at the upstream.
    pub client_id: String,
    /// The client secret; or give `client_secret_file`.
    #[serde(default, serialize_with = "serialize_opt_secret")]
    pub client_secret: Option<SecretString>,
    /// A file holding the client secret.
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// Scopes requested upstream.
    #[serde(default = "default_upstream_scopes")]
    pub scopes: Vec<String>,
    /// Client authentication at the upstream token endpoint.
    #[serde(default)]
    pub client_auth: UpstreamClientAuth,
    /// Extra query parameters for the upstream authorization request.
    #[serde(default)]
    pub extra_authorize_params: BTreeMap<String, String>,
    /// Seconds to cache discovery and JWKS.
    #[serde(default = "default_discovery_ttl")]
    pub discovery_ttl_seconds: u64,
    /// Who may sign in through this upstream, beyond the upstream's own assignment rules.
    #[serde(default)]
    pub policy: AccessPolicy,
    /// How our refresh keeps the user's standing at this upstream current (the token vault).
    #[serde(default)]
    pub refresh: UpstreamRefresh,
}

/// `[upstreams.refresh]`: when our refresh token grant refreshes the grant's upstream tokens
/// first, and how long an unreachable upstream is tolerated (docs/security.md, "Upstream
/// token vault").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamRefresh {
    /// Seconds after the last confirmation (login or upstream refresh) at which our next
    /// refresh asks the upstream again, even if the upstream access token is still valid. The
    /// upstream access token's expiry also makes a refresh due. 0: every refresh of ours.
    pub recheck_interval_seconds: u64,
    /// Seconds since the last confirmation during which our refresh still succeeds while the
    /// upstream cannot be reached (connect error, timeout, 5xx); beyond it, our refresh answers
    /// 503 `temporarily_unavailable` until the upstream is back.
    pub max_staleness_seconds: u64,
    /// Seconds to wait after a transient upstream failure before a refresh tries again.
    pub retry_interval_seconds: u64,
}

impl Default for UpstreamRefresh {
    fn default() -> Self {
        Self {
            recheck_interval_seconds: 300,
            max_staleness_seconds: 3600,
            retry_interval_seconds: 30,
        }
    }
}

/// `[upstreams.policy]`: checked after the ID token verified, before any code is issued.
/// Empty lists allow everyone the upstream lets sign in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessPolicy {
    /// Email domains (lowercase, exact, no wildcard) whose users may sign in. The email must be
    /// present and not marked unverified (`email_verified: false`).
    pub allowed_email_domains: Vec<String>,
    /// Groups (from the ID token's groups claim); a user needs at least one of them.
    pub allowed_groups: Vec<String>,
    /// `kind = "entra"` only: tenant ids (GUIDs, the `tid` claim) whose users may sign in. Meant
    /// for multi-tenant issuers (`/organizations/v2.0`, `/common/v2.0`), where any tenant's users
    /// would otherwise get through.
    pub allowed_tenants: Vec<String>,
}

/// The upstream issuer URL. Google documents `accounts.google.com` as the legacy issuer
/// spelling (UPSTREAMS §3.1); `Url` refuses a scheme-less string, so that one host (and only
/// that one) gets `https://` put in front. Every other issuer must be a full URL, as before.
fn issuer_url<'de, D: Deserializer<'de>>(d: D) -> Result<Url, D::Error> {
    let raw = String::deserialize(d)?;
    let full = if raw == GOOGLE_LEGACY_ISSUER || raw == format!("{GOOGLE_LEGACY_ISSUER}/") {
        format!("https://{GOOGLE_LEGACY_ISSUER}")
    } else {
        raw
    };
    Url::parse(&full).map_err(serde::de::Error::custom)
}

/// Google's issuer host, which Google also spells without scheme.
pub const GOOGLE_LEGACY_ISSUER: &str = "accounts.google.com";

/// A lowercase GUID, the shape of Entra's `tid` claim.
#[must_use]
pub fn is_tenant_id(s: &str) -> bool {
    uuid::Uuid::try_parse(s).is_ok_and(|u| u.hyphenated().to_string() == s)
}

pub(super) fn default_upstream_scopes() -> Vec<String> {
    ["openid", "email", "profile", "offline_access"]
        .map(str::to_owned)
        .to_vec()
}

fn default_discovery_ttl() -> u64 {
    3600
}

#[cfg(test)]
#[path = "upstreams_tests.rs"]
mod tests;
