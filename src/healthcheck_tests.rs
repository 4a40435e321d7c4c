#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::readyz_url;

#[test]
fn an_unspecified_listen_address_is_probed_over_loopback() {
    assert_eq!(
        readyz_url("0.0.0.0:8080".parse().unwrap()),
        "http://127.0.0.1:8080/readyz"
    );
    assert_eq!(
        readyz_url("[::]:9090".parse().unwrap()),
        "http://[::1]:9090/readyz"
    );
    assert_eq!(
        readyz_url("10.1.2.3:8080".parse().unwrap()),
        "http://10.1.2.3:8080/readyz"
    );
}
