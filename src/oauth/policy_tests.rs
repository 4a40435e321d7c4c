use super::*;

fn policy(domains: &[&str], groups: &[&str]) -> AccessPolicy {
    AccessPolicy {
        allowed_email_domains: domains.iter().map(|s| (*s).to_owned()).collect(),
        allowed_groups: groups.iter().map(|s| (*s).to_owned()).collect(),
    }
}

fn who<'a>(email: Option<&'a str>, verified: Option<bool>, groups: &'a [String]) -> Subject<'a> {
    Subject {
        email,
        email_verified: verified,
        groups,
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
