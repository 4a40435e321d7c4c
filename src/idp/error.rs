//! The upstream error type: what can go wrong talking to an identity provider, with messages
//! that never contain a token, code or secret (they are logged and may reach admin output).
//! openidconnect's errors are mapped here, once.

use openidconnect::core::CoreErrorResponseType;
use openidconnect::{
    ClaimsVerificationError, DiscoveryError, RequestTokenError, StandardErrorResponse,
};

use super::http_client::HttpError;

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
    /// A refreshed ID token verified but names another subject than the stored one: the
    /// upstream no longer vouches for this user under this grant.
    #[error("the refreshed upstream ID token is for a different subject")]
    OtherSubject,
    /// Our own configuration for this upstream is unusable.
    #[error("upstream configuration: {0}")]
    Config(String),
}

impl IdpError {
    /// Discovery without a token endpoint: nothing to redeem codes at.
    #[must_use]
    pub fn no_token_endpoint() -> Self {
        Self::Discovery("the upstream metadata has no token_endpoint".to_owned())
    }

    /// True when retrying later may succeed (network trouble, 5xx).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

impl From<DiscoveryError<HttpError>> for IdpError {
    fn from(e: DiscoveryError<HttpError>) -> Self {
        match e {
            DiscoveryError::Request(e @ (HttpError::Transport(_) | HttpError::Status(_))) => {
                Self::Unavailable(e.to_string())
            }
            DiscoveryError::Request(e) => Self::Discovery(e.to_string()),
            DiscoveryError::Response(_, _, msg)
            | DiscoveryError::Validation(msg)
            | DiscoveryError::Other(msg) => Self::Discovery(msg),
            DiscoveryError::Parse(e) => Self::Discovery(format!(
                "unparseable metadata or JWKS at {}: {}",
                e.path(),
                e.inner()
            )),
            DiscoveryError::UrlParse(e) => Self::Discovery(format!("bad URL: {e}")),
            other => Self::Discovery(other.to_string()),
        }
    }
}

/// Token endpoint failures. OAuth error bodies become `Rejected`; anything else that is not an
/// OAuth answer (network, 5xx, HTML from a proxy) is `Unavailable`. Bodies are never quoted:
/// a misbehaving server might echo the code or token.
impl From<RequestTokenError<HttpError, StandardErrorResponse<CoreErrorResponseType>>> for IdpError {
    fn from(e: RequestTokenError<HttpError, StandardErrorResponse<CoreErrorResponseType>>) -> Self {
        match e {
            RequestTokenError::ServerResponse(r) => Self::Rejected {
                error: r.error().to_string(),
                description: r.error_description().cloned(),
            },
            RequestTokenError::Request(e) => Self::Unavailable(e.to_string()),
            RequestTokenError::Parse(e, _body) => Self::Unavailable(format!(
                "unparseable token endpoint response at {}",
                e.path()
            )),
            RequestTokenError::Other(msg) => Self::Unavailable(msg),
        }
    }
}

impl From<ClaimsVerificationError> for IdpError {
    fn from(e: ClaimsVerificationError) -> Self {
        Self::InvalidIdToken(e.to_string())
    }
}
