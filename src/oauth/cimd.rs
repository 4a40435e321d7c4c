//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document-00, "CIMD-00";
//! MCP 2025-11-25 §Client ID Metadata Documents): a `client_id` that is an `https` URL names a
//! JSON document of client metadata published at that URL.
//!
//! This module holds the pure rules: which URLs may be client ids (CIMD-00 §Client Identifier),
//! and how a fetched document becomes a `cimd` client record (CIMD-00 §Client Metadata). The
//! fetch itself is [`ClientMetadataFetcher`], implemented in `idp::cimd_fetch` beside the other
//! outbound HTTP; caching and storage are in `clients::CimdClients`.

use async_trait::async_trait;
use serde_json::Value;
use url::Url;

use super::error::Error;
use super::redirect_uri::{describe_value, is_uri_char};
use super::registration::{self, RegistrationRequest};
use super::settings::Settings;
use crate::config::CimdSettings;
use crate::store::{ClientKind, ClientRecord};

/// Longest URL client id accepted (it is stored as a key and shown on the consent page).
pub const MAX_CLIENT_ID_LEN: usize = 1024;

/// A fetched document: the body as received and the freshness the response declared.
#[derive(Debug, Clone)]
pub struct FetchedDocument {
    pub body: Vec<u8>,
    /// `Cache-Control: max-age`, in seconds; `None` when absent, `Some(0)` for `no-store` or
    /// `no-cache` (the caller clamps to its bounds).
    pub max_age: Option<u64>,
}

/// Why a document could not be fetched. The texts are shown to the client (`invalid_client`
/// description) and on our error page, so they name a category, never an address: which
/// addresses a host resolved to is not ours to disclose.
#[derive(Debug, Clone, thiserror::Error)]
pub enum FetchError {
    /// The host resolved to an address we never fetch from (private, loopback, ...).
    #[error("the client id's host resolves to an address that is not publicly routable")]
    ForbiddenAddress,
    /// DNS, connect, TLS or protocol failure.
    #[error("the client metadata document could not be retrieved")]
    Unreachable,
    /// The fetch took longer than the configured limit.
    #[error("fetching the client metadata document timed out")]
    Timeout,
    /// Any status but 200 (redirects are not followed: CIMD-00 §6, SSRF).
    #[error("the client metadata document URL answered HTTP {0}, not 200")]
    Status(u16),
    /// Not `application/json` (or `+json`).
    #[error("the client metadata document is not served as application/json")]
    NotJson,
    /// Larger than the configured limit.
    #[error("the client metadata document is larger than {0} bytes")]
    TooLarge(usize),
}

impl FetchError {
    /// Whether the failure says nothing about the document itself (the host may answer again
    /// shortly): unreachable, timed out, HTTP 5xx or 429 (RFC 9110 §15.6, RFC 6585 §4). A
    /// stored record may then still be used for a bounded time. Every other outcome is the
    /// publisher's (or our policy's) definitive answer.
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Unreachable | Self::Timeout => true,
            Self::Status(code) => *code >= 500 || *code == 429,
            Self::ForbiddenAddress | Self::NotJson | Self::TooLarge(_) => false,
        }
    }
}

/// Fetches a client metadata document under the SSRF, size and time rules of CIMD-00 §6.
#[async_trait]
pub trait ClientMetadataFetcher: Send + Sync {
    /// GETs `url` (already checked by [`check_client_id`]).
    ///
    /// # Errors
    /// [`FetchError`]; nothing is cached on error (CIMD-00 §Metadata Caching).
    async fn fetch(&self, url: &Url) -> Result<FetchedDocument, FetchError>;
}

/// Whether `client_id` is meant as a metadata document URL (then it is resolved by fetching and
/// checked by [`check_client_id`]) rather than an id we issued or an admin configured.
#[must_use]
pub fn is_url_client_id(client_id: &str) -> bool {
    let lower = |p: &str| {
        client_id
            .get(..p.len())
            .is_some_and(|h| h.eq_ignore_ascii_case(p))
    };
    lower("https://") || lower("http://")
}

fn refuse(message: impl Into<String>) -> Error {
    Error::invalid_client(message)
}

