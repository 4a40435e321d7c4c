//! The `[[upstreams]]` entries: the identity providers dcr-bridge sends users to, their kind,
//! the ONE client registered there, and who may sign in through them. Checked in
//! `Config::validate`. GitHub is not OpenID Connect: it has no issuer, its URLs are
//! `web_base` and `api_base`.

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
    /// GitHub or GitHub Enterprise Server: OAuth 2.0 without OpenID Connect (`src/idp/github.rs`).
    Github,
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
            Self::Github => "github",
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
    /// A JWT signed with our private key (RFC 7523 §2.2, OIDC Core §9): Entra ID certificate
    /// credentials. Needs `private_key_file`; no client secret.
    PrivateKeyJwt,
}

impl UpstreamClientAuth {
    /// The configuration spelling (`client_auth = "..."`), also the OIDC method name.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }
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
    /// Required for every kind but `github`, which has none (see `web_base`).
    #[serde(default, deserialize_with = "issuer_url")]
    pub issuer: Option<Url>,
    /// `kind = "github"` only: the web URL (`/login/oauth/...`); default `https://github.com`,
    /// GitHub Enterprise Server `https://HOST`. Users are recorded with it as their issuer.
    #[serde(default)]
    pub web_base: Option<Url>,
    /// `kind = "github"` only: the REST API root; default `https://api.github.com` for
    /// github.com, `{web_base}/api/v3` for GitHub Enterprise Server.
    #[serde(default)]
    pub api_base: Option<Url>,
    /// The client id registered at the upstream.
    pub client_id: String,
    /// The client secret; or give `client_secret_file`.
    #[serde(default, serialize_with = "serialize_opt_secret")]
    pub client_secret: Option<SecretString>,
    /// A file holding the client secret.
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// Scopes requested upstream. `kind = "github"` drops the OpenID ones (`openid`, `email`,
    /// `profile`, `offline_access`) and asks `read:user user:email` when nothing is left.
    #[serde(default = "default_upstream_scopes")]
    pub scopes: Vec<String>,
    /// Client authentication at the upstream token endpoint.
    #[serde(default)]
    pub client_auth: UpstreamClientAuth,
    /// `client_auth = "private_key_jwt"`: a PEM file with the RSA private key (PKCS#8 or
    /// PKCS#1) whose certificate (or public key) is registered at the upstream.
    #[serde(default)]
    pub private_key_file: Option<PathBuf>,
    /// The key read from `private_key_file` at load.
    #[serde(skip)]
    pub private_key_pem: Option<SecretString>,
    /// `client_auth = "private_key_jwt"`: the registered certificate's thumbprint, hex (colons
    /// allowed), as the Entra portal shows it: 40 digits (SHA-1) are sent as the assertion's
    /// `x5t` header, 64 (SHA-256) as `x5t#S256`. Entra finds the key by it; required for
    /// `kind = "entra"`.
    #[serde(default)]
    pub certificate_thumbprint: Option<String>,
    /// `kind = "entra"`: when the ID token says the user's groups did not fit (the groups
    /// overage, `_claim_names.groups`), ask Microsoft Graph for them with the upstream access
    /// token (`POST /me/getMemberGroups`; needs the `GroupMember.Read.All` or `User.Read`
    /// permission as the Entra guide says). Off: such a user is refused while groups are
    /// restricted.
    #[serde(default)]
    pub graph_groups: bool,
    /// `kind = "entra"`, `graph_groups = true`: the Graph API root; default
    /// `https://graph.microsoft.com/v1.0` (national clouds have their own).
    #[serde(default)]
    pub graph_base: Option<Url>,
    /// Extra query parameters for the upstream authorization request.
    #[serde(default)]
    pub extra_authorize_params: BTreeMap<String, String>,
    /// Seconds one call to this upstream (discovery, JWKS, token, userinfo, its API) may take
    /// in all before it counts as unavailable: the callback page and our refresh wait at most
    /// this long per call (1 to 120).
    #[serde(default = "default_upstream_timeout")]
    pub timeout_seconds: u64,
    /// Seconds to cache discovery and JWKS.
    #[serde(default = "default_discovery_ttl")]
    pub discovery_ttl_seconds: u64,
    /// Email domains whose users belong here (home-realm discovery): an authorization request
    /// whose `login_hint` is `someone@DOMAIN` goes to this upstream without a chooser, when
    /// the resource lists it. Only picks: the policy still checks the verified email.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
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
    /// `kind = "github"` only: organisations (logins, case-insensitive) whose active members may
    /// sign in, checked through the API (`read:org`).
    pub allowed_orgs: Vec<String>,
    /// `kind = "github"` only: teams as `org/team-slug` (case-insensitive) whose members may
    /// sign in, checked through the API (`read:org`).
    pub allowed_teams: Vec<String>,
    /// `kind = "google"` only: Google Workspace domains (lowercase, exact) whose users may sign
    /// in, checked against the ID token's verified `hd` claim, never the `hd` request parameter
    /// (a hint the user can edit). An account without `hd` (consumer gmail.com) is refused.
    pub allowed_hosted_domains: Vec<String>,
}

