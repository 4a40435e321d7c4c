//! `filter_tools_list`: tools/list answers through the gateway leave out the tools of
//! `tool_scopes` the token may not call, in JSON and SSE answers, single and batch, with every
//! other field kept; answers the gateway cannot vet are refused, never passed on unfiltered.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use dcr_bridge::config::Config;
use serde_json::{json, Value};

use crate::gateway::{access_token, gateway_app, resume, tokens};
use crate::support::app::{header, status_json, TestApp};
use crate::support::mcp_echo::{McpEcho, SSE_GAP_MS, TOOLS};

/// `deploy` and `nuke` need `mcp:write`; every request needs `mcp:read`.
fn scoped(c: &mut Config) {
    c.resources[0].required_scopes = vec!["mcp:read".into()];
    c.resources[0].tool_scopes = BTreeMap::from([
        ("deploy".into(), vec!["mcp:write".into()]),
        ("nuke".into(), vec!["mcp:read".into(), "mcp:write".into()]),
    ]);
}

async fn read_only_token(app: &TestApp) -> String {
    let t = tokens(app, &app.resource(), Some("mcp:read")).await;
    assert_eq!(t["scope"], "mcp:read");
    t["access_token"].as_str().unwrap().to_owned()
}

fn list(id: u32) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/list", "params": {}})
}

fn names(result: &Value) -> Vec<&str> {
    result["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect()
}

/// POST `body` to `/mcp?{query}`.
async fn post(
    app: &TestApp,
    token: &str,
    query: &str,
    body: &Value,
    method_header: bool,
) -> reqwest::Response {
    let mut req = app
        .api
        .post(app.url(&format!("/mcp?{query}")))
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("accept-encoding", "gzip, br")
        .json(body);
    if method_header {
        req = req.header("mcp-method", "tools/list");
    }
    req.send().await.unwrap()
}

/// The JSON-RPC messages of an SSE body, in order (priming events without data left out).
fn sse_messages(text: &str) -> Vec<Value> {
    text.replace("\r\n", "\n")
        .split("\n\n")
        .filter_map(|event| {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim_start)
                .collect();
            let data = data.join("\n");
            (!data.is_empty()).then(|| serde_json::from_str(&data).unwrap())
        })
        .collect()
}

#[tokio::test]
async fn gateway_tools_list_json_answers_leave_out_what_the_token_may_not_call() {
    let echo = McpEcho::start().await;
    let app = gateway_app(&echo.url, scoped).await;
    let narrow = read_only_token(&app).await;

    // By the body (older clients) and with Mcp-Method (2026-07-28): the same answer.
    for header_too in [false, true] {
        let res = post(&app, &narrow, "", &list(1), header_too).await;
        assert_eq!(res.status(), 200);
        assert_eq!(header(&res, "mcp-session-id"), "echo-session-1");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["id"], 1);
        assert_eq!(names(&body["result"]), ["echo"], "header: {header_too}");
        assert_eq!(body["result"]["nextCursor"], "page-2");
        assert_eq!(body["result"]["_meta"], json!({"echo": true}));
        assert_eq!(
            body["result"]["tools"][0]["inputSchema"],
            json!({"type": "object"})
        );
    }
    // The answer is read, so it is asked for uncompressed.
    for seen in echo.seen() {
        assert!(seen.headers.get("accept-encoding").is_none());
    }

    // A batch: each tools/list answer filtered, the tool call's answer untouched.
    let batch = json!([
        list(1),
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
         "params": {"name": "echo", "arguments": {"tools": ["deploy"]}}},
        list(3),
    ]);
    let res = post(&app, &narrow, "", &batch, false).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(names(&body[0]["result"]), ["echo"]);
    assert_eq!(body[1]["id"], 2);
    assert_eq!(
        body[1]["result"]["content"][0]["text"],
        r#"{"tools":["deploy"]}"#
    );
    assert_eq!(names(&body[2]["result"]), ["echo"]);
    assert_eq!(body[2]["result"]["nextCursor"], "page-2");

    // A token with the scope sees every tool.
    let full = access_token(&app).await;
    let body: Value = post(&app, &full, "", &list(4), true)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(names(&body["result"]), TOOLS);
}

