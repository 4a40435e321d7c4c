#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

fn public(s: &str) -> bool {
    is_public_ip(s.parse().unwrap())
}

#[test]
fn internal_addresses_are_refused() {
    for a in [
        "0.0.0.0",
        "0.1.2.3",
        "10.0.0.1",
        "127.0.0.1",
        "127.255.0.9",
        "100.64.0.1",
        "100.127.255.255",
        "169.254.169.254",
        "172.16.0.1",
        "172.31.255.255",
        "192.0.0.8",
        "192.0.2.1",
        "192.88.99.1",
        "192.168.1.1",
        "198.18.0.1",
        "198.19.255.1",
        "198.51.100.7",
        "203.0.113.9",
        "224.0.0.1",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        // IPv6
        "::",
        "::1",
        "fc00::1",
        "fd12:3456::1",
        "fe80::1",
        "febf::1",
        "fec0::1",
        "ff02::1",
        "2001:db8::1",
        "2001::1",
        "2001:10::1",
        "2001:20::1",
        "100::1",
        "3fff::1",
        "64:ff9b:1::1",
        // IPv4 embedded in IPv6: mapped, compatible, NAT64, 6to4 of internal addresses.
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "::127.0.0.1",
        "::8.8.8.8",
        "64:ff9b::a00:1",
        "64:ff9b::7f00:1",
        "2002:a00:1::1",
        "2002:7f00:1::",
    ] {
        assert!(!public(a), "{a} must be refused");
    }
}

#[test]
fn public_addresses_are_allowed() {
    for a in [
        "1.1.1.1",
        "8.8.8.8",
        "100.63.255.255",
        "100.128.0.1",
        "172.15.0.1",
        "172.32.0.1",
        "192.0.1.1",
        "192.169.0.1",
        "198.17.0.1",
        "198.20.0.1",
        "223.255.255.254",
        "2606:4700:4700::1111",
        "2a00:1450:4001::200e",
        "::ffff:8.8.8.8",
        "64:ff9b::808:808",
        "2002:808:808::1",
    ] {
        assert!(public(a), "{a} must be allowed");
    }
}

#[test]
fn loopback_only_with_the_test_setting() {
    let lo: IpAddr = "127.0.0.1".parse().unwrap();
    let lo6: IpAddr = "::1".parse().unwrap();
    let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
    let private: IpAddr = "10.0.0.1".parse().unwrap();
    assert!(!address_allowed(lo, false));
    assert!(
        address_allowed(lo, true) && address_allowed(lo6, true) && address_allowed(mapped, true)
    );
    assert!(!address_allowed(private, true));
}

#[test]
fn cache_control_max_age() {
    assert_eq!(max_age("max-age=300"), Some(300));
    assert_eq!(max_age("public, Max-Age=\"60\""), Some(60));
    assert_eq!(max_age("max-age=300, no-store"), Some(0));
    assert_eq!(max_age("no-cache"), Some(0));
    assert_eq!(max_age("max-age=abc"), Some(0));
    assert_eq!(max_age("max-age=-5"), Some(0));
    assert_eq!(max_age("max-age=99999999999999999999999"), Some(0));
    assert_eq!(max_age("public"), None);
    assert_eq!(max_age(""), None);
}

#[test]
fn json_content_types() {
    use reqwest::header::HeaderValue;
    let ok = |v: &str| is_json(Some(&HeaderValue::from_str(v).unwrap()));
    assert!(ok("application/json"));
    assert!(ok("Application/JSON; charset=utf-8"));
    assert!(ok("application/client-metadata+json"));
    assert!(!ok("text/html"));
    assert!(!ok("text/json+html"));
    assert!(!ok("application/jsonx"));
    assert!(!is_json(None));
}

async fn serve(response: &'static str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let _ = s.write_all(response.as_bytes()).await;
                // Keep the connection open: a short body must end by the timeout, not EOF.
                tokio::time::sleep(Duration::from_secs(10)).await;
            });
        }
    });
    port
}

fn settings(allow_loopback: bool) -> CimdSettings {
    CimdSettings {
        allow_loopback_for_tests: allow_loopback,
        fetch_timeout_ms: 500,
        ..CimdSettings::default()
    }
}

#[tokio::test]
async fn loopback_is_refused_unless_allowed_by_name_and_by_literal() {
    let port = serve("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}").await;
    let strict = CimdFetcher::new(&settings(false)).unwrap();
    for host in ["127.0.0.1", "localhost", "[::ffff:127.0.0.1]"] {
        let url = Url::parse(&format!("http://{host}:{port}/c.json")).unwrap();
        let e = strict.fetch(&url).await.unwrap_err();
        assert!(matches!(e, FetchError::ForbiddenAddress), "{host}: {e:?}");
    }
    let lax = CimdFetcher::new(&settings(true)).unwrap();
    let url = Url::parse(&format!("http://127.0.0.1:{port}/c.json")).unwrap();
    let doc = lax.fetch(&url).await.unwrap();
    assert_eq!(doc.body, b"{}");
    let url = Url::parse(&format!("http://localhost:{port}/c.json")).unwrap();
    assert_eq!(lax.fetch(&url).await.unwrap().body, b"{}");
}

#[tokio::test]
async fn redirects_sizes_types_and_slowness() {
    let f = CimdFetcher::new(&settings(true)).unwrap();
    let at = |port: u16| Url::parse(&format!("http://127.0.0.1:{port}/c.json")).unwrap();
    let redirect = serve("HTTP/1.1 302 Found\r\nlocation: http://169.254.169.254/\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").await;
    assert!(matches!(
        f.fetch(&at(redirect)).await,
        Err(FetchError::Status(302))
    ));
    let html = serve("HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}").await;
    assert!(matches!(f.fetch(&at(html)).await, Err(FetchError::NotJson)));
    let declared = serve("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 999999\r\nconnection: close\r\n\r\n{}").await;
    assert!(matches!(
        f.fetch(&at(declared)).await,
        Err(FetchError::TooLarge(_))
    ));
    // Chunked, no length: cut off while streaming.
    let big: &'static str = Box::leak(
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n{:x}\r\n{}\r\n0\r\n\r\n",
            8000,
            "a".repeat(8000)
        )
        .into_boxed_str(),
    );
    let chunked = serve(big).await;
    assert!(matches!(
        f.fetch(&at(chunked)).await,
        Err(FetchError::TooLarge(_))
    ));
    // Headers promise a body that never comes: the total timeout ends it.
    let slow =
        serve("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 10\r\n\r\n{")
            .await;
    let started = std::time::Instant::now();
    assert!(matches!(f.fetch(&at(slow)).await, Err(FetchError::Timeout)));
    assert!(started.elapsed() < Duration::from_secs(3));
    let cached = serve("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncache-control: public, max-age=120\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}").await;
    assert_eq!(f.fetch(&at(cached)).await.unwrap().max_age, Some(120));
}
