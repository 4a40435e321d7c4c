//! The access decision for one user and one resource, at sign-in and again whenever the
//! upstream re-confirms the user at our refresh (the token vault): the upstream's
//! `[upstreams.policy]` and the resource's `[resources.policy]` must both admit the user, and
//! the scopes the user may get are the requested ones minus those the resource reserves
//! (`[[resources.scope_grants]]`) to groups the user is not in.

use crate::config::{AccessPolicy, ScopeGrant};
use crate::oauth::policy::{self, Refusal, Subject};
use crate::oauth::Error;

/// What a resource adds to the upstream's policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceAccess {
    /// Who may use the resource, beyond the upstream's policy.
    pub policy: AccessPolicy,
    /// Scopes reserved to groups.
    pub scope_grants: Vec<ScopeGrant>,
}

/// Whose policy refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyOwner {
    /// `[upstreams.policy]`.
    Upstream,
    /// `[resources.policy]`.
    Resource,
}

/// A refusal and whose policy it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Denial {
    pub refusal: Refusal,
    pub by: PolicyOwner,
}

impl Denial {
    /// The audit reason: the refusal's (`policy_groups`), prefixed `resource_` when the
    /// resource's policy refused (`resource_policy_groups`).
    #[must_use]
    pub fn reason(self) -> &'static str {
        match self.by {
            PolicyOwner::Upstream => self.refusal.as_str(),
            PolicyOwner::Resource => resource_reason(self.refusal),
        }
    }

    /// What the client and the user are told.
    #[must_use]
    pub fn to_error(self) -> Error {
        match (self.by, self.refusal.to_error()) {
            (PolicyOwner::Resource, Error::AccessDenied(text)) => Error::AccessDenied(format!(
                "{text} (the MCP server you are connecting to has its own access policy)"
            )),
            (_, e) => e,
        }
    }
}

fn resource_reason(r: Refusal) -> &'static str {
    match r {
        Refusal::NoEmail => "resource_policy_no_email",
        Refusal::UnverifiedEmail => "resource_policy_unverified_email",
        Refusal::Domain => "resource_policy_email_domain",
        Refusal::Groups => "resource_policy_groups",
        Refusal::Tenant => "resource_policy_tenant",
        Refusal::GroupsOverage => "resource_policy_groups_overage",
        Refusal::GithubOrg => "resource_policy_github_org",
        Refusal::GithubTeam => "resource_policy_github_team",
        Refusal::NoHostedDomain => "resource_policy_no_hosted_domain",
        Refusal::HostedDomain => "resource_policy_hosted_domain",
    }
}

/// Both policies must admit `subject`; the upstream's is asked first.
///
/// # Errors
/// The first refusal, with its owner.
pub fn admit(
    upstream: &AccessPolicy,
    resource: &AccessPolicy,
    subject: Subject<'_>,
) -> Result<(), Denial> {
    policy::check(upstream, subject).map_err(|refusal| Denial {
        refusal,
        by: PolicyOwner::Upstream,
    })?;
    policy::check(resource, subject).map_err(|refusal| Denial {
        refusal,
        by: PolicyOwner::Resource,
    })
}

/// `requested` (space-separated) split into what `subject` may get and what the resource's
/// scope grants withhold from them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeDecision {
    /// Granted scopes, in the requested order, space-separated.
    pub granted: String,
    /// Requested scopes the user is in none of the groups for.
    pub withheld: Vec<String>,
}

/// Applies `grants` to `requested`. A scope no grant names is open; a named one needs one of
/// its groups among the user's. An incomplete group list (Entra's overage) proves no
/// membership: reserved scopes are withheld.
#[must_use]
pub fn decide_scope(requested: &str, grants: &[ScopeGrant], subject: Subject<'_>) -> ScopeDecision {
    let mut granted: Vec<&str> = Vec::new();
    let mut withheld = Vec::new();
    for scope in requested.split_whitespace() {
        let mut holders = grants
            .iter()
            .filter(|g| g.scopes.iter().any(|s| s == scope))
            .peekable();
        let open = holders.peek().is_none();
        let member = !subject.groups_incomplete
            && holders.any(|g| g.groups.iter().any(|x| subject.groups.contains(x)));
        if open || member {
            granted.push(scope);
        } else {
            withheld.push(scope.to_owned());
        }
    }
    ScopeDecision {
        granted: granted.join(" "),
        withheld,
    }
}

/// The answer when nothing of a non-empty request remains for the user.
#[must_use]
pub fn no_scope_left(withheld: &[String]) -> Error {
    Error::AccessDenied(format!(
        "your account may not get any of the requested scopes ({}): they are reserved to groups you are not a member of; ask the administrator",
        withheld.join(" ")
    ))
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
