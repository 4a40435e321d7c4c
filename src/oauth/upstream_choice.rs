//! Which upstream an authorization request signs in at (docs/security.md, "Clients and
//! upstreams"). The resource's list of upstreams is the security boundary: whatever picks, the
//! answer is always on it, so choosing a client (or a `login_hint`) never chooses a laxer
//! access policy. Within the list:
//!
//! 1. a client mapped to an upstream (`ClientRecord::upstream_id`, set at registration by
//!    `[[client_rules]]`, `[[clients]]` or the admin API) signs in there, and a resource that
//!    does not list it refuses the client (`invalid_target`, RFC 8707 §2);
//! 2. an unmapped client on a one-upstream resource signs in at that upstream;
//! 3. otherwise home-realm discovery: a `login_hint` (OIDC Core §3.1.2.1) that is an email
//!    address whose domain an upstream of the list claims (`[[upstreams]] domains`) picks it;
//! 4. otherwise the user chooses on the consent page among the resource's upstreams.

use super::error::Error;
use super::redirect_uri::describe_value;
use super::settings::{Resource, Settings};
use crate::store::ClientRecord;

/// Longest `login_hint` accepted (an email address is at most 254 characters; some IdPs take
/// user names or opaque hints, so a little more).
pub const MAX_LOGIN_HINT_LEN: usize = 512;

/// Where the sign-in goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamChoice {
    /// This upstream, decided by `by`.
    Decided { upstream: String, by: DecidedBy },
    /// The user chooses among these (the resource's list, at least two).
    Ask(Vec<String>),
}

/// What decided the upstream (recorded in the `authorize_started` audit event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecidedBy {
    /// The client's mapping.
    Client,
    /// The resource accepts one upstream.
    Resource,
    /// Home-realm discovery from `login_hint`.
    HomeRealm,
}

impl DecidedBy {
    /// The audit spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Resource => "resource",
            Self::HomeRealm => "home_realm",
        }
    }
}

impl UpstreamChoice {
    /// The decided upstream, `None` while the user has to choose.
    #[must_use]
    pub fn decided(&self) -> Option<&str> {
        match self {
            Self::Decided { upstream, .. } => Some(upstream),
            Self::Ask(_) => None,
        }
    }
}

/// Picks the upstream for `client` asking for `resource` (see the module's rules).
///
/// # Errors
/// `invalid_target` for a client mapped to an upstream the resource does not list.
pub fn choose(
    client: &ClientRecord,
    resource: &Resource,
    login_hint: Option<&str>,
    settings: &Settings,
) -> Result<UpstreamChoice, Error> {
    if let Some(mapped) = client.mapped_upstream() {
        if resource.upstreams.iter().any(|u| u == mapped) {
            return Ok(UpstreamChoice::Decided {
                upstream: mapped.to_owned(),
                by: DecidedBy::Client,
            });
        }
        return Err(Error::InvalidTarget(format!(
            "this client may not use resource {}: its users sign in at identity provider \
             {}, which this resource does not accept",
            describe_value(&resource.uri),
            describe_value(mapped)
        )));
    }
    if let [only] = resource.upstreams.as_slice() {
        return Ok(UpstreamChoice::Decided {
            upstream: only.clone(),
            by: DecidedBy::Resource,
        });
    }
    let realm = login_hint
        .and_then(email_domain)
        .and_then(|d| settings.home_realm(&d))
        .filter(|u| resource.upstreams.iter().any(|r| r == u));
    Ok(match realm {
        Some(u) => UpstreamChoice::Decided {
            upstream: u.to_owned(),
            by: DecidedBy::HomeRealm,
        },
        None => UpstreamChoice::Ask(resource.upstreams.clone()),
    })
}

/// The lowercase domain of a hint that looks like an email address (`local@domain`, one `@`,
/// both sides non-empty); `None` for anything else (a user name, an opaque hint).
#[must_use]
pub fn email_domain(hint: &str) -> Option<String> {
    let (local, domain) = hint.trim().split_once('@')?;
    if local.is_empty() || domain.is_empty() || domain.contains('@') {
        return None;
    }
    Some(domain.to_ascii_lowercase())
}

/// Checks a `login_hint` from the authorization request: bounded, printable.
///
/// # Errors
/// `invalid_request` for one too long or with control characters.
pub fn check_login_hint(hint: &str) -> Result<(), Error> {
    if hint.len() > MAX_LOGIN_HINT_LEN {
        return Err(Error::InvalidRequest(format!(
            "login_hint is longer than {MAX_LOGIN_HINT_LEN} characters"
        )));
    }
    if hint.chars().any(char::is_control) {
        return Err(Error::InvalidRequest(
            "login_hint contains control characters".to_owned(),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "upstream_choice_tests.rs"]
mod tests;
