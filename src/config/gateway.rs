//! The `[gateway]` section: how resources with an `upstream_url` are proxied (gateway mode).

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError};

/// Limits and timings of the gateway. One section for every proxied resource.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewaySettings {
    /// Largest request body forwarded to an MCP server, in bytes (413 beyond). JSON-RPC
    /// requests are small, but tool arguments may carry documents.
    pub max_body_bytes: usize,
    /// Seconds to wait for a TCP (and TLS) connection to the MCP server (then 504).
    pub connect_timeout_seconds: u64,
    /// Seconds to wait for the MCP server's response headers (then 504). The body is not
    /// timed: an SSE stream may stay open as long as both sides want.
    pub response_timeout_seconds: u64,
    /// Largest `tools/list` answer (JSON), or event of one (SSE), held to leave out the tools a
    /// token may not call (`filter_tools_list`); a larger one is refused, never passed on
    /// unfiltered.
    pub max_tools_list_bytes: usize,
    /// Seconds between polls of the store for revoked access tokens. A revoked token stops
    /// opening a proxied resource within this bound (plus one store query).
    pub revocation_poll_seconds: u64,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 4 * 1024 * 1024,
            max_tools_list_bytes: 4 * 1024 * 1024,
            connect_timeout_seconds: 5,
            response_timeout_seconds: 30,
            revocation_poll_seconds: 10,
        }
    }
}

/// Largest accepted `max_body_bytes` and `max_tools_list_bytes` (256 MiB): a typo should not remove the limit.
const MAX_BODY_CEILING: usize = 256 * 1024 * 1024;

impl GatewaySettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("gateway.max_body_bytes", self.max_body_bytes),
            ("gateway.max_tools_list_bytes", self.max_tools_list_bytes),
        ] {
            if !(1..=MAX_BODY_CEILING).contains(&value) {
                return Err(invalid(key, format!("must be 1 to {MAX_BODY_CEILING}")));
            }
        }
        for (key, value, max) in [
            (
                "gateway.connect_timeout_seconds",
                self.connect_timeout_seconds,
                300,
            ),
            (
                "gateway.response_timeout_seconds",
                self.response_timeout_seconds,
                3600,
            ),
            (
                "gateway.revocation_poll_seconds",
                self.revocation_poll_seconds,
                30,
            ),
        ] {
            if !(1..=max).contains(&value) {
                return Err(invalid(key, format!("must be 1 to {max} seconds")));
            }
        }
        Ok(())
    }
}

/// `[resources.identity_headers]`: the request headers through which the MCP server learns
/// who is calling. Each key names a header; unset keys send nothing. Incoming copies of every
/// named header are removed first, so a client cannot forge them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IdentityHeaders {
    /// Our stable user id (the token's `sub`).
    pub user_id: Option<String>,
    /// The user's email, when the upstream gave one.
    pub email: Option<String>,
    /// The user's display name, when the upstream gave one.
    pub name: Option<String>,
    /// The user's groups from the upstream, joined with `,`.
    pub groups: Option<String>,
    /// The client the token was issued to.
    pub client_id: Option<String>,
    /// The token's scopes, space-separated.
    pub scopes: Option<String>,
    /// Who stands behind the token: `user`, or `service` for a machine client's token
    /// (`client_credentials`, no user; the user-id header then carries the client id).
    pub client_kind: Option<String>,
    /// A short-lived identity JWT signed with our keys (verify with `/jwks`), audience the
    /// resource's `upstream_url`, `typ` `identity+jwt`.
    pub jwt: Option<String>,
}

/// Header names an identity header must not take: credentials, framing, forwarding (which the
/// gateway writes itself), and what MCP itself carries.
const RESERVED_HEADERS: [&str; 19] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "host",
    "content-length",
    "content-type",
    "content-encoding",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "accept",
    "last-event-id",
    "forwarded",
    "x-real-ip",
    "x-request-id",
];

/// A header name the gateway may add to forwarded requests (lowercase): a token of at most 64
/// characters, none of [`RESERVED_HEADERS`] nor a credential, forwarding, fetch-metadata or MCP
/// prefix.
pub(super) fn check_header_name(key: &str, name: &str) -> Result<(), ConfigError> {
    let token = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    if !token {
        return Err(invalid(key, "a header name: 1 to 64 of A-Z a-z 0-9 - _"));
    }
    if RESERVED_HEADERS.contains(&name)
        || name.starts_with("mcp-")
        || name.starts_with("proxy-")
        || name.starts_with("sec-")
        || name.starts_with("x-forwarded-")
    {
        return Err(invalid(
            key,
            format!("{name} is reserved (credentials, framing, forwarding or MCP headers)"),
        ));
    }
    Ok(())
}

impl IdentityHeaders {
    /// Every named header, lowercase, with its key.
    #[must_use]
    pub fn named(&self) -> Vec<(&'static str, String)> {
        [
            ("user_id", &self.user_id),
            ("email", &self.email),
            ("name", &self.name),
            ("groups", &self.groups),
            ("client_id", &self.client_id),
            ("scopes", &self.scopes),
            ("client_kind", &self.client_kind),
            ("jwt", &self.jwt),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| (k, v.to_ascii_lowercase())))
        .collect()
    }

    pub(super) fn validate(&self, key: &str) -> Result<(), ConfigError> {
        let named = self.named();
        for (i, (k, name)) in named.iter().enumerate() {
            let key = format!("{key}.{k}");
            check_header_name(&key, name)?;
            if named[..i].iter().any(|(_, other)| other == name) {
                return Err(invalid(key, format!("{name} is named twice")));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "gateway_tests.rs"]
mod tests;
