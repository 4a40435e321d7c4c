use super::*;

fn incoming(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(HeaderName::from_static(k), v.parse().unwrap());
    }
    h
}

fn sent(f: &Forwarding, h: &HeaderMap, peer: Option<IpAddr>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = f
        .headers(h, peer)
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned()))
        .collect();
    out.sort();
    out
}

fn pairs(xs: &[(&str, &str)]) -> Vec<(String, String)> {
    xs.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn built_from_the_peer_and_public_url_never_from_the_clients_headers() {
    let url: Url = "https://mcp.example.com/".parse().unwrap();
    let f = Forwarding::new(&url, None).unwrap();
    let forged = incoming(&[
        ("x-forwarded-for", "6.6.6.6"),
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-proto", "http"),
    ]);
    let peer: IpAddr = "192.0.2.10".parse().unwrap();
    assert_eq!(
        sent(&f, &forged, Some(peer)),
        pairs(&[
            ("x-forwarded-for", "192.0.2.10"),
            ("x-forwarded-host", "mcp.example.com"),
            ("x-forwarded-proto", "https"),
        ])
    );
    // No peer known: no client address at all, rather than a guess.
    assert_eq!(sent(&f, &forged, None).len(), 2);
    // IPv4-mapped IPv6 peers are written as IPv4; a non-default port is part of the host.
    let url: Url = "http://127.0.0.1:8080".parse().unwrap();
    let f = Forwarding::new(&url, None).unwrap();
    let mapped: IpAddr = "::ffff:10.1.2.3".parse().unwrap();
    assert_eq!(
        sent(&f, &HeaderMap::new(), Some(mapped)),
        pairs(&[
            ("x-forwarded-for", "10.1.2.3"),
            ("x-forwarded-host", "127.0.0.1:8080"),
            ("x-forwarded-proto", "http"),
        ])
    );
}

#[test]
fn the_trusted_proxy_header_gives_the_client_address_alone() {
    let url: Url = "https://mcp.example.com".parse().unwrap();
    let peer: IpAddr = "10.0.0.1".parse().unwrap();
    let xff = Forwarding::new(&url, Some(ClientIpHeader::XForwardedFor)).unwrap();
    let h = incoming(&[("x-forwarded-for", "6.6.6.6, 203.0.113.7")]);
    assert_eq!(sent(&xff, &h, Some(peer))[0].1, "203.0.113.7");
    // Unparseable right-most entry: the peer, as for the rate limiter.
    let h = incoming(&[("x-forwarded-for", "203.0.113.7, unknown")]);
    assert_eq!(sent(&xff, &h, Some(peer))[0].1, "10.0.0.1");
    // The configured header only: a client-sent X-Forwarded-For behind a Forwarded proxy.
    let fwd = Forwarding::new(&url, Some(ClientIpHeader::Forwarded)).unwrap();
    let h = incoming(&[
        ("x-forwarded-for", "6.6.6.6"),
        (
            "forwarded",
            "for=6.6.6.7, for=\"[2001:db8::5]:4711\";proto=https",
        ),
    ]);
    assert_eq!(sent(&fwd, &h, Some(peer))[0].1, "2001:db8::5");
}
