//! Configuration: defaults → TOML file → `DCR_BRIDGE_` environment (`__` nests), secrets from
//! `*_FILE`. Unknown keys are errors naming the key. Values are parsed into types at load, so the
//! rest of the program never sees an unchecked URL, address or key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use base64::Engine as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

mod access_policy;
mod cimd;
mod client_rules;
mod clients;
mod database;
mod enterprise_idps;
mod errors;
mod gateway;
mod load;
mod metrics;
mod registration;
mod resource_upstreams;
mod sections;
mod service_accounts;
mod token_exchange;
mod upstream_credentials;
mod upstreams;

pub use access_policy::ScopeGrant;
pub use cimd::CimdSettings;
pub use client_rules::{ClientMatch, ClientRuleConfig};
pub use clients::StaticClientConfig;
pub use database::DatabaseSettings;
pub use enterprise_idps::EnterpriseIdpConfig;
pub use gateway::{GatewaySettings, IdentityHeaders};
pub use metrics::MetricsSettings;
pub use registration::{HostPattern, RegistrationMode};
pub use sections::{
    AccessTokenClaim, AuditSettings, ClientIpHeader, RateLimitSettings, RegistrationSettings,
    TokenSettings,
};
pub use service_accounts::{parse_client_jwks, ServiceAccountConfig, MAX_CLIENT_KEYS};
pub use upstream_credentials::thumbprint_bytes;
pub use upstreams::{
    is_tenant_id, AccessPolicy, UpstreamClientAuth, UpstreamConfig, UpstreamKind, UpstreamRefresh,
    GOOGLE_LEGACY_ISSUER,
};

/// Longest accepted `[upstreams.refresh]` duration: a year.
const MAX_REFRESH_SECONDS: u64 = 365 * 24 * 3600;

/// Environment prefix for overrides.
pub const ENV_PREFIX: &str = "DCR_BRIDGE_";

