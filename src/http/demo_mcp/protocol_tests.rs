use super::*;

fn caller() -> Value {
    json!({"sub": "u1", "username": "alice@example.com", "client_id": "c1", "scope": "mcp"})
}

/// The `_meta` envelope a 2026-07-28 client puts on every request.
fn envelope(version: &str) -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": version,
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    })
}

fn modern_body(id: u64, method: &str, mut params: Value) -> Vec<u8> {
    params["_meta"] = envelope(MODERN_VERSION);
    serde_json::to_vec(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))
        .unwrap()
}

fn modern_headers<'a>(method: &'a str, name: Option<&'a str>) -> McpHeaders<'a> {
    McpHeaders {
        protocol_version: Some(MODERN_VERSION),
        method: Some(method),
        name,
    }
}

fn send(headers: McpHeaders<'_>, body: &[u8]) -> (StatusCode, Value) {
    let reply = answer(&headers, body, &caller());
    (reply.status, reply.body.unwrap_or(Value::Null))
}

fn legacy(body: Value) -> (StatusCode, Value) {
    send(McpHeaders::default(), &serde_json::to_vec(&body).unwrap())
}

#[test]
fn legacy_initialize_negotiates_a_2025_revision() {
    let init = |v: &str| {
        legacy(json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": v, "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}))
    };
    for v in LEGACY_VERSIONS {
        let (status, body) = init(v);
        assert_eq!(status, 200);
        assert_eq!(body["result"]["protocolVersion"], v, "{body}");
        assert_eq!(body["result"]["serverInfo"]["name"], "dcr-bridge-dev-demo");
        assert!(body["result"].get("resultType").is_none(), "{body}");
    }
    // Unknown, future and modern revisions asked for through initialize get the latest 2025 one.
    for v in ["1900-01-01", "2026-07-28", ""] {
        assert_eq!(init(v).1["result"]["protocolVersion"], "2025-11-25");
    }
}

#[test]
fn legacy_requests_and_notifications() {
    let notified = answer(
        &McpHeaders::default(),
        br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        &caller(),
    );
    assert_eq!(
        notified,
        Reply {
            status: StatusCode::ACCEPTED,
            body: None
        }
    );
    let (_, list) = legacy(json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}));
    assert_eq!(list["result"]["tools"][0]["name"], "whoami");
    assert!(list["result"].get("ttlMs").is_none(), "{list}");
    let (_, who) = legacy(
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "whoami"}}),
    );
    let text = who["result"]["content"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("alice@example.com") && text.contains("c1"),
        "{text}"
    );
    let (status, unknown) = legacy(
        json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "rm"}}),
    );
    assert_eq!(
        (status, unknown["error"]["code"].clone()),
        (StatusCode::OK, json!(-32602))
    );
    let (status, missing) = legacy(json!({"jsonrpc": "2.0", "id": 5, "method": "nope"}));
    assert_eq!(
        (status, missing["error"]["code"].clone()),
        (StatusCode::OK, json!(-32601))
    );
    // A claim-less server/discover is a legacy request, as in the TS SDK: not found.
    let (_, discover) = legacy(json!({"jsonrpc": "2.0", "id": 6, "method": "server/discover"}));
    assert_eq!(discover["error"]["code"], -32601);
}

#[test]
fn legacy_request_with_an_unsupported_protocol_version_header_is_400() {
    let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let (status, err) = send(
        McpHeaders {
            protocol_version: Some("1999-01-01"),
            ..McpHeaders::default()
        },
        body,
    );
    assert_eq!(status, 400);
    assert_eq!(err["error"]["code"], -32600);
    let (status, _) = send(
        McpHeaders {
            protocol_version: Some("2025-06-18"),
            ..McpHeaders::default()
        },
        body,
    );
    assert_eq!(status, 200);
    // The modern revision's header on a body without the envelope: a header/body mismatch.
    let (status, err) = send(modern_headers("tools/list", None), body);
    assert_eq!(
        (status, err["error"]["code"].clone()),
        (StatusCode::BAD_REQUEST, json!(-32020))
    );
}

