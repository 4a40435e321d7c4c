//! Per-tool authorization (`tool_scopes`): which tools a JSON-RPC request body calls (and
//! whether it lists them), and the scopes that takes. The body is read whole for this, bounded by `gateway.max_body_bytes`, and
//! only on resources that map tools; `Mcp-Name` (MCP 2026-07-28) is checked against the body
//! rather than trusted, since an older MCP server would not notice a header that names a
//! harmless tool while the body calls another.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;

/// What a JSON-RPC request body asks of the tools, as far as the gateway cares.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ToolRequests {
    /// The names of the tools it calls (`tools/call`, `params.name`), in order.
    pub called: Vec<String>,
    /// The ids of its `tools/list` requests (whose answers [`super::tools_list`] filters).
    pub list_ids: Vec<Value>,
}

/// The tools `body` calls and lists, in a single JSON-RPC message or a batch. A body that is
/// not JSON calls nothing the gateway can see; the MCP server refuses it.
///
/// # Errors
/// A `tools/call` without a string `params.name`.
pub fn read(body: &[u8]) -> Result<ToolRequests, &'static str> {
    let mut out = ToolRequests::default();
    let Ok(msg) = serde_json::from_slice::<Value>(body) else {
        return Ok(out);
    };
    let messages = match &msg {
        Value::Array(batch) => batch.iter().collect(),
        one => vec![one],
    };
    for m in messages {
        match m.get("method").and_then(Value::as_str) {
            Some("tools/call") => {
                let name = m
                    .pointer("/params/name")
                    .and_then(Value::as_str)
                    .ok_or("tools/call without a tool name")?;
                out.called.push(name.to_owned());
            }
            Some("tools/list") => out
                .list_ids
                .push(m.get("id").cloned().unwrap_or(Value::Null)),
            _ => {}
        }
    }
    Ok(out)
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

/// The mapped tools that a token with the space-separated `held` scopes may not call: those
/// `tools/list` answers leave out. Unmapped tools need only `required_scopes`, which every
/// request that gets this far already holds.
#[must_use]
pub fn hidden(map: &BTreeMap<String, Vec<String>>, held: &str) -> HashSet<String> {
    let held: Vec<&str> = held.split(' ').collect();
    map.iter()
        .filter(|(_, needs)| needs.iter().any(|s| !held.contains(&s.as_str())))
        .map(|(name, _)| name.clone())
        .collect()
}

#[cfg(test)]
#[path = "tools_tests.rs"]
mod tests;
