//! The upstream error type: what can go wrong talking to an identity provider, with messages
//! that never contain a token, code or secret (they are logged and may reach admin output).

/// Errors from an upstream identity provider.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdpError {
    /// Discovery or JWKS could not be fetched, parsed or validated (wrong issuer, bad JSON).
    #[error("upstream discovery failed: {0}")]
    Discovery(String),
    /// The upstream could not be reached, timed out or answered 5xx; worth retrying later.
    #[error("upstream unavailable: {0}")]
    Unavailable(String),
    /// The upstream answered with an OAuth error (RFC 6749 §5.2), e.g. `invalid_grant`.
    #[error("upstream rejected the request: {error}{}", .description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Rejected {
        /// The OAuth `error` code.
        error: String,
        /// The upstream's `error_description`, if any.
        description: Option<String>,
    },
    /// The ID token was missing or failed verification (signature, iss, aud, exp, nonce, sub).
    #[error("invalid upstream ID token: {0}")]
    InvalidIdToken(String),
    /// Our own configuration for this upstream is unusable.
    #[error("upstream configuration: {0}")]
    Config(String),
}

impl IdpError {
    /// True when retrying later may succeed (network trouble, 5xx).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}
