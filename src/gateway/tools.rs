//! Per-tool authorization (`tool_scopes`): which tools a JSON-RPC request body calls, and the
//! scopes that takes. The body is read whole for this, bounded by `gateway.max_body_bytes`, and
//! only on resources that map tools; `Mcp-Name` (MCP 2026-07-28) is checked against the body
//! rather than trusted, since an older MCP server would not notice a header that names a
//! harmless tool while the body calls another.

use std::collections::BTreeMap;

use serde_json::Value;

/// The names of the tools `body` calls (`tools/call`, `params.name`), in a single JSON-RPC
/// message or a batch. A body that is not JSON calls nothing the gateway can see; the MCP
/// server refuses it.
///
/// # Errors
/// A `tools/call` without a string `params.name`.
pub fn called(body: &[u8]) -> Result<Vec<String>, &'static str> {
    let Ok(msg) = serde_json::from_slice::<Value>(body) else {
        return Ok(Vec::new());
    };
    let messages = match &msg {
        Value::Array(batch) => batch.iter().collect(),
        one => vec![one],
    };
    let mut names = Vec::new();
    for m in messages {
        if m.get("method").and_then(Value::as_str) != Some("tools/call") {
            continue;
        }
        let name = m
            .pointer("/params/name")
            .and_then(Value::as_str)
            .ok_or("tools/call without a tool name")?;
        names.push(name.to_owned());
    }
    Ok(names)
}

/// `required` plus the scopes of every tool in `names`, each once, in that order.
#[must_use]
pub fn needed(
    required: &[String],
    map: &BTreeMap<String, Vec<String>>,
    names: &[String],
) -> Vec<String> {
    let mut out: Vec<String> = required.to_vec();
    for scope in names.iter().filter_map(|n| map.get(n)).flatten() {
        if !out.contains(scope) {
            out.push(scope.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_tool_calls_in_single_messages_and_batches() {
        let one = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"deploy"}}"#;
        assert_eq!(called(one).unwrap(), ["deploy"]);
        let batch = br#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"},
            {"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"a"}},
            {"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"b"}}]"#;
        assert_eq!(called(batch).unwrap(), ["a", "b"]);
        assert!(called(br#"{"method":"tools/list"}"#).unwrap().is_empty());
        assert!(called(b"not json").unwrap().is_empty());
        assert!(called(br#"{"method":"tools/call","params":{"name":7}}"#).is_err());
        assert!(called(br#"{"method":"tools/call"}"#).is_err());
    }

    #[test]
    fn needed_is_the_union_in_order() {
        let map = BTreeMap::from([
            (
                "deploy".to_owned(),
                vec!["mcp:write".to_owned(), "mcp:admin".to_owned()],
            ),
            ("read".to_owned(), vec!["mcp:read".to_owned()]),
        ]);
        let req = vec!["mcp:read".to_owned()];
        assert_eq!(
            needed(
                &req,
                &map,
                &["deploy".into(), "read".into(), "other".into()]
            ),
            ["mcp:read", "mcp:write", "mcp:admin"]
        );
        assert_eq!(needed(&req, &map, &[]), ["mcp:read"]);
    }
}