/// Errors while loading or validating configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Parsing failed (syntax, type, unknown key): the key, the problem, where the value came
    /// from. Not a `#[source]`: figment's chain would print every message twice.
    #[error("{}", errors::describe(.0))]
    Parse(Box<figment::Error>),
    /// A value parsed but is not acceptable.
    #[error("invalid configuration: {key}: {message}")]
    Invalid { key: String, message: String },
    /// A `*_FILE` secret could not be read. The I/O error is the `source`, printed once by the
    /// error chain (`{e:#}`), not also in this message.
    #[error("cannot read {var} from {path}")]
    SecretFile {
        var: String,
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Shortest bootstrap admin token accepted: it guards every admin action, so a guessable
/// value is refused at start rather than discovered later.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 16;

/// Paths of dcr-bridge's own endpoints, which a resource cannot take.
const RESERVED_PATHS: [&str; 11] = [
    "/admin",
    "/metrics",
    "/healthz",
    "/readyz",
    "/authorize",
    "/token",
    "/register",
    "/revoke",
    "/introspect",
    "/jwks",
    "/consent",
];

impl From<Box<figment::Error>> for ConfigError {
    fn from(e: Box<figment::Error>) -> Self {
        Self::Parse(e)
    }
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The issuer: scheme, host, optional port, no path, no trailing slash. Used identically in
    /// metadata, `iss`, token `iss` and protected resource metadata.
    pub public_url: Url,
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// A second address that serves only the admin API (`/admin/v1`); unset, the admin API is
    /// on `listen`. Bind it to a private interface to keep the admin API off the public one.
    #[serde(default)]
    pub admin_listen: Option<SocketAddr>,
    /// A bootstrap admin token (`DCR_BRIDGE_ADMIN_TOKEN` or `DCR_BRIDGE_ADMIN_TOKEN_FILE`), for
    /// the first start and for automation: full access, audited as `bootstrap`, never stored.
    #[serde(default, serialize_with = "serialize_opt_secret")]
    pub admin_token: Option<SecretString>,
    /// `postgres://…` or `sqlite://path.db`.
    #[serde(default = "default_database_url")]
    pub database_url: String,
    /// The connection pool of `database_url`.
    #[serde(default)]
    pub database: DatabaseSettings,
    /// 32 random bytes, base64. Encrypts upstream tokens and signing keys.
    #[serde(serialize_with = "serialize_secret")]
    pub secret_key: SecretString,
    /// Earlier secret keys, still accepted for decryption while data is re-sealed.
    #[serde(default, serialize_with = "serialize_secrets")]
    pub old_secret_keys: Vec<SecretString>,
    /// Allow `http://` on loopback hosts for `public_url` and upstream issuers (local trial, tests).
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// `text` or `json` logs.
    #[serde(default)]
    pub log_format: LogFormat,
    /// Lifetimes and windows.
    #[serde(default)]
    pub tokens: TokenSettings,
    /// Dynamic client registration policy.
    #[serde(default)]
    pub registration: RegistrationSettings,
    /// Per-IP request limits on the unauthenticated write endpoints.
    #[serde(default)]
    pub rate_limit: RateLimitSettings,
    /// Retention of the audit trail.
    #[serde(default)]
    pub audit: AuditSettings,
    /// How resources with an `upstream_url` are proxied.
    #[serde(default)]
    pub gateway: GatewaySettings,
    /// Prometheus metrics at `/metrics`.
    #[serde(default)]
    pub metrics: MetricsSettings,
    /// The upstream identity providers; the first is the default.
    #[serde(default)]
    pub upstreams: Vec<UpstreamConfig>,
    /// The MCP servers (protected resources) tokens are issued for.
    #[serde(default)]
    pub resources: Vec<ResourceConfig>,
    /// Clients pre-registered by the admin (COMPAT C13).
    #[serde(default)]
    pub clients: Vec<StaticClientConfig>,
    /// Per-client quirks: `iss` in authorization responses, access-token lifetime (COMPAT C9,
    /// C22).
    #[serde(default)]
    pub client_rules: Vec<ClientRuleConfig>,
    /// Client ID Metadata Documents (URL client ids).
    #[serde(default)]
    pub cimd: CimdSettings,
    /// Enterprise IdPs whose ID-JAGs the `jwt-bearer` grant accepts.
    #[serde(default)]
    pub enterprise_idps: Vec<EnterpriseIdpConfig>,
}

/// An MCP server URL: absolute http or https with a host, no credentials, query or fragment
/// (the request's own path and query are appended). Plain http is allowed: the MCP server
/// usually sits next to dcr-bridge on a private network.
fn check_upstream_url(u: &Url) -> Result<(), String> {
    if !matches!(u.scheme(), "http" | "https") {
        return Err(format!("must be http or https, not {}", u.scheme()));
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err("must be an absolute URL with a host".to_owned());
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("must not contain credentials".to_owned());
    }
    if u.query().is_some() || u.fragment().is_some() {
        return Err("must not contain a query or fragment".to_owned());
    }
    Ok(())
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], 8080))
}

fn default_database_url() -> String {
    "sqlite://dcr-bridge.db".to_owned()
}

#[allow(clippy::ref_option)]
fn serialize_secret<S: serde::Serializer>(_: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str("[redacted]")
}

fn serialize_secrets<S: serde::Serializer>(v: &[SecretString], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|_| "[redacted]"))
}

/// Log output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

#[allow(clippy::ref_option)]
fn serialize_opt_secret<S: serde::Serializer>(
    v: &Option<SecretString>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        Some(_) => s.serialize_some("[redacted]"),
        None => s.serialize_none(),
    }
}

