use super::*;

#[test]
fn target_appends_the_rest_of_the_path_and_the_query() {
    let up: Url = "http://127.0.0.1:9000/mcp".parse().unwrap();
    assert_eq!(
        target(&up, "/mcp", "/mcp", None).as_str(),
        "http://127.0.0.1:9000/mcp"
    );
    assert_eq!(
        target(&up, "/tools", "/tools/a/b", Some("x=1")).as_str(),
        "http://127.0.0.1:9000/mcp/a/b?x=1"
    );
    let root: Url = "http://127.0.0.1:9000/".parse().unwrap();
    assert_eq!(
        target(&root, "/mcp", "/mcp/s", None).as_str(),
        "http://127.0.0.1:9000/s"
    );
    // A path that only shares the prefix is not below the resource (the router never
    // sends one here, but the function must not splice it).
    assert_eq!(
        target(&up, "/mcp", "/other", None).as_str(),
        "http://127.0.0.1:9000/mcp"
    );
    assert_eq!(
        target(&up, "/mcp", "/mcpx", None).as_str(),
        "http://127.0.0.1:9000/mcp"
    );
}

#[test]
fn hop_by_hop_headers_and_those_connection_names_are_dropped() {
    let mut h = HeaderMap::new();
    for (k, v) in [
        ("connection", "keep-alive, X-Secret-Hop"),
        ("keep-alive", "timeout=5"),
        ("transfer-encoding", "chunked"),
        ("upgrade", "websocket"),
        ("te", "trailers"),
        ("x-secret-hop", "1"),
        ("mcp-session-id", "s"),
        ("content-type", "application/json"),
    ] {
        h.insert(HeaderName::from_static(k), v.parse().unwrap());
    }
    drop_hop_by_hop(&mut h);
    let mut left: Vec<&str> = h.keys().map(HeaderName::as_str).collect();
    left.sort_unstable();
    assert_eq!(left, ["content-type", "mcp-session-id"]);
}
