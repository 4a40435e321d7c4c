use super::*;

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn groups_policy(groups: &[&str]) -> AccessPolicy {
    AccessPolicy {
        allowed_groups: strings(groups),
        ..AccessPolicy::default()
    }
}

fn who(groups: &[String]) -> Subject<'_> {
    Subject {
        email: Some("a@example.com"),
        email_verified: Some(true),
        groups,
        tenant: None,
        groups_incomplete: false,
        hosted_domain: None,
    }
}

#[test]
fn both_policies_must_admit_and_the_owner_is_named() {
    let eng = strings(&["engineering"]);
    let open = AccessPolicy::default();
    assert_eq!(admit(&open, &open, who(&eng)), Ok(()));
    assert_eq!(
        admit(
            &groups_policy(&["engineering"]),
            &groups_policy(&["sre"]),
            who(&eng)
        ),
        Err(Denial {
            refusal: Refusal::Groups,
            by: PolicyOwner::Resource
        })
    );
    // The upstream is asked first: its refusal wins when both refuse.
    let denial = admit(
        &groups_policy(&["sales"]),
        &groups_policy(&["sre"]),
        who(&eng),
    )
    .unwrap_err();
    assert_eq!(denial.by, PolicyOwner::Upstream);
    assert_eq!(denial.reason(), "policy_groups");
    // A resource that restricts on its own, the upstream open.
    let denial = admit(&open, &groups_policy(&["sre"]), who(&eng)).unwrap_err();
    assert_eq!(denial.reason(), "resource_policy_groups");
    let Error::AccessDenied(text) = denial.to_error() else {
        panic!("not access_denied");
    };
    assert!(
        text.contains("group") && text.contains("its own access policy"),
        "{text}"
    );
    // Every refusal has a resource reason of its own.
    for r in [
        Refusal::NoEmail,
        Refusal::UnverifiedEmail,
        Refusal::Domain,
        Refusal::Groups,
        Refusal::Tenant,
        Refusal::GroupsOverage,
        Refusal::GithubOrg,
        Refusal::GithubTeam,
        Refusal::NoHostedDomain,
        Refusal::HostedDomain,
    ] {
        let d = Denial {
            refusal: r,
            by: PolicyOwner::Resource,
        };
        assert_eq!(d.reason(), format!("resource_{}", r.as_str()));
    }
}

fn grant(groups: &[&str], scopes: &[&str]) -> ScopeGrant {
    ScopeGrant {
        groups: strings(groups),
        scopes: strings(scopes),
    }
}

#[test]
fn reserved_scopes_go_to_members_only_and_open_ones_to_everyone() {
    let grants = [
        grant(&["mcp-admins"], &["admin:write"]),
        grant(&["auditors", "mcp-admins"], &["audit:read"]),
    ];
    let admin = strings(&["mcp-admins"]);
    let d = decide_scope("mcp:read admin:write audit:read", &grants, who(&admin));
    assert_eq!(d.granted, "mcp:read admin:write audit:read");
    assert!(d.withheld.is_empty());

    let auditor = strings(&["auditors"]);
    let d = decide_scope("mcp:read admin:write audit:read", &grants, who(&auditor));
    assert_eq!(d.granted, "mcp:read audit:read");
    assert_eq!(d.withheld, ["admin:write"]);

    let nobody: Vec<String> = Vec::new();
    let d = decide_scope("admin:write", &grants, who(&nobody));
    assert_eq!(d.granted, "");
    assert_eq!(d.withheld, ["admin:write"]);
    let Error::AccessDenied(text) = no_scope_left(&d.withheld) else {
        panic!("not access_denied");
    };
    assert!(text.contains("admin:write"), "{text}");

    // Nothing requested, nothing withheld; no grants, everything open.
    assert_eq!(decide_scope("", &grants, who(&nobody)).granted, "");
    assert_eq!(decide_scope("a b", &[], who(&nobody)).granted, "a b");
}

#[test]
fn an_incomplete_group_list_proves_no_membership() {
    let grants = [grant(&["mcp-admins"], &["admin:write"])];
    let admin = strings(&["mcp-admins"]);
    let mut s = who(&admin);
    s.groups_incomplete = true;
    let d = decide_scope("mcp:read admin:write", &grants, s);
    assert_eq!(d.granted, "mcp:read");
    assert_eq!(d.withheld, ["admin:write"]);
}

#[test]
fn group_names_match_exactly() {
    let grants = [grant(&["mcp-admins"], &["admin:write"])];
    for near in ["MCP-Admins", "mcp-admins ", "mcp"] {
        let g = strings(&[near]);
        assert_eq!(
            decide_scope("admin:write", &grants, who(&g)).withheld,
            ["admin:write"],
            "{near:?}"
        );
    }
}
