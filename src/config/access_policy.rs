//! Access policy keys shared by `[upstreams.policy]` and `[resources.policy]`, checked against
//! the kind of the upstream they apply to, and a resource's group→scope mapping
//! (`[[resources.scope_grants]]`). Both are checked in `Config::validate`.

use serde::{Deserialize, Serialize};

use super::{invalid, AccessPolicy, ConfigError, ResourceConfig, UpstreamKind};

/// `[[resources.scope_grants]]`: the listed scopes of the resource are granted only to users in
/// one of the listed groups. A scope named in no entry is open to everyone the policies admit;
/// a scope named in several entries is granted to the members of any of their groups.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScopeGrant {
    /// Groups (as the upstream names them: the ID token's groups claim; GitHub `org` and
    /// `org/team-slug`) whose members may get `scopes`.
    pub groups: Vec<String>,
    /// Scopes of this resource reserved to those groups.
    pub scopes: Vec<String>,
}

/// A lowercase DNS domain, exact (no wildcard, no leading dot, no `@`).
fn is_plain_domain(d: &str) -> bool {
    !d.is_empty()
        && d.len() <= 253
        && *d == d.to_ascii_lowercase()
        && !d.contains(['@', '*', ' ', '/', ':'])
        && !d.starts_with('.')
        && !d.ends_with('.')
}

/// Checks one policy's values and that its kind-specific keys fit `kind`, naming keys under
/// `prefix` (`upstreams[0].policy`, `resources[1].policy`).
///
/// # Errors
/// The first key that is wrong.
pub(super) fn validate_policy(
    prefix: &str,
    kind: UpstreamKind,
    p: &AccessPolicy,
) -> Result<(), ConfigError> {
    let key = |f: &str| format!("{prefix}.{f}");
    if !p.allowed_tenants.is_empty() && kind != UpstreamKind::Entra {
        return Err(invalid(
            key("allowed_tenants"),
            "only an upstream with kind = \"entra\" has tenants",
        ));
    }
    for t in &p.allowed_tenants {
        if !super::is_tenant_id(t) {
            return Err(invalid(
                key("allowed_tenants"),
                format!("{t:?}: a tenant id, a lowercase GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47"),
            ));
        }
    }
    for d in &p.allowed_email_domains {
        if !is_plain_domain(d) {
            return Err(invalid(
                key("allowed_email_domains"),
                format!("{d:?}: a lowercase domain such as example.com (exact match, no wildcard)"),
            ));
        }
    }
    if !p.allowed_hosted_domains.is_empty() && kind != UpstreamKind::Google {
        return Err(invalid(
            key("allowed_hosted_domains"),
            "only an upstream with kind = \"google\" has hosted domains (the hd claim)",
        ));
    }
    for d in &p.allowed_hosted_domains {
        if !is_plain_domain(d) {
            return Err(invalid(
                key("allowed_hosted_domains"),
                format!("{d:?}: a lowercase Google Workspace domain such as acme.com (exact match, no wildcard)"),
            ));
        }
    }
    if kind != UpstreamKind::Github {
        for (k, list) in [
            ("allowed_orgs", &p.allowed_orgs),
            ("allowed_teams", &p.allowed_teams),
        ] {
            if !list.is_empty() {
                return Err(invalid(
                    key(k),
                    "only an upstream with kind = \"github\" has it",
                ));
            }
        }
    } else if !p.allowed_groups.is_empty() {
        return Err(invalid(
            key("allowed_groups"),
            "GitHub has no groups: use allowed_orgs or allowed_teams",
        ));
    }
    for o in &p.allowed_orgs {
        if !super::upstreams::is_github_login(o) {
            return Err(invalid(
                key("allowed_orgs"),
                format!("{o:?}: an organisation login such as acme-corp"),
            ));
        }
    }
    for t in &p.allowed_teams {
        let ok = t.split_once('/').is_some_and(|(org, slug)| {
            super::upstreams::is_github_login(org) && super::upstreams::is_team_slug(slug)
        });
        if !ok {
            return Err(invalid(
                key("allowed_teams"),
                format!("{t:?}: org/team-slug such as acme-corp/platform-team"),
            ));
        }
    }
    for g in &p.allowed_groups {
        if g.is_empty() {
            return Err(invalid(key("allowed_groups"), "a group name is empty"));
        }
    }
    Ok(())
}

