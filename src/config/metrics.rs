//! The `[metrics]` section: whether `/metrics` is served, and whether it needs an admin token.

use serde::{Deserialize, Serialize};

/// Prometheus metrics at `/metrics`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// Serve `/metrics` (and record metrics at all). Default true.
    pub enabled: bool,
    /// Serve `/metrics` on the main listener without an admin token. Default false: there it
    /// needs an admin token (read-only is enough); with `admin_listen` set it is served on the
    /// admin listener without a token and not on the main one.
    pub public: bool,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            public: false,
        }
    }
}
