//! Configuration parse errors in words a person fixing the file can act on: the key (as
//! `upstreams[0].kind`), what is wrong with its value, where the value came from (the file or
//! the environment variable) and the fix, each said once. figment's own `Display` repeats
//! itself through the error chain and names its internals (`figment::value::value::Value`, a
//! `src/config/load.rs:56:41` location) when a value came from the environment (issue 11 #13).

use figment::error::{Error, Kind};
use figment::Source;

use super::ENV_PREFIX;

/// The metadata name of a value that came from one environment variable (see `load.rs`).
pub(super) const ENV_SOURCE: &str = "environment variable ";

/// Every error figment collected, one line (or TOML excerpt) each.
pub(super) fn describe(err: &Error) -> String {
    err.clone()
        .into_iter()
        .map(|e| describe_one(&e))
        .collect::<Vec<_>>()
        .join("\n")
}

fn describe_one(e: &Error) -> String {
    let key = display_key(&e.path);
    let origin = origin(e);
    let at = origin
        .as_deref()
        .map(|o| format!(" ({o})"))
        .unwrap_or_default();
    match &e.kind {
        Kind::MissingField(field) => {
            let mut path = e.path.clone();
            path.push(field.to_string());
            let key = display_key(&path);
            let var = env_var(&path);
            // Any key can come from `*_FILE`; only secrets are worth the mention.
            let file = if field.contains("secret") {
                format!(" (or {var}_FILE naming a file that holds it)")
            } else {
                String::new()
            };
            format!(
                "{key}: required but not set; set it in the configuration file or with {var}{file}"
            )
        }
        Kind::UnknownField(found, expected) => {
            let hint = closest(found, expected)
                .map(|s| format!("did you mean `{s}`? "))
                .unwrap_or_default();
            format!(
                "{key}: unknown key{at}; {hint}the keys allowed here are: {}",
                expected.join(", ")
            )
        }
        Kind::UnknownVariant(found, expected) => {
            let allowed = expected
                .iter()
                .map(|v| format!("\"{v}\""))
                .collect::<Vec<_>>()
                .join(", ");
            format!("{key}: unknown value \"{found}\"{at}; use one of: {allowed}")
        }
        Kind::InvalidType(actual, expected) => {
            format!("{key}: expected {expected}, found {actual}{at}")
        }
        Kind::InvalidValue(actual, expected) => {
            format!("{key}: invalid value {actual}{at}, expected {expected}")
        }
        Kind::InvalidLength(len, expected) => {
            format!("{key}: {len} elements{at}, expected {expected}")
        }
        // A file that does not parse or cannot be read: the message has the position.
        Kind::Message(message) if key.is_empty() => match origin.as_deref() {
            Some(o) => format!("{}: {}", o.trim_start_matches("in "), message.trim_end()),
            None => message.trim_end().to_owned(),
        },
        Kind::Message(message) => format!("{key}: {}{at}", message.trim_end()),
        other => format!("{key}: {other}{at}"),
    }
}

/// `upstreams.0.kind` → `upstreams[0].kind`, the form `Config::validate` uses.
fn display_key(path: &[String]) -> String {
    let mut out = String::new();
    for seg in path {
        if seg.parse::<usize>().is_ok() {
            out.push_str(&format!("[{seg}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(seg);
        }
    }
    out
}

/// The environment variable that sets `path`: `DCR_BRIDGE_UPSTREAMS__0__CLIENT_ID`.
fn env_var(path: &[String]) -> String {
    format!("{ENV_PREFIX}{}", path.join("__").to_ascii_uppercase())
}

/// `in dcr-bridge.toml` or `from environment variable DCR_BRIDGE_X`; never a source location.
fn origin(e: &Error) -> Option<String> {
    let md = e.metadata.as_ref()?;
    match &md.source {
        Some(Source::File(path)) => Some(format!("in {}", path.display())),
        _ if md.name.starts_with(ENV_SOURCE) => Some(format!("from {}", md.name)),
        _ => None,
    }
}

/// The allowed name within two edits of `found`, if exactly one is that close.
fn closest<'a>(found: &str, allowed: &[&'a str]) -> Option<&'a str> {
    let near: Vec<&str> = allowed
        .iter()
        .copied()
        .filter(|a| edit_distance(found, a) <= 2)
        .collect();
    match near.as_slice() {
        [one] => Some(one),
        _ => None,
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut row = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            row.push((prev[j] + cost).min(prev[j + 1] + 1).min(row[j] + 1));
        }
        prev = row;
    }
    prev[b.len()]
}

#[cfg(test)]
#[path = "errors_tests.rs"]
mod tests;