/// github.com's web URL, the `web_base` default.
pub const GITHUB_WEB: &str = "https://github.com";
/// github.com's API root.
pub const GITHUB_API: &str = "https://api.github.com";

impl UpstreamConfig {
    /// `kind = "github"`: `web_base`, or github.com's.
    ///
    /// # Errors
    /// Never for a valid constant; the `Result` is `Url::parse`'s.
    pub fn github_web_base(&self) -> Result<Url, url::ParseError> {
        self.web_base
            .clone()
            .map_or_else(|| Url::parse(GITHUB_WEB), Ok)
    }

    /// `kind = "github"`: `api_base`; else api.github.com for github.com and `{web_base}/api/v3`
    /// for GitHub Enterprise Server (GitHub's documented layout).
    ///
    /// # Errors
    /// A `web_base` that cannot take the `api/v3` path.
    pub fn github_api_base(&self) -> Result<Url, url::ParseError> {
        if let Some(api) = &self.api_base {
            return Ok(api.clone());
        }
        let web = self.github_web_base()?;
        if web.as_str().trim_end_matches('/') == GITHUB_WEB {
            return Url::parse(GITHUB_API);
        }
        let root = format!("{}/", web.as_str().trim_end_matches('/'));
        Url::parse(&root)?.join("api/v3")
    }

    /// The URL that names this upstream in records (users' issuer, status, admin API): the
    /// issuer, or GitHub's web base, without a trailing slash for GitHub.
    #[must_use]
    pub fn home(&self) -> String {
        match (&self.issuer, self.kind) {
            (Some(issuer), _) => issuer.to_string(),
            (None, UpstreamKind::Github) => self.github_web_base().map_or_else(
                |_| GITHUB_WEB.to_owned(),
                |u| u.as_str().trim_end_matches('/').to_owned(),
            ),
            (None, _) => String::new(),
        }
    }
}

/// The upstream issuer URL. Google documents `accounts.google.com` as the legacy issuer
/// spelling (UPSTREAMS §3.1); `Url` refuses a scheme-less string, so that one host (and only
/// that one) gets `https://` put in front. Every other issuer must be a full URL, as before.
fn issuer_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Url>, D::Error> {
    let raw = String::deserialize(d)?;
    let full = if raw == GOOGLE_LEGACY_ISSUER || raw == format!("{GOOGLE_LEGACY_ISSUER}/") {
        format!("https://{GOOGLE_LEGACY_ISSUER}")
    } else {
        raw
    };
    Url::parse(&full)
        .map(Some)
        .map_err(serde::de::Error::custom)
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

fn default_upstream_timeout() -> u64 {
    15
}

fn default_discovery_ttl() -> u64 {
    3600
}

/// The first GitHub-only key an upstream of another kind sets.
pub(super) fn refuse_github_keys(up: &UpstreamConfig) -> Result<(), &'static str> {
    if up.web_base.is_some() {
        return Err("web_base");
    }
    if up.api_base.is_some() {
        return Err("api_base");
    }
    if !up.policy.allowed_orgs.is_empty() {
        return Err("policy.allowed_orgs");
    }
    if !up.policy.allowed_teams.is_empty() {
        return Err("policy.allowed_teams");
    }
    Ok(())
}

/// A GitHub login (user or organisation): letters, digits and single inner hyphens, at most 39.
pub(super) fn is_github_login(s: &str) -> bool {
    (1..=39).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// A team slug: lowercase letters, digits, `-` and `_`, as GitHub derives it from the name.
pub(super) fn is_team_slug(s: &str) -> bool {
    (1..=100).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

impl super::Config {
    /// `kind = "github"`: URLs, policy entries' shapes; the OpenID scope rule does not apply.
    pub(super) fn validate_github(
        &self,
        i: usize,
        up: &UpstreamConfig,
    ) -> Result<(), super::ConfigError> {
        let key = |f: &str| format!("upstreams[{i}].{f}");
        for (name, url) in [("web_base", &up.web_base), ("api_base", &up.api_base)] {
            if let Some(u) = url {
                self.check_scheme(&key(name), u)?;
                if u.query().is_some() || u.fragment().is_some() {
                    return Err(super::invalid(key(name), "must have no query or fragment"));
                }
            }
        }
        if up.github_api_base().is_err() {
            return Err(super::invalid(
                key("web_base"),
                "cannot hold the API path /api/v3",
            ));
        }
        for o in &up.policy.allowed_orgs {
            if !is_github_login(o) {
                return Err(super::invalid(
                    key("policy.allowed_orgs"),
                    format!("{o:?}: an organisation login such as acme-corp"),
                ));
            }
        }
        for t in &up.policy.allowed_teams {
            let ok = t
                .split_once('/')
                .is_some_and(|(org, slug)| is_github_login(org) && is_team_slug(slug));
            if !ok {
                return Err(super::invalid(
                    key("policy.allowed_teams"),
                    format!("{t:?}: org/team-slug such as acme-corp/platform-team"),
                ));
            }
        }
        if !up.policy.allowed_groups.is_empty() {
            return Err(super::invalid(
                key("policy.allowed_groups"),
                "GitHub has no groups: use allowed_orgs or allowed_teams",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "upstreams_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "upstream_refresh_tests.rs"]
mod refresh_tests;
