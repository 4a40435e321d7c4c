use super::*;

fn filter(max_bytes: usize) -> Filter {
    Filter {
        hidden: HashSet::from(["deploy".to_owned()]),
        list_ids: vec![json!(1)],
        max_bytes,
    }
}

fn list(id: i64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": {
        "tools": [{"name": "echo"}, {"name": "deploy"}, {"title": "no name"}],
        "nextCursor": "page-2",
    }})
}

fn answer(content_type: &str, body: impl Into<Body>) -> Response {
    let mut res = Response::new(body.into());
    res.headers_mut()
        .insert(header::CONTENT_TYPE, content_type.parse().unwrap());
    res.headers_mut()
        .insert(header::CONTENT_LENGTH, "999".parse().unwrap());
    res
}

async fn text(res: Response) -> String {
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[test]
fn leave_out_keeps_every_other_field_and_message() {
    let hidden = HashSet::from(["deploy".to_owned()]);
    let mut batch = json!([list(1), {"jsonrpc": "2.0", "id": 2, "result": {"content": []}}]);
    assert!(leave_out(&mut batch, &hidden).unwrap());
    assert_eq!(batch[0]["result"]["tools"], json!([{"name": "echo"}]));
    assert_eq!(batch[0]["result"]["nextCursor"], "page-2");
    assert_eq!(
        batch[1],
        json!({"jsonrpc": "2.0", "id": 2, "result": {"content": []}})
    );
    let mut clean = json!({"id": 1, "result": {"tools": [{"name": "echo"}]}});
    assert!(!leave_out(&mut clean, &hidden).unwrap());
    let mut error = json!({"id": 1, "error": {"code": -32601, "message": "no"}});
    assert!(!leave_out(&mut error, &hidden).unwrap());
    let mut bad = json!({"id": 1, "result": {"tools": {"deploy": {}}}});
    assert!(leave_out(&mut bad, &hidden).is_err());
}

#[tokio::test]
async fn json_answers_are_rewritten_or_refused_with_502() {
    let res = apply(
        filter(4096),
        answer("application/json; charset=utf-8", list(1).to_string()),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert!(res.headers().get(header::CONTENT_LENGTH).is_none());
    let body: Value = serde_json::from_str(&text(res).await).unwrap();
    assert_eq!(body["result"]["tools"], json!([{"name": "echo"}]));
    assert_eq!(body["result"]["nextCursor"], "page-2");

    for (what, res) in [
        ("too large", answer("application/json", list(1).to_string())),
        (
            "not json",
            answer("application/json", "{\"result\": {\"tools\": ["),
        ),
        (
            "tools not an array",
            answer("application/json", r#"{"result":{"tools":"deploy"}}"#),
        ),
    ] {
        let max = if what == "too large" { 20 } else { 4096 };
        let res = apply(filter(max), res).await;
        assert_eq!(res.status(), 502, "{what}");
        let body: Value = serde_json::from_str(&text(res).await).unwrap();
        assert_eq!(body["error"], "upstream_invalid_response", "{what}");
    }
    let mut gz = answer("application/json", list(1).to_string());
    gz.headers_mut()
        .insert(header::CONTENT_ENCODING, "gzip".parse().unwrap());
    assert_eq!(apply(filter(4096), gz).await.status(), 502);

    // Not a tool list a client would take: passed through unread.
    let mut err = answer("application/json", "not json");
    *err.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    assert_eq!(text(apply(filter(4096), err).await).await, "not json");
    let other = answer("text/plain", "deploy");
    assert_eq!(text(apply(filter(4096), other).await).await, "deploy");
}

#[tokio::test]
async fn sse_answers_are_rewritten_event_by_event() {
    let stream = format!(
        "id: 0\ndata:\n\n: note\ndata: {{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}}\n\nid: 1\r\ndata: {}\r\n\r\n",
        list(1)
    );
    let out = text(apply(filter(4096), answer("text/event-stream", stream)).await).await;
    let mut events = out.split("\n\n");
    assert_eq!(events.next(), Some("id: 0\ndata:"));
    assert_eq!(
        events.next(),
        Some(": note\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}")
    );
    let last = events.next().unwrap();
    let data: Value = serde_json::from_str(last.strip_prefix("id: 1\ndata: ").unwrap()).unwrap();
    assert_eq!(data["result"]["tools"], json!([{"name": "echo"}]));
    assert_eq!(data["result"]["nextCursor"], "page-2");
}

#[tokio::test]
async fn sse_failures_answer_the_open_request_with_a_json_rpc_error_and_end() {
    for (what, stream, max) in [
        (
            "not json",
            "data: {\"tools\n\ndata: {\"after\":1}\n\n".to_owned(),
            4096,
        ),
        ("too large", format!("data: {}\n\n", list(1)), 40),
        (
            "too large, unterminated",
            "data: ".to_owned() + &"x".repeat(100),
            40,
        ),
    ] {
        let out = text(apply(filter(max), answer("text/event-stream", stream)).await).await;
        let data = out
            .strip_prefix("event: message\ndata: ")
            .and_then(|s| s.strip_suffix("\n\n"))
            .unwrap_or_else(|| panic!("{what}: {out}"));
        let error: Value = serde_json::from_str(data).unwrap();
        assert_eq!(error["id"], 1, "{what}");
        assert_eq!(error["error"]["code"], -32603, "{what}");
        assert!(
            !out.contains("deploy") && !out.contains("after"),
            "{what}: {out}"
        );
    }
}

#[test]
fn a_trimmed_2026_list_is_never_cached_for_others() {
    let hidden = HashSet::from(["deploy".to_owned()]);
    let mut trimmed = json!({"id": 1, "result": {
        "tools": [{"name": "echo"}, {"name": "deploy"}],
        "resultType": "complete", "ttlMs": 60000, "cacheScope": "public",
    }});
    assert!(leave_out(&mut trimmed, &hidden).unwrap());
    assert_eq!(trimmed["result"]["cacheScope"], "private");
    assert_eq!(trimmed["result"]["ttlMs"], 60000);
    // Nothing trimmed: the server's word stands; a 2025 answer gets no cacheScope.
    let mut whole =
        json!({"id": 1, "result": {"tools": [{"name": "echo"}], "cacheScope": "public"}});
    assert!(!leave_out(&mut whole, &hidden).unwrap());
    assert_eq!(whole["result"]["cacheScope"], "public");
    let mut old = list(1);
    assert!(leave_out(&mut old, &hidden).unwrap());
    assert!(old["result"].get("cacheScope").is_none());
}
