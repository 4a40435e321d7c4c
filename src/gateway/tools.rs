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

/// The tools `body` calls and lists, in a single JSON-RPC message or a batch.
///
/// Fails closed: the gateway authorises what it reads, so a body it cannot read the way every
/// MCP server would is refused rather than passed on unchecked. That is a body that is not
/// JSON (a lenient server might still run it), and an object with a key twice (parsers differ
/// on which one wins: the gateway could check `"name": "echo"` while the server runs
/// `"name": "deploy"`).
///
/// # Errors
/// Such a body, or a `tools/call` without a string `params.name`.
pub fn read(body: &[u8]) -> Result<ToolRequests, &'static str> {
    let mut out = ToolRequests::default();
    let msg = match serde_json::from_slice::<Unambiguous>(body) {
        Ok(Unambiguous(msg)) => msg,
        Err(e) if e.to_string().starts_with(DUPLICATE) => {
            return Err("the request body has an object with a key twice");
        }
        Err(_) => return Err("the request body is not JSON"),
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

/// Start of the error [`Unambiguous`] gives for a repeated key.
const DUPLICATE: &str = "duplicate key";

/// A JSON value read by serde_json that refuses an object with a key twice, at any depth
/// (`serde_json::Value` keeps the last). Written by hand: serde_json has no such switch and no
/// maintained crate does only this.
struct Unambiguous(Value);

impl<'de> serde::Deserialize<'de> for Unambiguous {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(UnambiguousVisitor).map(Unambiguous)
    }
}

struct UnambiguousVisitor;

impl<'de> serde::de::Visitor<'de> for UnambiguousVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(Unambiguous(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Unambiguous(v) = map.next_value()?;
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(DUPLICATE));
            }
            out.insert(key, v);
        }
        Ok(Value::Object(out))
    }
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
