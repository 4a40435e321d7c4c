//! MCP protocol details that the gateway and the demo MCP server both need.

use base64::Engine as _;

/// A header value as sent, or decoded from the `=?base64?…?=` form of MCP 2026-07-28 (SEP-2243
/// "Value Encoding": `Mcp-Name` and friends carry names that are not plain header text that
/// way); `None` when that form does not decode to UTF-8.
#[must_use]
pub fn decode_header_value(value: &str) -> Option<String> {
    let Some(encoded) = value
        .strip_prefix("=?base64?")
        .and_then(|v| v.strip_suffix("?="))
    else {
        return Some(value.to_owned());
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
#[path = "mcp_tests.rs"]
mod tests;