impl super::Config {
    /// `up` as its identity-provider client must see it: for `kind = "github"`, the
    /// organisations and teams of the `[resources.policy]` of every resource signing in there
    /// are added to the upstream's own, because GitHub's identity lists only the memberships it
    /// was asked to look up (and asks for `read:org` only when there are some). The upstream's
    /// own policy (`Upstream::policy`) stays what is configured.
    #[must_use]
    pub fn upstream_for_idp(&self, up: &super::UpstreamConfig) -> super::UpstreamConfig {
        let mut view = up.clone();
        if up.kind != UpstreamKind::Github {
            return view;
        }
        let resources = self
            .resources
            .iter()
            .filter(|r| self.resource_upstreams(r).contains(&up.id));
        for r in resources {
            for (mine, theirs) in [
                (&mut view.policy.allowed_orgs, &r.policy.allowed_orgs),
                (&mut view.policy.allowed_teams, &r.policy.allowed_teams),
            ] {
                for x in theirs {
                    if !mine.iter().any(|m| m.eq_ignore_ascii_case(x)) {
                        mine.push(x.clone());
                    }
                }
            }
        }
        view
    }

    /// `[resources.policy]` against the kind of the resource's upstream, and
    /// `[[resources.scope_grants]]` against the resource's scopes.
    pub(super) fn validate_resource_access(
        &self,
        i: usize,
        r: &ResourceConfig,
    ) -> Result<(), ConfigError> {
        // Checked against every upstream the resource accepts: a kind-specific key (GitHub's
        // organisations, Entra's tenants) on a resource that also accepts another kind is
        // refused, since it could admit nobody from the other.
        let upstreams: Vec<_> = self
            .resource_upstreams(r)
            .iter()
            .filter_map(|id| self.upstreams.iter().find(|u| &u.id == id))
            .collect();
        if upstreams.is_empty() {
            validate_policy(
                &format!("resources[{i}].policy"),
                UpstreamKind::Oidc,
                &r.policy,
            )?;
        }
        for up in upstreams {
            validate_policy(&format!("resources[{i}].policy"), up.kind, &r.policy)?;
            // As for the upstream's own policy (idp/kinds/entra.rs): in a multi-tenant Entra
            // application every tenant's administrator gives their users any address, so an
            // email domain restricts nothing unless some tenant list does.
            let any_tenant = up.kind == UpstreamKind::Entra
                && up.issuer.as_ref().is_some_and(|u| {
                    u.path_segments()
                        .and_then(|mut p| p.next())
                        .is_some_and(|t| t == "organizations" || t == "common")
                })
                && up.policy.allowed_tenants.is_empty()
                && r.policy.allowed_tenants.is_empty();
            if any_tenant && !r.policy.allowed_email_domains.is_empty() {
                return Err(invalid(
                    format!("resources[{i}].policy.allowed_email_domains"),
                    "cannot restrict a multi-tenant Entra upstream (any tenant can give its users any email address); set allowed_tenants to the tenant ids you trust",
                ));
            }
        }
        let key = format!("resources[{i}].scope_grants");
        for (j, g) in r.scope_grants.iter().enumerate() {
            let key = |f: &str| format!("{key}[{j}].{f}");
            if g.groups.is_empty() || g.groups.iter().any(String::is_empty) {
                return Err(invalid(
                    key("groups"),
                    "name at least one group (no empty names)",
                ));
            }
            if g.scopes.is_empty() {
                return Err(invalid(key("scopes"), "name at least one scope"));
            }
            for s in &g.scopes {
                if !r.scopes.contains(s) {
                    return Err(invalid(
                        key("scopes"),
                        format!("{s:?} is not one of this resource's scopes"),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "access_policy_tests.rs"]
mod tests;
