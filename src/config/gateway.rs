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
    /// Seconds between polls of the store for revoked access tokens. A revoked token stops
    /// opening a proxied resource within this bound (plus one store query).
    pub revocation_poll_seconds: u64,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 4 * 1024 * 1024,
            connect_timeout_seconds: 5,
            response_timeout_seconds: 30,
            revocation_poll_seconds: 10,
        }
    }
}

/// Largest accepted `max_body_bytes` (256 MiB): a typo should not remove the limit.
const MAX_BODY_CEILING: usize = 256 * 1024 * 1024;

impl GatewaySettings {
    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=MAX_BODY_CEILING).contains(&self.max_body_bytes) {
            return Err(invalid(
                "gateway.max_body_bytes",
                format!("must be 1 to {MAX_BODY_CEILING}"),
            ));
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
