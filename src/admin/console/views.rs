//! Query strings of the console's pages, read leniently where HTML forms are lenient (an empty
//! field means "any") and strictly otherwise (a bad value is a 400 page, never a silently wider
//! list), and the small conversions the pages share.

use axum::http::Uri;
use axum::response::Response;
use serde::Serialize;

use super::render::Refusal;
use crate::http::form::Params;

/// The fields a page's query string may have; others are refused (a typo would otherwise show
/// an unfiltered list).
///
/// # Errors
/// 400 for bad encoding, a repeated or an unknown field.
pub fn query(uri: &Uri, allowed: &[&str]) -> Result<Params, Refusal> {
    let raw = uri.query().unwrap_or_default();
    let params = Params::parse(raw.as_bytes())
        .map_err(|_| Refusal::bad_request("malformed query string"))?;
    if let Some(name) = params.duplicated(&[]).first() {
        return Err(Refusal::bad_request(&format!("{name} was given twice")));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw).unwrap_or_default();
    if let Some((name, _)) = pairs.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        return Err(Refusal::bad_request(&format!(
            "unknown query parameter {name}"
        )));
    }
    Ok(params)
}

/// `true` / `false` / absent.
///
/// # Errors
/// 400 for anything else.
pub fn flag(params: &Params, name: &str) -> Result<Option<bool>, Refusal> {
    match params.get(name) {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(Refusal::bad_request(&format!("{name} is true or false"))),
    }
}

/// A field that is text of at most `max` bytes, if given.
///
/// # Errors
/// 400 when longer.
pub fn text(params: &Params, name: &str, max: usize) -> Result<Option<String>, Refusal> {
    match params.get(name) {
        Some(v) if v.len() > max => Err(Refusal::bad_request(&format!("{name} is too long"))),
        other => Ok(other.map(str::to_owned)),
    }
}

/// A time given as Unix seconds or as an `<input type="datetime-local">` value
/// (`YYYY-MM-DDTHH:MM[:SS]`, read as UTC).
///
/// # Errors
/// 400 for anything else.
pub fn time(params: &Params, name: &str) -> Result<Option<i64>, Refusal> {
    let Some(v) = params.get(name) else {
        return Ok(None);
    };
    let bad = || Refusal::bad_request(&format!("{name} is Unix seconds or YYYY-MM-DDTHH:MM"));
    if let Ok(seconds) = v.parse::<i64>() {
        return Ok(Some(seconds));
    }
    parse_datetime(v).map(Some).ok_or_else(bad)
}

/// `YYYY-MM-DDTHH:MM[:SS]` as Unix seconds (UTC).
#[must_use]
pub fn parse_datetime(v: &str) -> Option<i64> {
    let (date, clock) = v.split_once('T')?;
    let mut d = date.splitn(3, '-').map(str::parse::<i64>);
    let (year, month, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let mut t = clock.splitn(3, ':').map(str::parse::<i64>);
    let (hour, minute) = (t.next()?.ok()?, t.next()?.ok()?);
    let second = t.next().transpose().ok()?.unwrap_or(0);
    let valid = (1..=9999).contains(&year)
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
        && (0..24).contains(&hour)
        && (0..60).contains(&minute)
        && (0..60).contains(&second);
    if !valid {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

/// `path` with the given filters as its query string.
#[must_use]
pub fn link(path: &str, filters: &[(&str, Option<String>)]) -> String {
    let pairs: Vec<(&str, &str)> = filters
        .iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (*k, v)))
        .collect();
    match serde_urlencoded::to_string(pairs) {
        Ok(q) if !q.is_empty() => format!("{path}?{q}"),
        _ => path.to_owned(),
    }
}

/// The link to the next page: `path` with the page's filters and `cursor`.
#[must_use]
pub fn next_link(
    path: &str,
    filters: &[(&str, Option<String>)],
    cursor: Option<&str>,
) -> Option<String> {
    let mut all = filters.to_vec();
    all.push(("cursor", Some(cursor?.to_owned())));
    Some(link(path, &all))
}

/// A view as a template value.
#[must_use]
pub fn value(v: &impl Serialize) -> minijinja::Value {
    minijinja::Value::from_serialize(v)
}

/// The JSON body of an admin API answer (the audit list answers with a `Response`).
///
/// # Errors
/// Internal when the body is not JSON.
pub async fn json_body(res: Response) -> Result<serde_json::Value, Refusal> {
    let bytes = axum::body::to_bytes(res.into_body(), 16 * 1024 * 1024)
        .await
        .map_err(|e| Refusal::Internal(anyhow::anyhow!("reading an admin answer: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| Refusal::Internal(e.into()))
}

#[cfg(test)]
#[path = "views_tests.rs"]
mod tests;
