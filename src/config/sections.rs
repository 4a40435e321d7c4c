//! The `[tokens]`, `[registration]`, `[rate_limit]` and `[audit]` sections: plain values with
//! defaults, each checking itself when the configuration is loaded.

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError};

/// Lifetimes, in seconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenSettings {
    /// Access token lifetime.
    pub access_token_ttl: i64,
    /// Refresh token lifetime (absolute, per token; rotation issues a fresh one).
    pub refresh_token_ttl: i64,
    /// Longest a sign-in lasts: no refresh token outlives the upstream login that started its
    /// family by more than this, so a user disabled at the IdP loses access within this bound
    /// (the next authorization goes through the IdP again).
    pub session_max_age: i64,
    /// Window in which a retried refresh with the same old token gets the same new pair.
    pub refresh_grace_seconds: i64,
    /// Authorization code lifetime (RFC 6749 §4.1.2 recommends ≤ 10 minutes).
    pub code_ttl: i64,
    /// How long a user has to consent and log in upstream.
    pub authorization_request_ttl: i64,
    /// User claims put into our access tokens (and introspection answers) beside the ones
    /// always there (`iss`, `sub`, `aud`, `client_id`, `scope`, `iat`, `exp`, `nbf`, `jti`).
    /// Default: none (docs/security.md, "What leaves in tokens").
    pub access_token_claims: Vec<AccessTokenClaim>,
    /// Every replica re-reads the signing keys this often (on Postgres also at once when they
    /// change). A new key signs only once it has been published for twice this long, so every
    /// replica (and its JWKS) knows it before any token it signed arrives.
    pub signing_key_reload_seconds: i64,
    /// JWS algorithm of our tokens: `ES256`, `EdDSA` or `RS256`. Differing from the current
    /// key's, the server rotates to a key of this algorithm at start. Unset: a new key ring
    /// is `ES256`, an existing one keeps its algorithm (docs/security.md, "Signing keys").
    pub signing_algorithm: Option<crate::oauth::signing_alg::SigningAlgorithm>,
}

/// A user claim `[tokens] access_token_claims` may add to our access tokens, from the user's
/// last sign-in at the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessTokenClaim {
    /// `email`: the upstream's email claim (GitHub: the primary verified email).
    Email,
    /// `name`: the upstream's display name.
    Name,
    /// `groups`: the upstream's groups (GitHub: organisations and `org/team` slugs).
    Groups,
}

impl AccessTokenClaim {
    /// The claim's name, as configured and in the token.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Name => "name",
            Self::Groups => "groups",
        }
    }
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            access_token_ttl: 3600,
            refresh_token_ttl: 30 * 24 * 3600,
            session_max_age: 30 * 24 * 3600,
            refresh_grace_seconds: 60,
            code_ttl: 300,
            authorization_request_ttl: 600,
            access_token_claims: Vec::new(),
            signing_key_reload_seconds: 60,
            signing_algorithm: None,
        }
    }
}

impl TokenSettings {
    /// How long a key must have been published before it signs: two reload intervals.
    #[must_use]
    pub fn signing_key_publish_seconds(&self) -> i64 {
        2 * self.signing_key_reload_seconds
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("tokens.access_token_ttl", self.access_token_ttl),
            ("tokens.refresh_token_ttl", self.refresh_token_ttl),
            ("tokens.session_max_age", self.session_max_age),
            ("tokens.code_ttl", self.code_ttl),
            (
                "tokens.authorization_request_ttl",
                self.authorization_request_ttl,
            ),
        ] {
            if value <= 0 {
                return Err(invalid(key, "must be a positive number of seconds"));
            }
        }
        if self.code_ttl > 600 {
            return Err(invalid(
                "tokens.code_ttl",
                "must be at most 600 (RFC 6749 §4.1.2)",
            ));
        }
        if !(1..=3600).contains(&self.signing_key_reload_seconds) {
            return Err(invalid(
                "tokens.signing_key_reload_seconds",
                "must be 1..=3600 seconds",
            ));
        }
        if self.refresh_grace_seconds < 0 || self.refresh_grace_seconds > 300 {
            return Err(invalid("tokens.refresh_grace_seconds", "must be 0..=300"));
        }
        for (i, c) in self.access_token_claims.iter().enumerate() {
            if self.access_token_claims[..i].contains(c) {
                return Err(invalid(
                    "tokens.access_token_claims",
                    format!("{:?} is listed twice", c.as_str()),
                ));
            }
        }
        Ok(())
    }
}