/// A protected resource (MCP server) that tokens are issued for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceConfig {
    /// Short identifier.
    pub id: String,
    /// Path on `public_url`; the resource URI is `public_url + path`.
    pub path: String,
    /// Scopes this resource understands; a request without `scope` gets all of them.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The one upstream users of this resource sign in at; default: the first upstream.
    /// Shorthand for a one-element `upstreams`; give one or the other.
    #[serde(default)]
    pub upstream: Option<String>,
    /// The upstreams users of this resource may sign in at (a client's mapping, the consent
    /// page's chooser or home-realm discovery picks one); never any other.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstreams: Vec<String>,
    /// Secret the resource server uses (HTTP Basic, username = resource id) to call
    /// introspection (RFC 7662 §2.1) for tokens issued for this resource.
    #[serde(default, serialize_with = "serialize_opt_secret")]
    pub introspection_secret: Option<SecretString>,
    /// The MCP server this resource proxies to (gateway mode). Without it the resource is
    /// metadata only: the MCP server validates our tokens itself.
    #[serde(default)]
    pub upstream_url: Option<Url>,
    /// Scopes every request through the gateway needs (403 `insufficient_scope` otherwise);
    /// empty: any token issued for this resource.
    #[serde(default)]
    pub required_scopes: Vec<String>,
    /// Gateway mode: the headers that tell the MCP server who is calling.
    #[serde(default)]
    pub identity_headers: IdentityHeaders,
    /// Gateway mode: scopes a `tools/call` of the named tool needs, beyond `required_scopes`.
    #[serde(default)]
    pub tool_scopes: BTreeMap<String, Vec<String>>,
    /// Gateway mode: whether `tools/list` answers leave out the tools of `tool_scopes` the
    /// token may not call. Unset: yes (see [`ResourceConfig::filters_tools_list`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_tools_list: Option<bool>,
    /// Who may use this resource, beyond the upstream's `[upstreams.policy]` (both must admit
    /// the user); kind-specific keys follow the resource's upstream kind.
    #[serde(default)]
    pub policy: AccessPolicy,
    /// Scopes reserved to members of groups (`[[resources.scope_grants]]`).
    #[serde(default)]
    pub scope_grants: Vec<ScopeGrant>,
    // Upstream tokens for this resource's MCP server (issue 13 item 5, docs/token-exchange.md);
    // validated in `config/token_exchange.rs`.
    /// The `[[clients]]` entry (confidential) this resource's MCP server authenticates as to
    /// exchange a user's access token for the user's upstream access token (RFC 8693). Unset:
    /// no exchange for this resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_exchange_client: Option<String>,
    /// Gateway mode: the request header that carries `Bearer <the user's upstream access
    /// token>` to the MCP server on every forwarded request. Unset: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upstream_token_header: Option<String>,
}

impl ResourceConfig {
    /// Whether `tools/list` answers are filtered. On unless set to false: a user should not be
    /// offered a tool that answers 403 (what Keycloak- and Hydra-style authorization leads
    /// people to expect); an admin whose clients discover step-up scopes by calling a listed
    /// tool turns it off.
    #[must_use]
    pub fn filters_tools_list(&self) -> bool {
        self.filter_tools_list.unwrap_or(true)
    }
}

