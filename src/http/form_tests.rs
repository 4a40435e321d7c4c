use super::*;

#[test]
fn parses_and_finds_duplicates() {
    let p = Params::parse(b"a=1&b=&resource=x&resource=y&a=2&c=%20").unwrap();
    assert_eq!(p.get("a"), Some("1"));
    assert_eq!(p.get("b"), None);
    assert_eq!(p.all("resource"), vec!["x", "y"]);
    assert_eq!(p.duplicated(&["resource"]), vec!["a"]);
    assert!(p.reject_duplicates(&["resource", "a"]).is_ok());
    assert!(Params::parse(b"a=%ff%fe").is_err());
}

#[test]
fn authorization_scheme_is_case_insensitive() {
    let mut h = HeaderMap::new();
    h.insert(header::AUTHORIZATION, "bEaReR abc".parse().unwrap());
    assert_eq!(authorization(&h, "Bearer"), Some("abc"));
    assert_eq!(authorization(&h, "Basic"), None);
}