/// Dynamic client registration policy (the policy rules themselves: `config/registration.rs`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistrationSettings {
    /// Who may `POST /register`: `open`, `initial_access_token` or `closed`. Unset, `open`
    /// (or `closed` when the older `enabled = false` is set); see [`Self::mode`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<super::RegistrationMode>,
    /// The older switch: `false` means `mode = "closed"`. Kept so existing files load.
    pub enabled: bool,
    /// When not empty, the only schemes a redirect URI (of a registered or CIMD client) may
    /// have, on top of the built-in rules (`http` stays loopback-only). Lowercase.
    pub allowed_redirect_schemes: Vec<String>,
    /// When not empty, the only hosts an `https` redirect URI may name: exact hosts, or
    /// `*.example.com` for any subdomain of example.com (not example.com itself). Loopback
    /// URIs are governed by `allow_loopback_redirects`, private-use schemes by
    /// `allowed_redirect_schemes`.
    pub allowed_redirect_hosts: Vec<String>,
    /// Whether redirect URIs on a loopback host (127.0.0.1, [::1], localhost; RFC 8252 §7.3)
    /// are accepted, whatever `allowed_redirect_hosts` says. Native MCP clients need them.
    pub allow_loopback_redirects: bool,
    /// Most dynamically registered clients that may exist; unset, no cap. CIMD and static
    /// clients are not counted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_dynamic_clients: Option<i64>,
    /// Most redirect URIs one client may register.
    pub max_redirect_uris: usize,
    /// Days after its last use (or registration, if never used) that a dynamically registered
    /// client without an active grant is deleted; 0 keeps them forever.
    pub unused_client_ttl_days: i64,
    /// Private-use redirect URI schemes accepted beyond the built-in allow-list (https,
    /// loopback http, reverse-DNS schemes, `cursor`, `vscode`, `vscode-insiders`), for a client
    /// whose scheme is neither reverse-DNS nor known. Lowercase, checked at load.
    pub redirect_uri_schemes: Vec<String>,
}

impl Default for RegistrationSettings {
    fn default() -> Self {
        Self {
            mode: None,
            enabled: true,
            allowed_redirect_schemes: Vec::new(),
            allowed_redirect_hosts: Vec::new(),
            allow_loopback_redirects: true,
            max_dynamic_clients: None,
            max_redirect_uris: 10,
            unused_client_ttl_days: 90,
            redirect_uri_schemes: Vec::new(),
        }
    }
}

/// Longest accepted `unused_client_ttl_days` (about 100 years): keeps the cutoff arithmetic far
/// from overflow.
const MAX_UNUSED_CLIENT_TTL_DAYS: i64 = 36_500;

impl RegistrationSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(0..=MAX_UNUSED_CLIENT_TTL_DAYS).contains(&self.unused_client_ttl_days) {
            return Err(invalid(
                "registration.unused_client_ttl_days",
                format!("must be 0 (never expire) to {MAX_UNUSED_CLIENT_TTL_DAYS} days"),
            ));
        }
        for (i, scheme) in self.redirect_uri_schemes.iter().enumerate() {
            let key = format!("registration.redirect_uri_schemes[{i}]");
            if !crate::oauth::redirect_uri::is_scheme(scheme)
                || scheme.len() > 64
                || scheme.bytes().any(|b| b.is_ascii_uppercase())
            {
                return Err(invalid(
                    key,
                    "a URI scheme (RFC 3986 section 3.1) in lowercase, at most 64 characters, \
                     without ':'",
                ));
            }
            if matches!(scheme.as_str(), "http" | "https")
                || crate::oauth::redirect_uri::FORBIDDEN_SCHEMES.contains(&scheme.as_str())
            {
                return Err(invalid(
                    key,
                    format!(
                        "{scheme} cannot be allowed here: http and https have their own rules, \
                         and script, file and non-HTTP schemes are never redirect targets"
                    ),
                ));
            }
        }
        self.validate_policy()
    }

    /// The age in seconds past which an unused dynamic client is deleted, if they expire.
    #[must_use]
    pub fn unused_client_ttl_seconds(&self) -> Option<i64> {
        (self.unused_client_ttl_days > 0).then(|| self.unused_client_ttl_days * 24 * 3600)
    }
}

