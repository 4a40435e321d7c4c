//! Which `[[client_rules]]` rule applies to a client (COMPAT C9, C22) and the upstream it maps
//! the client to; the rules themselves are read and checked in `config::client_rules`.

use crate::config::{ClientMatch, ClientRuleConfig};
use crate::store::{ClientKind, ClientRecord};

/// The first rule whose `match` fits `client`.
#[must_use]
pub fn rule_for<'r>(
    rules: &'r [ClientRuleConfig],
    client: &ClientRecord,
) -> Option<&'r ClientRuleConfig> {
    rules.iter().find(|r| matches(&r.matches, client))
}

/// Every key the rule gives must fit.
#[must_use]
pub fn matches(m: &ClientMatch, client: &ClientRecord) -> bool {
    let host = m
        .redirect_host
        .as_deref()
        .is_none_or(|h| all_redirects_on(client, h));
    let software = m
        .software_id
        .as_deref()
        .is_none_or(|s| client.software_id.as_deref() == Some(s));
    let cimd = m.cimd_domain.as_deref().is_none_or(|d| {
        client.kind == ClientKind::Cimd && https_host(&client.client_id) == Some(d.to_owned())
    });
    let scheme = m
        .redirect_scheme
        .as_deref()
        .is_none_or(|s| all_redirects_use(client, s));
    host && software && cimd && scheme
}

/// The upstream the applicable rule maps `client` to, `""` (unmapped) when none: what
/// registration stores in `ClientRecord::upstream_id`.
#[must_use]
pub fn mapped_upstream(rules: &[ClientRuleConfig], client: &ClientRecord) -> String {
    rule_for(rules, client)
        .and_then(|r| r.upstream.clone())
        .unwrap_or_default()
}

/// True when the client has redirect URIs and every one has `scheme` ("any" would let a client
/// add one URI of the scheme to borrow the rule, as for [`all_redirects_on`]).
fn all_redirects_use(client: &ClientRecord, scheme: &str) -> bool {
    !client.redirect_uris.is_empty()
        && client
            .redirect_uris
            .iter()
            .all(|u| url::Url::parse(u).is_ok_and(|u| u.scheme() == scheme))
}

/// True when the client has redirect URIs and every one is `https` on `host` with the default
/// port. "Any" would let a client that registers `https://claude.ai/…` next to its own URI
/// borrow claude.ai's rule for responses sent to its own URI.
fn all_redirects_on(client: &ClientRecord, host: &str) -> bool {
    !client.redirect_uris.is_empty()
        && client
            .redirect_uris
            .iter()
            .all(|u| https_host(u).is_some_and(|h| h == host))
}

/// The lowercase host of an `https` URL without an explicit port.
fn https_host(raw: &str) -> Option<String> {
    let url = url::Url::parse(raw).ok()?;
    if url.scheme() != "https" || url.port().is_some() {
        return None;
    }
    url.host_str().map(str::to_ascii_lowercase)
}

#[cfg(test)]
#[path = "client_rules_tests.rs"]
mod tests;
