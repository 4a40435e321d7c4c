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
fn right_most_entry_of_the_configured_header() {
    use ClientIpHeader::{Forwarded, XForwardedFor, XRealIp};
    let cases: &[(ClientIpHeader, Pairs<'_>, Option<&str>)] = &[
        (
            XForwardedFor,
            &[("x-forwarded-for", "203.0.113.9, 10.0.0.2")],
            Some("10.0.0.2"),
        ),
        (
            XForwardedFor,
            &[
                ("x-forwarded-for", "unknown, 203.0.113.9"),
                ("x-forwarded-for", "10.0.0.2"),
            ],
            Some("10.0.0.2"),
        ),
        // A client-written entry to the left never wins; garbage on the right means none.
        (
            XForwardedFor,
            &[("x-forwarded-for", "1.2.3.4, 203.0.113.9")],
            Some("203.0.113.9"),
        ),
        (
            XForwardedFor,
            &[("x-forwarded-for", "203.0.113.9, unknown")],
            None,
        ),
        (
            XForwardedFor,
            &[("x-forwarded-for", "[2001:db8::1]:443")],
            Some("2001:db8::1"),
        ),
        (
            XForwardedFor,
            &[("x-forwarded-for", "203.0.113.9:5000")],
            Some("203.0.113.9"),
        ),
        (XForwardedFor, &[("x-forwarded-for", "garbage")], None),
        (XForwardedFor, &[], None),
        (
            Forwarded,
            &[(
                "forwarded",
                "for=_hidden, For=\"[2001:db8::17]:4711\";proto=https",
            )],
            Some("2001:db8::17"),
        ),
        (
            Forwarded,
            &[("forwarded", "proto=https;for=198.51.100.3;by=10.0.0.1")],
            Some("198.51.100.3"),
        ),
        (Forwarded, &[("forwarded", "for=unknown")], None),
        (
            XRealIp,
            &[("x-real-ip", "198.51.100.4")],
            Some("198.51.100.4"),
        ),
        (
            XRealIp,
            &[("x-real-ip", "[2001:db8::5]")],
            Some("2001:db8::5"),
        ),
    ];
    for (which, pairs, expected) in cases {
        assert_eq!(
            forwarded_for(&headers(pairs), *which),
            expected.map(ip),
            "{which:?} {pairs:?}"
        );
    }
}

/// Issue 11, finding 10: behind a proxy that writes only RFC 7239 `Forwarded`, a client-sent
/// `X-Forwarded-For` passes through untouched and must not become the key (it did: XFF won).
#[test]
fn only_the_configured_header_counts() {
    let both = headers(&[
        ("forwarded", "for=198.51.100.3"),
        ("x-forwarded-for", "203.0.113.9"),
        ("x-real-ip", "192.0.2.55"),
    ]);
    assert_eq!(
        forwarded_for(&both, ClientIpHeader::Forwarded),
        Some(ip("198.51.100.3"))
    );
    assert_eq!(
        forwarded_for(&both, ClientIpHeader::XForwardedFor),
        Some(ip("203.0.113.9"))
    );
    assert_eq!(
        forwarded_for(&both, ClientIpHeader::XRealIp),
        Some(ip("192.0.2.55"))
    );
    // The configured header missing: the peer, never another header.
    let xff_only = headers(&[("x-forwarded-for", "203.0.113.9")]);
    assert_eq!(forwarded_for(&xff_only, ClientIpHeader::Forwarded), None);
    let mut req = Request::builder()
        .header("x-forwarded-for", "203.0.113.9")
        .body(())
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 1], 4000))));
    let behind_forwarded = ClientIp {
        header: Some(ClientIpHeader::Forwarded),
    };
    assert_eq!(behind_forwarded.extract(&req).unwrap(), ip("10.0.0.1"));
}

#[test]
fn forwarded_headers_count_only_when_configured() {
    let mut req = Request::builder()
        .header("x-forwarded-for", "203.0.113.9")
        .body(())
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 4000))));
    let trusted = ClientIp {
        header: Some(ClientIpHeader::XForwardedFor),
    };
    let untrusted = ClientIp { header: None };
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