/// The audit trail.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSettings {
    /// Days an audit event is kept; older ones are deleted by housekeeping. 0 keeps them forever.
    pub retention_days: i64,
}

impl Default for AuditSettings {
    /// A year: long enough to answer "who authorized what" across an annual review or a slow
    /// incident investigation, bounded so that registration spam cannot grow the table forever.
    fn default() -> Self {
        Self {
            retention_days: 365,
        }
    }
}

/// Longest accepted `retention_days` (about 100 years): keeps the cutoff arithmetic far from
/// overflow.
const MAX_AUDIT_RETENTION_DAYS: i64 = 36_500;

impl AuditSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(0..=MAX_AUDIT_RETENTION_DAYS).contains(&self.retention_days) {
            return Err(invalid(
                "audit.retention_days",
                format!("must be 0 (keep forever) to {MAX_AUDIT_RETENTION_DAYS} days"),
            ));
        }
        Ok(())
    }

    /// How old in seconds an audit event gets before it is deleted, if events expire at all.
    #[must_use]
    pub fn retention_seconds(&self) -> Option<i64> {
        (self.retention_days > 0).then(|| self.retention_days * 24 * 3600)
    }
}

/// The one header the reverse proxy in front of dcr-bridge writes with the client's address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClientIpHeader {
    /// `X-Forwarded-For` (nginx `$proxy_add_x_forwarded_for`, cloud load balancers).
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=…` (Envoy, HAProxy, Traefik and nginx when configured so).
    Forwarded,
    /// `X-Real-IP` (nginx `$remote_addr`).
    XRealIp,
}

impl ClientIpHeader {
    /// The header name, lowercase.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::XForwardedFor => "x-forwarded-for",
            Self::Forwarded => "forwarded",
            Self::XRealIp => "x-real-ip",
        }
    }
}

/// Per client IP limits on the endpoints anyone can call without a session: registration and
/// the token, revocation and introspection endpoints.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitSettings {
    /// Whether the limits apply at all.
    pub enabled: bool,
    /// `POST /register` requests per minute from one address (also the burst).
    pub register_per_minute: u32,
    /// Requests per minute from one address to each of `/token`, `/revoke` and `/introspect`.
    pub token_per_minute: u32,
    /// `GET|POST /authorize` requests per minute from one address (each stores a pending
    /// authorization).
    pub authorize_per_minute: u32,
    /// Failed admin API sign-ins (unknown, revoked or malformed admin tokens) per minute from
    /// one address (also the burst). Past it, the address gets 429 for every admin request,
    /// right token or not, until the bucket refills: guessing stays as slow as this.
    pub admin_auth_failures_per_minute: u32,
    /// The header the single trusted proxy in front of dcr-bridge writes; its right-most entry
    /// is the key instead of the TCP peer. Every other forwarding header is ignored, so a client
    /// cannot pick its own key by sending one the proxy does not overwrite. `None`: TCP peer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_ip_header: Option<ClientIpHeader>,
    /// Replaced by `client_ip_header` (it read `X-Forwarded-For` even behind a proxy that
    /// writes only `Forwarded`); `false` is accepted and means nothing, `true` is refused with a
    /// message that names the new key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trust_forwarded_for: Option<bool>,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            register_per_minute: 20,
            token_per_minute: 600,
            authorize_per_minute: 120,
            admin_auth_failures_per_minute: 10,
            client_ip_header: None,
            trust_forwarded_for: None,
        }
    }
}

impl RateLimitSettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("rate_limit.register_per_minute", self.register_per_minute),
            ("rate_limit.token_per_minute", self.token_per_minute),
            ("rate_limit.authorize_per_minute", self.authorize_per_minute),
            (
                "rate_limit.admin_auth_failures_per_minute",
                self.admin_auth_failures_per_minute,
            ),
        ] {
            if value == 0 {
                return Err(invalid(
                    key,
                    "must be at least 1 (set rate_limit.enabled = false to turn limits off)",
                ));
            }
        }
        if self.trust_forwarded_for == Some(true) {
            return Err(invalid(
                "rate_limit.trust_forwarded_for",
                "was replaced by rate_limit.client_ip_header: remove trust_forwarded_for and set \
                 client_ip_header to the one header your proxy writes, \"x-forwarded-for\", \
                 \"forwarded\" or \"x-real-ip\"",
            ));
        }
        Ok(())
    }
}
