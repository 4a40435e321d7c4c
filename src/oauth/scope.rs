//! Scopes: the `ScopeSet` newtype (RFC 6749 §3.3) and which scopes a request may get for a
//! resource.

use std::fmt;

use super::error::Error;
use super::redirect_uri::describe_value;
use super::settings::Resource;
use crate::config::is_scope_token;

/// Longest `scope` value we accept; real requests are a few dozen bytes.
pub const MAX_SCOPE_LEN: usize = 4096;

/// Asks for a refresh token (OIDC Core §11); always allowed, never a resource scope.
pub const OFFLINE_ACCESS: &str = "offline_access";

/// OIDC scopes that clients copy from our metadata. Tolerated and kept, so the scope we answer
/// with is what they asked for, but they grant nothing at the resource.
const TOLERATED: [&str; 4] = [OFFLINE_ACCESS, "openid", "profile", "email"];

/// An ordered, duplicate-free set of scope tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(Vec<String>);

impl ScopeSet {
    /// Parses a space-delimited `scope` value (RFC 6749 §3.3). Runs of spaces are tolerated,
    /// duplicates dropped, first-seen order kept.
    ///
    /// # Errors
    /// `invalid_scope` for a token with characters outside `NQCHAR`, or an overlong value.
    pub fn parse(value: &str) -> Result<Self, Error> {
        if value.len() > MAX_SCOPE_LEN {
            return Err(Error::InvalidScope(format!(
                "scope is longer than {MAX_SCOPE_LEN} characters"
            )));
        }
        let mut set = Self::default();
        for token in value.split(' ').filter(|t| !t.is_empty()) {
            if !is_scope_token(token) {
                return Err(Error::InvalidScope(format!(
                    "{} is not a valid scope token (RFC 6749 section 3.3)",
                    describe_value(token)
                )));
            }
            set.insert(token);
        }
        Ok(set)
    }

    /// Builds a set from tokens already known to be valid (e.g. configured scopes).
    #[must_use]
    pub fn from_tokens<I, S>(tokens: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut set = Self::default();
        for t in tokens {
            set.insert(t.as_ref());
        }
        set
    }

    /// Adds a token unless present.
    pub fn insert(&mut self, token: &str) {
        if !self.contains(token) {
            self.0.push(token.to_owned());
        }
    }

    /// Whether `token` is in the set.
    #[must_use]
    pub fn contains(&self, token: &str) -> bool {
        self.0.iter().any(|t| t == token)
    }

    /// Whether every token of `self` is in `other`.
    #[must_use]
    pub fn is_subset_of(&self, other: &Self) -> bool {
        self.0.iter().all(|t| other.contains(t))
    }

    /// `self` followed by the tokens of `other` not already in it.
    #[must_use]
    pub fn union(&self, other: &Self) -> Self {
        let mut out = self.clone();
        for t in &other.0 {
            out.insert(t);
        }
        out
    }

    /// Whether the set is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Number of tokens.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The tokens in order.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// The tokens in order.
    #[must_use]
    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

/// The scope an authorization request gets for `resource`.
///
/// - No or empty `scope`: the resource's full scope set (COMPAT C15: the defaults, not the
///   narrowest, so a client that never heard of our scopes still gets a working token).
/// - Otherwise each token must be a scope of the resource, or one of `offline_access`,
///   `openid`, `profile`, `email`, which are kept but grant nothing at the resource.
/// - A request naming only those tolerated scopes (e.g. just `offline_access`, "I want a
///   refresh token") asked for no resource scope at all; it gets the defaults added, for the
///   same reason as an empty request.
///
/// # Errors
/// `invalid_scope` naming the first unknown or malformed scope (RFC 6749 §4.1.2.1).
pub fn resolve_scope(requested: Option<&str>, resource: &Resource) -> Result<ScopeSet, Error> {
    let defaults = ScopeSet::from_tokens(&resource.scopes);
    let requested = ScopeSet::parse(requested.unwrap_or_default())?;
    if let Some(unknown) = requested
        .iter()
        .find(|t| !resource.scopes.iter().any(|s| s == t) && !TOLERATED.contains(t))
    {
        return Err(Error::InvalidScope(format!(
            "scope {} is not available for resource {}",
            describe_value(unknown),
            resource.uri
        )));
    }
    if requested.iter().all(|t| TOLERATED.contains(&t)) {
        return Ok(defaults.union(&requested));
    }
    Ok(requested)
}

#[cfg(test)]
#[path = "scope_tests.rs"]
mod tests;
