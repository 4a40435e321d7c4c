//! The protocol error: one variant per RFC error code, mapped to the wire once in `http::error`.
//!
//! The `String` in each variant is the `error_description` shown to the client: it must never
//! carry an internal cause. Internal failures use `Server`, whose source is logged, not shown.
//! What reaches the wire goes through [`Error::wire_description`], which keeps it inside the
//! character set RFC 6749 allows.

use std::borrow::Cow;

use crate::store::StoreError;

/// An OAuth error as defined by RFC 6749 §4.1.2.1/§5.2, RFC 7591 §3.2.2, RFC 8707 §2,
/// RFC 7009 §2.2.1 and RFC 6750 §3.1.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// RFC 6749: the request is missing or repeats a parameter, or is malformed.
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    /// RFC 6749 §5.2: client authentication failed (unknown client, bad secret, wrong method).
    /// `basic` says whether the client tried HTTP Basic, which makes the answer a 401 challenge.
    #[error("invalid_client: {description}")]
    InvalidClient { description: String, basic: bool },
    /// RFC 6749 §5.2: code, refresh token or PKCE verifier invalid, expired, revoked or reused.
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    /// The client may not use this grant or response type.
    #[error("unauthorized_client: {0}")]
    UnauthorizedClient(String),
    /// The grant type is not supported.
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    /// The response type is not supported.
    #[error("unsupported_response_type: {0}")]
    UnsupportedResponseType(String),
    /// The scope is invalid, unknown or exceeds what was granted.
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    /// RFC 8707 §2: the resource is not one this server issues tokens for.
    #[error("invalid_target: {0}")]
    InvalidTarget(String),
    /// The user or the server denied the request.
    #[error("access_denied: {0}")]
    AccessDenied(String),
    /// RFC 7591 §3.2.2: a redirect URI is not acceptable.
    #[error("invalid_redirect_uri: {0}")]
    InvalidRedirectUri(String),
    /// RFC 7591 §3.2.2: some other client metadata is not acceptable.
    #[error("invalid_client_metadata: {0}")]
    InvalidClientMetadata(String),
    /// RFC 7009 §2.2.1: the server does not revoke this token type.
    #[error("unsupported_token_type: {0}")]
    UnsupportedTokenType(String),
    /// RFC 6750 §3.1: the bearer token is missing, expired, revoked or malformed.
    #[error("invalid_token: {0}")]
    InvalidToken(String),
    /// OIDC Core §3.1.2.6: `prompt=none` was asked, but the user must interact (consent and
    /// the upstream login always need a page).
    #[error("interaction_required: {0}")]
    InteractionRequired(String),
    /// The upstream identity provider failed or is unreachable (answered as 503 / redirect
    /// `temporarily_unavailable`).
    #[error("temporarily_unavailable: {0}")]
    TemporarilyUnavailable(String),
    /// An internal failure; the source is logged and never shown.
    #[error("server_error")]
    Server(#[source] anyhow::Error),
}

impl Error {
    /// The RFC error code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient { .. } => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::UnsupportedGrantType(_) => "unsupported_grant_type",
            Self::UnsupportedResponseType(_) => "unsupported_response_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::InvalidTarget(_) => "invalid_target",
            Self::AccessDenied(_) => "access_denied",
            Self::InvalidRedirectUri(_) => "invalid_redirect_uri",
            Self::InvalidClientMetadata(_) => "invalid_client_metadata",
            Self::UnsupportedTokenType(_) => "unsupported_token_type",
            Self::InvalidToken(_) => "invalid_token",
            Self::TemporarilyUnavailable(_) => "temporarily_unavailable",
            Self::InteractionRequired(_) => "interaction_required",
            Self::Server(_) => "server_error",
        }
    }

    /// The `error_description` safe to show; `None` for internal errors.
    #[must_use]
    pub fn description(&self) -> Option<&str> {
        match self {
            Self::InvalidRequest(d)
            | Self::InvalidGrant(d)
            | Self::UnauthorizedClient(d)
            | Self::UnsupportedGrantType(d)
            | Self::UnsupportedResponseType(d)
            | Self::InvalidScope(d)
            | Self::InvalidTarget(d)
            | Self::AccessDenied(d)
            | Self::InvalidRedirectUri(d)
            | Self::InvalidClientMetadata(d)
            | Self::UnsupportedTokenType(d)
            | Self::InvalidToken(d)
            | Self::TemporarilyUnavailable(d)
            | Self::InteractionRequired(d) => Some(d),
            Self::InvalidClient { description, .. } => Some(description),
            Self::Server(_) => None,
        }
    }

    /// The `error_description` as sent to the client (JSON body or error redirect): only
    /// characters RFC 6749 §4.1.2.1 / §5.2 allow, so text that came from elsewhere (the upstream,
    /// a client's metadata) cannot break a client's parser. `None` when there is nothing to say.
    #[must_use]
    pub fn wire_description(&self) -> Option<Cow<'_, str>> {
        self.description()
            .map(sanitize_description)
            .filter(|d| !d.is_empty())
    }

    /// Shorthand for an `invalid_client` answer to a client that did not use Basic.
    #[must_use]
    pub fn invalid_client(description: impl Into<String>) -> Self {
        Self::InvalidClient {
            description: description.into(),
            basic: false,
        }
    }

    /// Shorthand for an internal error.
    pub fn server(source: impl Into<anyhow::Error>) -> Self {
        Self::Server(source.into())
    }
}

/// What a client is told while the database is unreachable.
/// `Retry-After` seconds of every 503 `temporarily_unavailable` (OAuth endpoints and the admin
/// API alike): a database failover or restart, or a SQLite file another process holds, is over
/// in a few seconds (RFC 9110 §15.6.4).
pub const UNAVAILABLE_RETRY_SECONDS: u32 = 5;
pub const DATABASE_UNAVAILABLE: &str = "the service is temporarily unavailable; try again shortly";

impl From<StoreError> for Error {
    /// A database that is down or going away is a 503 `temporarily_unavailable` (the client may
    /// retry, on this or another replica); any other store failure is internal.
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "database unavailable");
            Self::TemporarilyUnavailable(DATABASE_UNAVAILABLE.to_owned())
        } else {
            Self::Server(e.into())
        }
    }
}

/// Whether RFC 6749 allows `c` in `error_description`: `%x20-21 / %x23-5B / %x5D-7E`, that is
/// printable ASCII and space without `"` and `\`.
#[must_use]
pub fn is_description_char(c: char) -> bool {
    matches!(c, ' '..='!' | '#'..='[' | ']'..='~')
}

/// Maps `text` onto the `error_description` character set (RFC 6749 §4.1.2.1, §5.2): `"` becomes
/// `'`, `\` becomes `/`, `§` becomes `section`, whitespace and control characters become one
/// space, anything else outside the set becomes `?`. Borrowed when nothing needs replacing.
#[must_use]
pub fn sanitize_description(text: &str) -> Cow<'_, str> {
    if text.chars().all(is_description_char) {
        return Cow::Borrowed(text.trim());
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if is_description_char(c) => out.push(c),
            '"' => out.push('\''),
            '\\' => out.push('/'),
            // Our own messages cite RFC sections; keep them readable.
            '§' => {
                out.push_str("section");
                if chars.peek().is_some_and(|n| !n.is_whitespace()) {
                    out.push(' ');
                }
            }
            c if c.is_whitespace() || c.is_control() => {
                if !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            _ => out.push('?'),
        }
    }
    Cow::Owned(out.trim().to_owned())
}

/// Result alias for the protocol core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
