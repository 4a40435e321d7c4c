use std::net::IpAddr;

use axum::http::HeaderMap;

use super::*;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Header name and value pairs, in order.
type Pairs<'a> = &'a [(&'static str, &'a str)];

fn headers(pairs: Pairs<'_>) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in pairs {
        h.append(*name, value.parse().unwrap());
    }
    h
}

#[test]
fn ipv6_is_keyed_by_its_64_and_mapped_ipv4_by_the_ipv4() {
    assert_eq!(bucket(ip("192.0.2.7")), ip("192.0.2.7"));
    assert_eq!(bucket(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
    assert_eq!(
        bucket(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
        ip("2001:db8:1:2::")
    );
    assert_eq!(
        bucket(ip("2001:db8:1:2::1")),
        bucket(ip("2001:db8:1:2:ffff::9"))
    );
    assert_ne!(bucket(ip("2001:db8:1:2::1")), bucket(ip("2001:db8:1:3::1")));
}

#[test]
fn right_most_forwarded_address() {
    let cases: &[(Pairs<'_>, Option<&str>)] = &[
        (
            &[("x-forwarded-for", "203.0.113.9, 10.0.0.2")],
            Some("10.0.0.2"),
        ),
        (
            &[
                ("x-forwarded-for", "unknown, 203.0.113.9"),
                ("x-forwarded-for", "10.0.0.2"),
            ],
            Some("10.0.0.2"),
        ),
        // A client-written entry to the left never wins; garbage on the right means none.
        (
            &[("x-forwarded-for", "1.2.3.4, 203.0.113.9")],
            Some("203.0.113.9"),
        ),
        (&[("x-forwarded-for", "203.0.113.9, unknown")], None),
        (
            &[("x-forwarded-for", "[2001:db8::1]:443")],
            Some("2001:db8::1"),
        ),
        (
            &[("x-forwarded-for", "203.0.113.9:5000")],
            Some("203.0.113.9"),
        ),
        (
            &[(
                "forwarded",
                "for=_hidden, For=\"[2001:db8::17]:4711\";proto=https",
            )],
            Some("2001:db8::17"),
        ),
        (
            &[("forwarded", "proto=https;for=198.51.100.3;by=10.0.0.1")],
            Some("198.51.100.3"),
        ),
        (
            &[
                ("forwarded", "for=198.51.100.3"),
                ("x-forwarded-for", "203.0.113.9"),
            ],
            Some("203.0.113.9"),
        ),
        (&[("x-forwarded-for", "garbage")], None),
        (&[], None),
    ];
    for (pairs, expected) in cases {
        assert_eq!(
            forwarded_for(&headers(pairs)),
            expected.map(ip),
            "{pairs:?}"
        );
    }
}

#[test]
fn forwarded_headers_count_only_when_trusted() {
    let mut req = Request::builder()
        .header("x-forwarded-for", "203.0.113.9")
        .body(())
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 4000))));
    let trusted = ClientIp {
        trust_forwarded_for: true,
    };
    let untrusted = ClientIp {
        trust_forwarded_for: false,
    };
    assert_eq!(trusted.extract(&req).unwrap(), ip("203.0.113.9"));
    assert_eq!(untrusted.extract(&req).unwrap(), ip("127.0.0.1"));
    let bare = Request::builder().body(()).unwrap();
    assert_eq!(trusted.extract(&bare).unwrap(), ip("0.0.0.0"));
}

#[test]
fn over_the_limit_is_429_with_retry_after() {
    let res = too_many(GovernorError::TooManyRequests {
        wait_time: 19,
        headers: None,
    });
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let h = res.headers();
    assert_eq!(h[header::RETRY_AFTER], "20");
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
}