/// Checks a URL client id (CIMD-00 §Client Identifier): `https`, a host, a path other than `/`
/// (MCP SDKs require it), no userinfo, fragment, query or dot segments, in the form a URL
/// parser would print it (so what we fetch is exactly the string the document must repeat),
/// and a host the administrator allows. `http` on a loopback host only under
/// `allow_loopback_for_tests`.
///
/// # Errors
/// `invalid_client` naming the rule broken.
pub fn check_client_id(client_id: &str, s: &CimdSettings) -> Result<Url, Error> {
    if client_id.len() > MAX_CLIENT_ID_LEN {
        return Err(refuse(format!(
            "a URL client id may be at most {MAX_CLIENT_ID_LEN} characters"
        )));
    }
    if !client_id.chars().all(is_uri_char) {
        return Err(refuse(
            "the client id URL contains characters that are not allowed in a URL",
        ));
    }
    if client_id.contains('#') {
        return Err(refuse("a client id URL must not have a fragment"));
    }
    let url = Url::parse(client_id).map_err(|_| refuse("the client id is not a valid URL"))?;
    let loopback_http = url.scheme() == "http"
        && s.allow_loopback_for_tests
        && crate::config::is_loopback_url(&url);
    if url.scheme() != "https" && !loopback_http {
        return Err(refuse("a client id URL must use https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(refuse("a client id URL must not contain credentials"));
    }
    if url.query().is_some() {
        return Err(refuse("a client id URL must not have a query"));
    }
    // Dot segments, raw or percent-encoded: the parser removes raw ones (caught below by the
    // comparison), but keeps `%2e` forms, which a server may still resolve.
    let path = client_id
        .split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .unwrap_or("");
    if path.split('/').any(|seg| {
        let seg = seg.to_ascii_lowercase().replace("%2e", ".");
        seg == "." || seg == ".."
    }) {
        return Err(refuse(
            "a client id URL must not contain . or .. path segments",
        ));
    }
    if url.path() == "/" || url.path().is_empty() {
        return Err(refuse("a client id URL must have a path"));
    }
    // The parser's form equals the string: no case, port, IDNA or encoding variants of one URL
    // that would let two client ids name one document (CIMD-00 requires exact comparison).
    if url.as_str() != client_id {
        return Err(refuse(format!(
            "the client id URL is not in canonical form; use {}",
            describe_value(url.as_str())
        )));
    }
    let host = url.host_str().unwrap_or_default();
    if !s.domain_allowed(host) {
        return Err(refuse(format!(
            "client metadata documents from {} are not accepted by this server",
            describe_value(host)
        )));
    }
    Ok(url)
}

/// Turns a fetched document into the `cimd` client it describes (CIMD-00 §Client Metadata):
/// a JSON object whose `client_id` is exactly `client_id`; no client secret, and a public
/// client (`token_endpoint_auth_method` absent or `none`: shared secrets are forbidden and
/// `private_key_jwt` is not supported here); redirect URIs and display fields checked and
/// sanitized by the registration rules. `existing` (the stored record, if any) keeps its
/// creation time and disabled flag.
///
/// # Errors
/// `invalid_client` with what is wrong in the document.
pub fn document_record(
    client_id: &str,
    body: &[u8],
    settings: &Settings,
    existing: Option<&ClientRecord>,
    now: i64,
) -> Result<ClientRecord, Error> {
    let doc: Value = serde_json::from_slice(body)
        .map_err(|_| refuse("the client metadata document is not valid JSON"))?;
    let Value::Object(map) = &doc else {
        return Err(refuse("the client metadata document must be a JSON object"));
    };
    match map.get("client_id") {
        Some(Value::String(id)) if id == client_id => {}
        Some(Value::String(_)) => {
            return Err(refuse(
                "the client metadata document's client_id is not its own URL",
            ))
        }
        _ => {
            return Err(refuse(
                "the client metadata document must contain client_id, its own URL",
            ))
        }
    }
    for forbidden in ["client_secret", "client_secret_expires_at"] {
        if map.contains_key(forbidden) {
            return Err(refuse(format!(
                "a client metadata document must not contain {forbidden}"
            )));
        }
    }
    match map.get("token_endpoint_auth_method") {
        None | Some(Value::Null) => {}
        Some(Value::String(m)) if m == "none" => {}
        Some(Value::String(m)) if m == "private_key_jwt" => {
            return Err(refuse(
                "token_endpoint_auth_method private_key_jwt is not supported by this server; \
                 publish the document with token_endpoint_auth_method none",
            ))
        }
        Some(Value::String(m)) => {
            return Err(refuse(format!(
                "token_endpoint_auth_method {} is not allowed in a client metadata document \
                 (shared secrets are forbidden); use none",
                describe_value(m)
            )))
        }
        Some(_) => return Err(refuse("token_endpoint_auth_method must be a string")),
    }
    // CIMD-00 allows jwks/jwks_uri for private_key_jwt only, which is refused above; say so
    // rather than the registration rule's advice to use a client secret.
    if ["jwks", "jwks_uri"].iter().any(|k| map.contains_key(*k)) {
        return Err(refuse(
            "jwks and jwks_uri are not supported: publish the document with \
             token_endpoint_auth_method none and without keys",
        ));
    }
    let req = RegistrationRequest::from_json(doc.clone()).map_err(document_error)?;
    let base = ClientRecord {
        created_at: existing.map_or(now, |e| e.created_at),
        last_used_at: existing.and_then(|e| e.last_used_at),
        disabled: existing.is_some_and(|e| e.disabled),
        ..ClientRecord::blank(client_id.to_owned(), ClientKind::Cimd, String::new(), now)
    };
    let mut record = registration::document_record(&req, settings, base).map_err(document_error)?;
    // The client→upstream mapping is decided at the first use (`[[client_rules]]` upstream)
    // and kept when the document is fetched again.
    record.upstream_id = existing.map_or_else(
        || settings.mapped_upstream(&record),
        |e| e.upstream_id.clone(),
    );
    Ok(record)
}

/// A registration-rule failure, reported as the document's fault (`invalid_client`).
fn document_error(e: Error) -> Error {
    refuse(format!(
        "the client metadata document is invalid: {}",
        e.description().unwrap_or_default()
    ))
}

/// Whether two records of one document differ in anything we store from it.
#[must_use]
pub fn metadata_changed(a: &ClientRecord, b: &ClientRecord) -> bool {
    a.redirect_uris != b.redirect_uris
        || a.client_name != b.client_name
        || a.client_uri != b.client_uri
        || a.logo_uri != b.logo_uri
        || a.scope != b.scope
        || a.contacts != b.contacts
        || a.software_id != b.software_id
        || a.software_version != b.software_version
        || a.application_type != b.application_type
        || a.token_endpoint_auth_method != b.token_endpoint_auth_method
        || a.kind != b.kind
}

/// `host[:port]` of a URL client id: the domain the consent page names as verified (whoever
/// controls it published the document; CIMD-00 §OAuth Phishing Attacks).
#[must_use]
pub fn verified_domain(client_id: &str) -> Option<String> {
    let url = Url::parse(client_id).ok()?;
    let host = url.host_str()?;
    Some(match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    })
}

#[cfg(test)]
#[path = "cimd_tests.rs"]
mod tests;
