//! The access policy of an upstream (`[upstreams.policy]`): who may sign in, decided after the
//! upstream's ID token verified and before any code of ours exists. A refusal is an
//! `access_denied` for the client and a `login_failed` audit event with the reason.

use crate::config::AccessPolicy;
use crate::oauth::Error;

/// The facts about a user the policy looks at.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub email: Option<&'a str>,
    pub email_verified: Option<bool>,
    /// Group names; for GitHub, the organisations (`org`) and teams (`org/team-slug`) the
    /// upstream found the user an active member of.
    pub groups: &'a [String],
    /// The verified tenant (Entra's `tid`), for upstreams that have tenants.
    pub tenant: Option<&'a str>,
    /// The IdP left the groups out of the token (Entra's groups overage).
    pub groups_incomplete: bool,
    /// Google: the Workspace domain of the verified `hd` claim.
    pub hosted_domain: Option<&'a str>,
}

impl<'a> From<&'a crate::idp::UpstreamIdentity> for Subject<'a> {
    fn from(identity: &'a crate::idp::UpstreamIdentity) -> Self {
        Self {
            email: identity.email.as_deref(),
            email_verified: identity.email_verified,
            groups: &identity.groups,
            tenant: identity.tenant.as_deref(),
            groups_incomplete: identity.groups_incomplete,
            hosted_domain: identity.hosted_domain.as_deref(),
        }
    }
}

/// Why a user was refused (for the audit log; the client only sees `access_denied`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No email, while domains are restricted.
    NoEmail,
    /// The upstream says the email is not verified.
    UnverifiedEmail,
    /// The email's domain is not allowed.
    Domain,
    /// None of the user's groups is allowed.
    Groups,
    /// The user's tenant (Entra `tid`) is not allowed, or the upstream named none.
    Tenant,
    /// Groups are restricted and the IdP left the user's groups out of the token.
    GroupsOverage,
    /// GitHub: the user is an active member of none of the allowed organisations.
    GithubOrg,
    /// GitHub: the user is in none of the allowed teams.
    GithubTeam,
    /// Google: the account has no `hd` claim (a consumer account, gmail.com) while Workspace
    /// domains are restricted.
    NoHostedDomain,
    /// Google: the account's Workspace domain (`hd`) is not allowed.
    HostedDomain,
}

impl Refusal {
    /// Short reason for the audit log.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NoEmail => "policy_no_email",
            Self::UnverifiedEmail => "policy_unverified_email",
            Self::Domain => "policy_email_domain",
            Self::Groups => "policy_groups",
            Self::Tenant => "policy_tenant",
            Self::GroupsOverage => "policy_groups_overage",
            Self::GithubOrg => "policy_github_org",
            Self::GithubTeam => "policy_github_team",
            Self::NoHostedDomain => "policy_no_hosted_domain",
            Self::HostedDomain => "policy_hosted_domain",
        }
    }

    /// The error the client and the user see: what to ask the administrator, nothing more.
    #[must_use]
    pub fn to_error(self) -> Error {
        Error::AccessDenied(match self {
            Self::NoEmail | Self::UnverifiedEmail | Self::Domain => {
                "your account's email address is not allowed to use this server".to_owned()
            }
            Self::Groups => "your account is not in a group allowed to use this server".to_owned(),
            Self::GroupsOverage => "your account is in too many groups for the identity provider to list them in its token; ask the administrator to use groups assigned to the application or app roles".to_owned(),
            Self::Tenant => {
                "your organisation's directory (tenant) is not allowed to use this server"
                    .to_owned()
            }
            Self::GithubOrg => "your GitHub account is not an active member of a GitHub organisation allowed to use this server (if you are, an organisation owner may have to approve this application for the organisation)".to_owned(),
            Self::GithubTeam => "your GitHub account is not a member of a GitHub team allowed to use this server".to_owned(),
            Self::NoHostedDomain => "this server accepts only Google Workspace accounts of its organisation; a personal Google account cannot be used".to_owned(),
            Self::HostedDomain => "your Google Workspace organisation is not allowed to use this server".to_owned(),
        })
    }
}

/// Checks `subject` against `policy`.
///
/// # Errors
/// The first rule that fails.
pub fn check(policy: &AccessPolicy, subject: Subject<'_>) -> Result<(), Refusal> {
    // Tenants first: a user of a foreign tenant is refused whatever their email or groups say
    // (group ids are only meaningful inside one tenant).
    if !policy.allowed_tenants.is_empty()
        && !subject
            .tenant
            .is_some_and(|t| policy.allowed_tenants.iter().any(|a| a == t))
    {
        return Err(Refusal::Tenant);
    }
    // Google Workspace by the verified `hd` claim, never the `hd` request parameter (the user
    // can edit it): UPSTREAMS §3.4. Config validation keeps the list to `kind = "google"`.
    if !policy.allowed_hosted_domains.is_empty() {
        let hd = subject.hosted_domain.ok_or(Refusal::NoHostedDomain)?;
        if !policy.allowed_hosted_domains.iter().any(|d| d == hd) {
            return Err(Refusal::HostedDomain);
        }
    }
    if !policy.allowed_email_domains.is_empty() {
        let email = subject.email.ok_or(Refusal::NoEmail)?;
        // Entra sends no email_verified at all; only an explicit `false` refuses.
        if subject.email_verified == Some(false) {
            return Err(Refusal::UnverifiedEmail);
        }
        let domain = email
            .rsplit_once('@')
            .map(|(_, d)| d.to_ascii_lowercase())
            .ok_or(Refusal::Domain)?;
        if !policy.allowed_email_domains.contains(&domain) {
            return Err(Refusal::Domain);
        }
    }
    if !policy.allowed_groups.is_empty() && subject.groups_incomplete {
        return Err(Refusal::GroupsOverage);
    }
    if !policy.allowed_groups.is_empty()
        && !subject
            .groups
            .iter()
            .any(|g| policy.allowed_groups.contains(g))
    {
        return Err(Refusal::Groups);
    }
    // GitHub logins and slugs are case-insensitive. Config validation keeps these lists to
    // `kind = "github"`, whose groups come from its API, never from a token claim.
    let member = |allowed: &[String]| {
        subject
            .groups
            .iter()
            .any(|g| allowed.iter().any(|a| a.eq_ignore_ascii_case(g)))
    };
    if !policy.allowed_orgs.is_empty() && !member(&policy.allowed_orgs) {
        return Err(Refusal::GithubOrg);
    }
    if !policy.allowed_teams.is_empty() && !member(&policy.allowed_teams) {
        return Err(Refusal::GithubTeam);
    }
    Ok(())
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