#[tokio::test]
async fn gateway_tools_list_sse_answers_are_filtered_and_still_streamed() {
    let echo = McpEcho::start().await;
    let app = gateway_app(&echo.url, scoped).await;
    let narrow = read_only_token(&app).await;

    let started = Instant::now();
    let mut res = post(&app, &narrow, "answer=sse", &list(1), true).await;
    assert_eq!(res.status(), 200);
    assert_eq!(header(&res, "content-type"), "text/event-stream");
    // The priming event and the notification come before the MCP server's pause: the events
    // that need no rewrite are passed on as they arrive.
    let mut text = String::new();
    while !text.contains("notifications/message") {
        let chunk = res.chunk().await.unwrap().unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let first_at = started.elapsed();
    assert!(
        first_at < Duration::from_millis(SSE_GAP_MS),
        "the notification waited for the tool list ({first_at:?})"
    );
    assert!(text.starts_with("id: 0\ndata:\n\n: echo\n"), "{text}");
    while let Some(chunk) = res.chunk().await.unwrap() {
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let messages = sse_messages(&text);
    assert_eq!(messages.len(), 2, "{text}");
    assert_eq!(messages[0]["method"], "notifications/message");
    assert_eq!(messages[1]["id"], 1);
    assert_eq!(names(&messages[1]["result"]), ["echo"]);
    assert_eq!(messages[1]["result"]["nextCursor"], "page-2");
    assert!(text.contains("id: 1\n"), "the event keeps its id: {text}");

    // A batch answered over SSE, one event per response.
    let batch = json!([list(5), {"jsonrpc": "2.0", "id": 6, "method": "tools/call",
                                 "params": {"name": "echo", "arguments": {}}}, list(7)]);
    let res = post(&app, &narrow, "answer=sse", &batch, false).await;
    let messages = sse_messages(&res.text().await.unwrap());
    assert_eq!(messages.len(), 4);
    assert_eq!(names(&messages[1]["result"]), ["echo"]);
    assert_eq!(messages[2]["id"], 6);
    assert_eq!(messages[2]["result"]["content"][0]["text"], "{}");
    assert_eq!(names(&messages[3]["result"]), ["echo"]);

    // A resumed GET stream replaying an earlier tools/list answer: filtered the same way.
    let res = resume(&app, &narrow, "replay-list").await;
    assert_eq!(res.status(), 200);
    let messages = sse_messages(&res.text().await.unwrap());
    assert_eq!(messages.len(), 2);
    assert_eq!(names(&messages[1]["result"]), ["echo"]);
}

#[tokio::test]
async fn gateway_tools_list_answers_it_cannot_vet_are_refused() {
    let echo = McpEcho::start().await;
    let app = gateway_app(&echo.url, |c| {
        scoped(c);
        c.gateway.max_tools_list_bytes = 16 * 1024;
    })
    .await;
    let narrow = read_only_token(&app).await;

    // Within the limit: filtered.
    let res = post(&app, &narrow, "pad=1000", &list(1), false).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(names(&body["result"]), ["echo"]);

    // JSON: too large or not JSON → 502 with a JSON body, nothing of the list passed on.
    for query in ["pad=20000", "answer=malformed"] {
        let res = post(&app, &narrow, query, &list(1), false).await;
        assert_eq!(header(&res, "cache-control"), "no-store");
        let (status, body) = status_json(res).await;
        assert_eq!(status, 502, "{query}");
        assert_eq!(body["error"], "upstream_invalid_response", "{query}");
        let why = body["error_description"].as_str().unwrap();
        let expected = if query.starts_with("pad") {
            "larger than 16384 bytes"
        } else {
            "not JSON"
        };
        assert!(why.contains(expected), "{query}: {why}");
    }

    // SSE: the 200 is already out, so the open request gets a JSON-RPC error, and the stream
    // ends without the list.
    for query in ["answer=sse&pad=20000", "answer=sse-malformed"] {
        let res = post(&app, &narrow, query, &list(9), false).await;
        assert_eq!(res.status(), 200, "{query}");
        let text = res.text().await.unwrap();
        assert!(!text.contains("deploy"), "{query}: {text}");
        let messages = sse_messages(&text);
        let last = messages.last().unwrap();
        assert_eq!(last["id"], 9, "{query}: {text}");
        assert_eq!(last["error"]["code"], -32603, "{query}");
        assert!(
            last["error"]["message"]
                .as_str()
                .unwrap()
                .contains("tools/list"),
            "{query}"
        );
    }

    // A token that may call everything has nothing hidden: the answer is not read at all.
    let full = access_token(&app).await;
    let res = post(&app, &full, "pad=20000", &list(1), false).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(names(&body["result"]), TOOLS);
}

#[tokio::test]
async fn gateway_tools_list_filter_can_be_turned_off() {
    let echo = McpEcho::start().await;
    let app = gateway_app(&echo.url, |c| {
        scoped(c);
        c.resources[0].filter_tools_list = Some(false);
    })
    .await;
    let narrow = read_only_token(&app).await;
    let res = post(&app, &narrow, "", &list(1), true).await;
    let body: Value = res.json().await.unwrap();
    assert_eq!(names(&body["result"]), TOOLS);
    // The tools stay guarded when called.
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "deploy", "arguments": {}}});
    let res = post(&app, &narrow, "", &call, false).await;
    assert_eq!(res.status(), 403);
}
