//! RFC 8707 resource indicators: which configured resource (token audience) a request is for.

use super::error::Error;
use super::redirect_uri::describe_value;
use super::settings::{Resource, Settings};

/// Most `resource` values one request may carry (after comma splitting).
const MAX_VALUES: usize = 20;
/// Longest `resource` value considered.
const MAX_LEN: usize = 2000;

/// The one configured resource the raw `resource` parameters name.
///
/// `values` are the parameters as sent, possibly repeated (RFC 8707 §2). Some clients join
/// several into one comma-separated value (COMPAT C14), so a value that is not itself a known
/// resource is split on commas. Comparison tolerates only what the MCP spec asks us to: scheme
/// and host case, an explicit default port and a single trailing `/`. Empty values count as
/// absent (some clients send `resource=` when they have none).
///
/// Without any value: the single configured resource, when there is exactly one.
///
/// # Errors
/// `invalid_target` for a value that is not an absolute URI, has a fragment, is not configured,
/// or when the values name more than one resource or none can be chosen.
pub fn resolve_resource<'a>(
    values: &[String],
    settings: &'a Settings,
) -> Result<&'a Resource, Error> {
    let mut pieces: Vec<&str> = Vec::new();
    for value in values {
        let whole = value.trim();
        if whole.is_empty() {
            continue;
        }
        if find(whole, settings).is_some() {
            pieces.push(whole);
        } else {
            pieces.extend(whole.split(',').map(str::trim).filter(|p| !p.is_empty()));
        }
        if pieces.len() > MAX_VALUES {
            return Err(Error::InvalidTarget("too many resource values".to_owned()));
        }
    }
    let mut chosen: Option<&Resource> = None;
    for piece in pieces {
        let found = match find(piece, settings) {
            Some(r) => r,
            None => {
                normalise(piece)?;
                return Err(Error::InvalidTarget(format!(
                    "unknown resource {}",
                    describe_value(piece)
                )));
            }
        };
        match chosen {
            Some(c) if c.id != found.id => {
                return Err(Error::InvalidTarget(
                    "one resource per request: the resource values name different resources"
                        .to_owned(),
                ));
            }
            _ => chosen = Some(found),
        }
    }
    if let Some(r) = chosen {
        return Ok(r);
    }
    match settings.resources.as_slice() {
        [only] => Ok(only),
        [] => Err(Error::InvalidTarget(
            "no resources are configured".to_owned(),
        )),
        _ => Err(Error::InvalidTarget(
            "resource is required when several resources are configured".to_owned(),
        )),
    }
}

/// The comparison form of a resource URI: lowercase scheme and host, no default port, no single
/// trailing `/`.
///
/// # Errors
/// `invalid_target` when `value` is not an absolute URI or carries a fragment (RFC 8707 §2).
pub fn normalise(value: &str) -> Result<String, Error> {
    if value.len() > MAX_LEN {
        return Err(Error::InvalidTarget(format!(
            "resource is longer than {MAX_LEN} characters"
        )));
    }
    if value.contains('#') {
        return Err(Error::InvalidTarget(format!(
            "resource {} must not contain a fragment (RFC 8707 section 2)",
            describe_value(value)
        )));
    }
    let url = url::Url::parse(value).map_err(|_| {
        Error::InvalidTarget(format!(
            "resource {} is not an absolute URI (RFC 8707 section 2)",
            describe_value(value)
        ))
    })?;
    // `Url` already lowercases scheme and host and drops default ports of special schemes.
    let s = url.as_str();
    Ok(s.strip_suffix('/').unwrap_or(s).to_owned())
}

fn find<'a>(value: &str, settings: &'a Settings) -> Option<&'a Resource> {
    let wanted = normalise(value).ok()?;
    settings
        .resources
        .iter()
        .find(|r| normalise(&r.uri).is_ok_and(|n| n == wanted))
}

#[cfg(test)]
#[path = "resource_tests.rs"]
mod tests;
