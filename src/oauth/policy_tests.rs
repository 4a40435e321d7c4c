use super::*;

fn policy(domains: &[&str], groups: &[&str]) -> AccessPolicy {
    AccessPolicy {
        allowed_email_domains: domains.iter().map(|s| (*s).to_owned()).collect(),
        allowed_groups: groups.iter().map(|s| (*s).to_owned()).collect(),
        allowed_tenants: Vec::new(),
        ..AccessPolicy::default()
    }
}

fn who<'a>(email: Option<&'a str>, verified: Option<bool>, groups: &'a [String]) -> Subject<'a> {
    Subject {
        email,
        email_verified: verified,
        groups,
        tenant: None,
        groups_incomplete: false,
        hosted_domain: None,
    }
}

#[test]
fn empty_policy_allows_everyone() {
    assert_eq!(check(&policy(&[], &[]), who(None, None, &[])), Ok(()));
}

#[test]
fn email_domains() {
    let p = policy(&["example.com"], &[]);
    assert_eq!(
        check(&p, who(Some("a@example.com"), Some(true), &[])),
        Ok(())
    );
    assert_eq!(check(&p, who(Some("a@EXAMPLE.com"), None, &[])), Ok(()));
    assert_eq!(
        check(&p, who(Some("a@evil.com"), Some(true), &[])),
        Err(Refusal::Domain)
    );
    // Suffix tricks: exact domain only.
    assert_eq!(
        check(&p, who(Some("a@example.com.evil.com"), None, &[])),
        Err(Refusal::Domain)
    );
    assert_eq!(
        check(&p, who(Some("a@evil@example.com"), None, &[])),
        Ok(())
    );
    assert_eq!(
        check(&p, who(Some("a@sub.example.com"), None, &[])),
        Err(Refusal::Domain)
    );
    assert_eq!(
        check(&p, who(Some("example.com"), None, &[])),
        Err(Refusal::Domain)
    );
    assert_eq!(check(&p, who(None, None, &[])), Err(Refusal::NoEmail));
    assert_eq!(
        check(&p, who(Some("a@example.com"), Some(false), &[])),
        Err(Refusal::UnverifiedEmail)
    );
}

#[test]
fn groups_need_one_match() {
    let p = policy(&[], &["engineering", "sre"]);
    let eng = vec!["sales".to_owned(), "sre".to_owned()];
    assert_eq!(check(&p, who(None, None, &eng)), Ok(()));
    let sales = vec!["sales".to_owned()];
    assert_eq!(check(&p, who(None, None, &sales)), Err(Refusal::Groups));
    assert_eq!(check(&p, who(None, None, &[])), Err(Refusal::Groups));
    assert!(matches!(Refusal::Groups.to_error(), Error::AccessDenied(_)));
}

#[test]
fn tenants_need_an_exact_match_and_a_tenant() {
    const ACME: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let mut p = policy(&[], &[]);
    p.allowed_tenants = vec![ACME.to_owned()];
    let mut s = who(None, None, &[]);
    assert_eq!(check(&p, s), Err(Refusal::Tenant), "no tid at all");
    s.tenant = Some(ACME);
    assert_eq!(check(&p, s), Ok(()));
    s.tenant = Some("72F988BF-86F1-41AF-91AB-2D7CD011DB47");
    assert_eq!(check(&p, s), Err(Refusal::Tenant), "exact, lowercase");
    s.tenant = Some("9188040d-6c67-4c5b-b112-36a304b66dad");
    assert_eq!(check(&p, s), Err(Refusal::Tenant));
    assert_eq!(Refusal::Tenant.as_str(), "policy_tenant");
}

#[test]
fn an_incomplete_group_list_decides_nothing_when_groups_are_restricted() {
    let eng = vec!["engineering".to_owned()];
    let mut s = who(None, None, &eng);
    s.groups_incomplete = true;
    let p = policy(&[], &["engineering"]);
    assert_eq!(check(&p, s), Err(Refusal::GroupsOverage));
    assert_eq!(
        check(&policy(&[], &[]), s),
        Ok(()),
        "no group rule, no refusal"
    );
}

/// The facts the policy reads come from the verified identity as they are.
#[test]
fn subject_of_an_identity() {
    let identity = crate::idp::UpstreamIdentity {
        issuer: "https://idp.example.com".into(),
        subject: "s".into(),
        email: Some("a@example.com".into()),
        email_verified: Some(true),
        name: None,
        groups: vec!["engineering".into()],
        tenant: Some("t".into()),
        groups_incomplete: true,
        hosted_domain: Some("example.com".into()),
    };
    let s = Subject::from(&identity);
    assert_eq!(s.email, Some("a@example.com"));
    assert_eq!(s.email_verified, Some(true));
    assert_eq!(s.groups, ["engineering".to_owned()]);
    assert_eq!(s.tenant, Some("t"));
    assert!(s.groups_incomplete);
    assert_eq!(s.hosted_domain, Some("example.com"));
}

#[test]
fn hosted_domains_need_the_verified_hd_claim() {
    let mut p = policy(&[], &[]);
    p.allowed_hosted_domains = vec!["acme.com".to_owned()];
    let mut s = who(Some("a@acme.com"), Some(true), &[]);
    // A consumer account (no hd) is refused with its own reason, whatever its email says.
    assert_eq!(check(&p, s), Err(Refusal::NoHostedDomain));
    s.hosted_domain = Some("acme.com");
    assert_eq!(check(&p, s), Ok(()));
    s.hosted_domain = Some("acme.com.evil.com");
    assert_eq!(check(&p, s), Err(Refusal::HostedDomain));
    s.hosted_domain = Some("sub.acme.com");
    assert_eq!(check(&p, s), Err(Refusal::HostedDomain));
    assert_eq!(Refusal::NoHostedDomain.as_str(), "policy_no_hosted_domain");
    let Error::AccessDenied(text) = Refusal::NoHostedDomain.to_error() else {
        panic!("not access_denied");
    };
    assert!(text.contains("personal Google account"), "{text}");
}

#[test]
fn github_orgs_and_teams_match_case_insensitively_and_both_must_hold() {
    let mut p = policy(&[], &[]);
    p.allowed_orgs = vec!["Acme-Corp".to_owned()];
    let member = vec!["acme-corp".to_owned(), "acme-corp/platform".to_owned()];
    assert_eq!(check(&p, who(None, None, &member)), Ok(()));
    let outsider = vec!["other".to_owned(), "acme-corp/platform-x".to_owned()];
    assert_eq!(
        check(&p, who(None, None, &outsider)),
        Err(Refusal::GithubOrg)
    );
    // A team is not its organisation: the org rule needs the org itself.
    let team_only = vec!["acme-corp/platform".to_owned()];
    assert_eq!(
        check(&p, who(None, None, &team_only)),
        Err(Refusal::GithubOrg)
    );
    p.allowed_teams = vec!["acme-corp/Platform".to_owned()];
    assert_eq!(check(&p, who(None, None, &member)), Ok(()));
    let org_only = vec!["acme-corp".to_owned()];
    assert_eq!(
        check(&p, who(None, None, &org_only)),
        Err(Refusal::GithubTeam)
    );
    assert_eq!(Refusal::GithubOrg.as_str(), "policy_github_org");
    let Error::AccessDenied(text) = Refusal::GithubOrg.to_error() else {
        panic!("not access_denied");
    };
    assert!(text.contains("GitHub organisation"), "{text}");
}
