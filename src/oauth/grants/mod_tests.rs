#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use fixture_tests::{settings, RESOURCE};

#[test]
fn resource_must_name_the_bound_one() {
    let s = settings();
    assert!(check_resource(&[], RESOURCE, &s).is_ok());
    assert!(check_resource(&[String::new()], RESOURCE, &s).is_ok());
    assert!(check_resource(&["HTTPS://AUTH.example.com/mcp/".to_owned()], RESOURCE, &s).is_ok());
    assert!(check_resource(&[RESOURCE.to_owned(), RESOURCE.to_owned()], RESOURCE, &s).is_ok());
    for bad in [
        "https://auth.example.com/other",
        "https://auth.example.com/mcp#x",
        "not a url",
    ] {
        let r = check_resource(&[bad.to_owned()], RESOURCE, &s);
        assert!(matches!(r, Err(Error::InvalidTarget(_))), "{bad}");
    }
    // Bound to a resource that is configured but not the one named.
    let r = check_resource(&[RESOURCE.to_owned()], "https://auth.example.com/other", &s);
    assert!(matches!(r, Err(Error::InvalidTarget(_))));
}
