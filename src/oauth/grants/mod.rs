//! The token endpoint's grants: one file per grant type, plus the checks they share.

pub mod authorization_code;
pub mod refresh_token;

pub use authorization_code::exchange;
pub use refresh_token::refresh;

use super::{Error, Result};

/// RFC 8707 §2.2: a `resource` sent to the token endpoint must name the resource the code or
/// refresh token is bound to; we issue single-audience tokens, so every value given must be that
/// one. Nothing given means "the bound one". Scheme and host compare case-insensitively and a
/// trailing slash is ignored (MCP 2025-11-25 §Canonical Server URI).
pub(crate) fn check_resource(requested: &[String], bound: &str) -> Result<()> {
    let bound = normalise_resource(bound);
    for r in requested {
        if bound.is_none() || normalise_resource(r) != bound {
            return Err(Error::InvalidTarget(
                "resource does not match the one the grant was issued for".to_owned(),
            ));
        }
    }
    Ok(())
}

/// Canonical form for comparison: parsed URL (scheme and host lowercased by the parser), no
/// fragment (RFC 8707 §2 forbids one), trailing slash dropped.
fn normalise_resource(uri: &str) -> Option<String> {
    let url = url::Url::parse(uri.trim()).ok()?;
    if url.fragment().is_some() {
        return None;
    }
    let mut s = url.to_string();
    if s.ends_with('/') {
        s.pop();
    }
    Some(s)
}

/// Best effort: the tokens are already issued, so a failure here must not turn into an error
/// answer that would lose them.
async fn touch_client(core: &super::Core, client_id: &str, now: i64) {
    if let Err(e) = core.store.touch_client(client_id, now).await {
        tracing::warn!(error = %e, client_id, "could not record client use");
    }
}

#[cfg(test)]
pub(crate) mod fixture_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_comparison_tolerates_case_and_trailing_slash_only() {
        let bound = "https://mcp.example.com/mcp";
        assert!(check_resource(&[], bound).is_ok());
        assert!(check_resource(&["HTTPS://MCP.Example.com/mcp/".to_owned()], bound).is_ok());
        assert!(check_resource(&[bound.to_owned(), bound.to_owned()], bound).is_ok());
        for bad in ["https://mcp.example.com/MCP", "https://mcp.example.com/other", "https://mcp.example.com/mcp#x", "not a url"] {
            assert!(matches!(check_resource(&[bad.to_owned()], bound), Err(Error::InvalidTarget(_))), "{bad}");
        }
        assert!(check_resource(&[bound.to_owned(), "https://evil.example/mcp".to_owned()], bound).is_err());
    }
}
