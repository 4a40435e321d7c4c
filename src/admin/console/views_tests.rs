use super::*;

#[test]
fn datetime_local_values_are_utc_seconds() {
    assert_eq!(parse_datetime("1970-01-01T00:00"), Some(0));
    assert_eq!(parse_datetime("2025-12-06T05:46:40"), Some(1_765_000_000));
    assert_eq!(
        super::super::render::timestamp(parse_datetime("2000-02-29T23:59").unwrap()),
        "2000-02-29 23:59:00"
    );
    for bad in [
        "",
        "2025-13-01T00:00",
        "2025-01-01",
        "2025-01-01T24:00",
        "x-y-zTa:b",
        "2025-01-01T00:00:61",
    ] {
        assert_eq!(parse_datetime(bad), None, "{bad}");
    }
}

#[test]
fn queries_refuse_unknown_and_repeated_fields() {
    let uri: Uri = "/admin/clients?kind=dcr&disabled=".parse().unwrap();
    let p = query(&uri, &["kind", "disabled"]).unwrap();
    assert_eq!(p.get("kind"), Some("dcr"));
    assert_eq!(flag(&p, "disabled").unwrap(), None);
    let uri: Uri = "/admin/clients?kinds=dcr".parse().unwrap();
    assert!(query(&uri, &["kind"]).is_err());
    let uri: Uri = "/admin/clients?kind=dcr&kind=cimd".parse().unwrap();
    assert!(query(&uri, &["kind"]).is_err());
    let uri: Uri = "/admin/clients?kind=%FF".parse().unwrap();
    assert!(query(&uri, &["kind"]).is_err());
}

#[test]
fn next_links_keep_the_filters() {
    assert_eq!(
        next_link(
            "/admin/grants",
            &[("user_id", Some("u 1".into())), ("client_id", None)],
            Some("c")
        ),
        Some("/admin/grants?user_id=u+1&cursor=c".to_owned())
    );
    assert_eq!(next_link("/admin/grants", &[], None), None);
}
