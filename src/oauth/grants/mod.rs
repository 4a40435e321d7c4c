//! The token endpoint's grants: one file per grant type, plus the checks they share.

pub mod authorization_code;
pub mod client_credentials;
pub mod jwt_bearer;
pub mod refresh_token;
pub mod token_exchange;

pub use authorization_code::exchange;
pub use refresh_token::refresh;

use super::{resource, Error, Result, Settings};

/// RFC 8707 §2.2: a `resource` sent to the token endpoint must name the resource the code or
/// refresh token is bound to; we issue single-audience tokens. Nothing (or only empty values)
/// means "the bound one". Parsing, comma splitting (COMPAT C14) and the tolerated differences
/// (scheme/host case, default port, trailing slash) are `oauth::resource`'s.
pub(crate) fn check_resource(requested: &[String], bound: &str, settings: &Settings) -> Result<()> {
    if requested.iter().all(|v| v.trim().is_empty()) {
        return Ok(());
    }
    let named = resource::resolve_resource(requested, settings)?;
    let same = match (resource::normalise(&named.uri), resource::normalise(bound)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same {
        return Err(Error::InvalidTarget(
            "resource does not match the one the grant was issued for".to_owned(),
        ));
    }
    Ok(())
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
#[path = "mod_tests.rs"]
mod tests;