#[test]
fn modern_discover_lists_versions_and_capabilities() {
    let (status, body) = send(
        modern_headers("server/discover", None),
        &modern_body(1, "server/discover", json!({})),
    );
    assert_eq!(status, 200);
    let r = &body["result"];
    assert_eq!(r["supportedVersions"], json!(["2026-07-28"]), "{body}");
    assert_eq!(r["capabilities"], json!({"tools": {}}));
    assert_eq!(r["resultType"], "complete");
    assert_eq!(r["ttlMs"], TTL_MS);
    assert_eq!(r["cacheScope"], "public");
    assert_eq!(
        r["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "dcr-bridge-dev-demo"
    );
    assert_eq!(body["id"], 1);
}

#[test]
fn modern_tools_list_and_call() {
    let (status, list) = send(
        modern_headers("tools/list", None),
        &modern_body(2, "tools/list", json!({})),
    );
    assert_eq!(status, 200);
    assert_eq!(list["result"]["tools"][0]["name"], "whoami");
    assert_eq!(list["result"]["resultType"], "complete");
    assert_eq!(list["result"]["cacheScope"], "private");
    assert!(list["result"]["ttlMs"].is_u64());

    let call = modern_body(3, "tools/call", json!({"name": "whoami", "arguments": {}}));
    let (status, who) = send(modern_headers("tools/call", Some("whoami")), &call);
    assert_eq!(status, 200, "{who}");
    assert_eq!(who["result"]["resultType"], "complete");
    assert!(
        who["result"].get("ttlMs").is_none(),
        "tools/call is not cacheable"
    );
    let text = who["result"]["content"][0]["text"].as_str().unwrap();
    assert!(text.contains("alice@example.com"), "{text}");
    // Mcp-Name in the base64 sentinel form (SEP-2243 "Value Encoding") is decoded first.
    let (status, _) = send(
        modern_headers("tools/call", Some("=?base64?d2hvYW1p?=")),
        &call,
    );
    assert_eq!(status, 200);

    let ping = modern_body(4, "ping", json!({}));
    let (status, pong) = send(modern_headers("ping", None), &ping);
    assert_eq!(
        (status, pong["result"]["resultType"].clone()),
        (StatusCode::OK, json!("complete"))
    );
}

#[test]
fn modern_unknown_method_is_404_and_unknown_tool_invalid_params() {
    let (status, err) = send(
        modern_headers("prompts/list", None),
        &modern_body(1, "prompts/list", json!({})),
    );
    assert_eq!(
        (status, err["error"]["code"].clone()),
        (StatusCode::NOT_FOUND, json!(-32601))
    );
    // initialize is not a 2026-07-28 method.
    let (status, _) = send(
        modern_headers("initialize", None),
        &modern_body(2, "initialize", json!({})),
    );
    assert_eq!(status, 404);
    let call = modern_body(3, "tools/call", json!({"name": "rm"}));
    let (status, err) = send(modern_headers("tools/call", Some("rm")), &call);
    assert_eq!(
        (status, err["error"]["code"].clone()),
        (StatusCode::OK, json!(-32602))
    );
}

#[test]
fn modern_unsupported_version_lists_what_is_supported() {
    let body = serde_json::to_vec(
        &json!({"jsonrpc": "2.0", "id": 7, "method": "server/discover",
        "params": {"_meta": envelope("1900-01-01")}}),
    )
    .unwrap();
    let headers = McpHeaders {
        protocol_version: Some("1900-01-01"),
        ..modern_headers("server/discover", None)
    };
    let (status, err) = send(headers, &body);
    assert_eq!(status, 400);
    assert_eq!(err["id"], 7);
    assert_eq!(err["error"]["code"], -32022);
    assert_eq!(err["error"]["data"]["requested"], "1900-01-01");
    let supported = err["error"]["data"]["supported"].as_array().unwrap();
    assert_eq!(supported[0], "2026-07-28");
    assert!(supported.contains(&json!("2025-11-25")));
    // A non-string version is not supported either.
    let body = br#"{"jsonrpc":"2.0","id":8,"method":"ping","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":7}}}"#;
    assert_eq!(
        send(modern_headers("ping", None), body).1["error"]["code"],
        -32022
    );
}

#[test]
fn modern_headers_must_mirror_the_body() {
    let call = modern_body(1, "tools/call", json!({"name": "whoami"}));
    let cases: [(&str, McpHeaders<'_>); 6] = [
        (
            "no protocol version",
            McpHeaders {
                protocol_version: None,
                ..modern_headers("tools/call", Some("whoami"))
            },
        ),
        (
            "other protocol version",
            McpHeaders {
                protocol_version: Some("2025-11-25"),
                ..modern_headers("tools/call", Some("whoami"))
            },
        ),
        (
            "no method",
            McpHeaders {
                method: None,
                ..modern_headers("tools/call", Some("whoami"))
            },
        ),
        ("other method", modern_headers("tools/list", Some("whoami"))),
        ("no name", modern_headers("tools/call", None)),
        // The gateway authorizes on Mcp-Name: a harmless name over a different body is refused.
        ("other name", modern_headers("tools/call", Some("harmless"))),
    ];
    for (why, headers) in cases {
        let (status, err) = send(headers, &call);
        assert_eq!(status, 400, "{why}");
        assert_eq!(err["error"]["code"], -32020, "{why}: {err}");
        assert_eq!(err["id"], 1, "{why}");
    }
    let bad_base64 = modern_headers("tools/call", Some("=?base64?!!!?="));
    assert_eq!(send(bad_base64, &call).0, 400);
    // A tools/call without a name has nothing Mcp-Name could mirror.
    let nameless = modern_body(2, "tools/call", json!({}));
    assert_eq!(
        send(modern_headers("tools/call", Some("whoami")), &nameless).0,
        400
    );
}

#[test]
fn malformed_bodies() {
    let none = McpHeaders::default();
    for body in [&b"not json"[..], b"", b"{\"jsonrpc\":\"2.0\",\"id\":1"] {
        let (status, err) = send(none, body);
        assert_eq!(
            (status, err["error"]["code"].clone()),
            (StatusCode::BAD_REQUEST, json!(-32700))
        );
    }
    for body in [
        &br#"{"jsonrpc":"2.0","id":1}"#[..],
        br#"[]"#,
        br#"{"id":1,"method":7}"#,
    ] {
        let (status, err) = send(none, body);
        assert_eq!(
            (status, err["error"]["code"].clone()),
            (StatusCode::BAD_REQUEST, json!(-32600))
        );
    }
    // A modern notification is accepted without headers (none are defined for it).
    let note = serde_json::to_vec(
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
        "params": {"_meta": envelope(MODERN_VERSION)}}),
    )
    .unwrap();
    assert_eq!(answer(&none, &note, &caller()).status, StatusCode::ACCEPTED);
}