impl Config {
    /// Checks the values that types alone cannot.
    ///
    /// # Errors
    /// The first invalid value, with its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_public_url()?;
        self.validate_admin()?;
        decode_key(&self.secret_key).map_err(|m| invalid("secret_key", m))?;
        for (i, k) in self.old_secret_keys.iter().enumerate() {
            decode_key(k).map_err(|m| invalid(format!("old_secret_keys[{i}]"), m))?;
        }
        self.database.validate()?;
        self.tokens.validate()?;
        self.registration.validate()?;
        self.rate_limit.validate()?;
        self.audit.validate()?;
        self.cimd.validate()?;
        self.gateway.validate()?;
        if self.upstreams.is_empty() {
            return Err(invalid("upstreams", "configure at least one [[upstreams]]"));
        }
        for (i, up) in self.upstreams.iter().enumerate() {
            self.validate_upstream(i, up)?;
        }
        self.validate_upstream_domains()?;
        if self.resources.is_empty() {
            return Err(invalid("resources", "configure at least one [[resources]]"));
        }
        for (i, r) in self.resources.iter().enumerate() {
            self.validate_resource(i, r)?;
            self.validate_resource_access(i, r)?;
        }
        self.validate_clients()?;
        self.validate_token_exchange()?;
        self.validate_client_rules()?;
        self.validate_enterprise_idps()?;
        Ok(())
    }

    fn validate_admin(&self) -> Result<(), ConfigError> {
        if let Some(token) = &self.admin_token {
            let len = token.expose_secret().chars().count();
            if len < MIN_ADMIN_TOKEN_CHARS {
                return Err(invalid(
                    "admin_token",
                    format!(
                        "must be at least {MIN_ADMIN_TOKEN_CHARS} characters (got {len}); \
                         try: openssl rand -base64 32"
                    ),
                ));
            }
        }
        if self.admin_listen.is_some_and(|a| a == self.listen) {
            return Err(invalid(
                "admin_listen",
                "must differ from listen (leave it unset to serve the admin API on listen)",
            ));
        }
        Ok(())
    }

    fn validate_public_url(&self) -> Result<(), ConfigError> {
        let u = &self.public_url;
        if u.path() != "/" || u.query().is_some() || u.fragment().is_some() {
            return Err(invalid(
                "public_url",
                "must be scheme://host[:port] with no path, query or fragment",
            ));
        }
        if !u.username().is_empty() || u.password().is_some() {
            return Err(invalid("public_url", "must not contain credentials"));
        }
        self.check_scheme("public_url", u)
    }

    fn check_scheme(&self, key: &str, u: &Url) -> Result<(), ConfigError> {
        match u.scheme() {
            "https" => Ok(()),
            "http" if self.allow_insecure_http && is_loopback_url(u) => Ok(()),
            "http" if self.allow_insecure_http => Err(invalid(
                key,
                "http is allowed only for loopback hosts (127.0.0.1, [::1], localhost)",
            )),
            "http" => Err(invalid(
                key,
                "must be https (set allow_insecure_http = true for a loopback trial)",
            )),
            other => Err(invalid(key, format!("unsupported scheme {other}"))),
        }
    }

    fn validate_upstream(&self, i: usize, up: &UpstreamConfig) -> Result<(), ConfigError> {
        let key = |f: &str| format!("upstreams[{i}].{f}");
        if !is_identifier(&up.id) {
            return Err(invalid(
                key("id"),
                "use letters, digits, '-' and '_' (1-64)",
            ));
        }
        if self.upstreams[..i].iter().any(|o| o.id == up.id) {
            return Err(invalid(
                key("id"),
                format!("duplicate upstream id {}", up.id),
            ));
        }
        match (&up.issuer, up.kind) {
            (Some(_), UpstreamKind::Github) => {
                return Err(invalid(
                    key("issuer"),
                    "GitHub has no issuer: leave it out (github.com) or set web_base (GitHub Enterprise Server)",
                ));
            }
            (Some(issuer), _) => self.check_scheme(&key("issuer"), issuer)?,
            (None, UpstreamKind::Github) => {}
            (None, _) => return Err(invalid(key("issuer"), "is required")),
        }
        if up.client_id.is_empty() {
            return Err(invalid(key("client_id"), "must not be empty"));
        }
        self.validate_upstream_credentials(i, up)?;
        if up.kind == UpstreamKind::Github {
            self.validate_github(i, up)?;
        } else {
            if !up.scopes.iter().any(|s| s == "openid") {
                return Err(invalid(key("scopes"), "must include openid"));
            }
            upstreams::refuse_github_keys(up)
                .map_err(|k| invalid(key(k), "only an upstream with kind = \"github\" has it"))?;
        }
        let r = &up.refresh;
        for (field, v) in [
            (
                "refresh.recheck_interval_seconds",
                r.recheck_interval_seconds,
            ),
            ("refresh.max_staleness_seconds", r.max_staleness_seconds),
            ("refresh.retry_interval_seconds", r.retry_interval_seconds),
        ] {
            if v > MAX_REFRESH_SECONDS {
                return Err(invalid(key(field), "at most 31536000 (a year)"));
            }
        }
        if !(1..=120).contains(&up.timeout_seconds) {
            return Err(invalid(key("timeout_seconds"), "1 to 120"));
        }
        if r.retry_interval_seconds == 0 {
            return Err(invalid(
                key("refresh.retry_interval_seconds"),
                "at least 1: an unreachable upstream would be asked on every refresh",
            ));
        }
        access_policy::validate_policy(&key("policy"), up.kind, &up.policy)?;
        Ok(())
    }

    fn validate_resource(&self, i: usize, r: &ResourceConfig) -> Result<(), ConfigError> {
        let key = |f: &str| format!("resources[{i}].{f}");
        if !is_identifier(&r.id) {
            return Err(invalid(
                key("id"),
                "use letters, digits, '-' and '_' (1-64)",
            ));
        }
        if self.resources[..i].iter().any(|o| o.id == r.id) {
            return Err(invalid(
                key("id"),
                format!("duplicate resource id {}", r.id),
            ));
        }
        let path_ok = r.path.starts_with('/')
            && r.path.len() > 1
            && !r.path.ends_with('/')
            && !r.path.contains(['?', '#', ' ', '\\'])
            && !r.path.split('/').any(|seg| seg == "." || seg == "..")
            && !r.path.starts_with("/.well-known")
            && !r.path.starts_with("/oauth")
            && !RESERVED_PATHS
                .iter()
                .any(|p| r.path == *p || r.path.starts_with(&format!("{p}/")));
        if !path_ok {
            return Err(invalid(
                key("path"),
                "must start with '/', have no trailing '/', query, fragment or dot segments, \
                 and not be under /.well-known, /oauth or an endpoint path (/authorize, \
                 /token, /register, /revoke, /introspect, /jwks, /consent, /admin, /healthz, /readyz, /metrics)",
            ));
        }
        if self.resources[..i].iter().any(|o| o.path == r.path) {
            return Err(invalid(
                key("path"),
                format!("duplicate resource path {}", r.path),
            ));
        }
        for s in &r.scopes {
            if !is_scope_token(s) || s == "offline_access" || s == "openid" {
                return Err(invalid(
                    key("scopes"),
                    format!("{s:?} is not a valid resource scope (RFC 6749 §3.3; openid and offline_access are not resource scopes)"),
                ));
            }
        }
        self.validate_resource_upstreams(i, r)?;
        if let Some(u) = &r.upstream_url {
            check_upstream_url(u).map_err(|m| invalid(key("upstream_url"), m))?;
        }
        r.identity_headers.validate(&key("identity_headers"))?;
        if r.upstream_url.is_none() && r.identity_headers != IdentityHeaders::default() {
            return Err(invalid(
                key("identity_headers"),
                "only a resource with upstream_url (gateway mode) sends identity headers",
            ));
        }
        for s in &r.required_scopes {
            if !r.scopes.contains(s) {
                return Err(invalid(
                    key("required_scopes"),
                    format!("{s:?} is not one of this resource's scopes"),
                ));
            }
        }
        if r.upstream_url.is_none() && !r.tool_scopes.is_empty() {
            return Err(invalid(
                key("tool_scopes"),
                "only a resource with upstream_url (gateway mode) checks tool scopes",
            ));
        }
        if r.upstream_url.is_none() && r.filter_tools_list.is_some() {
            return Err(invalid(
                key("filter_tools_list"),
                "only a resource with upstream_url (gateway mode) filters tools/list",
            ));
        }
        for (tool, scopes) in &r.tool_scopes {
            if tool.is_empty() || tool.len() > 128 {
                return Err(invalid(
                    key("tool_scopes"),
                    "tool names are 1 to 128 characters",
                ));
            }
            if let Some(s) = scopes.iter().find(|s| !r.scopes.contains(s)) {
                return Err(invalid(
                    key(&format!("tool_scopes.{tool}")),
                    format!("{s:?} is not one of this resource's scopes"),
                ));
            }
        }
        Ok(())
    }

    /// The issuer string: `public_url` without the trailing slash `Url` adds.
    #[must_use]
    pub fn issuer(&self) -> String {
        self.public_url.as_str().trim_end_matches('/').to_owned()
    }

    /// The callback to register at every upstream.
    #[must_use]
    pub fn callback_url(&self) -> String {
        format!("{}/oauth/callback", self.issuer())
    }

    /// The 32-byte key that seals data at rest.
    ///
    /// # Errors
    /// Never after `validate`; kept fallible so callers need no panic.
    pub fn secret_key_bytes(&self) -> Result<[u8; 32], ConfigError> {
        decode_key(&self.secret_key).map_err(|m| invalid("secret_key", m))
    }

    /// Earlier keys, for decryption only.
    ///
    /// # Errors
    /// Never after `validate`.
    pub fn old_secret_key_bytes(&self) -> Result<Vec<[u8; 32]>, ConfigError> {
        self.old_secret_keys
            .iter()
            .map(|k| decode_key(k).map_err(|m| invalid("old_secret_keys", m)))
            .collect()
    }
}

fn decode_key(key: &SecretString) -> Result<[u8; 32], String> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(key.expose_secret().trim())
        .or_else(|_| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(key.expose_secret().trim())
        })
        .map_err(|_| "must be base64 (try: openssl rand -base64 32)".to_owned())?;
    <[u8; 32]>::try_from(raw.as_slice())
        .map_err(|_| format!("must decode to 32 bytes, got {}", raw.len()))
}

fn is_identifier(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// RFC 6749 §3.3 scope-token: %x21 / %x23-5B / %x5D-7E.
#[must_use]
pub fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
}

/// True for `127.0.0.0/8`, `[::1]` and `localhost` hosts.
#[must_use]
pub fn is_loopback_url(u: &Url) -> bool {
    match u.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
