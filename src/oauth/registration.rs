//! Dynamic client registration: RFC 7591 (register), RFC 7592 (update) and the OIDC DCR
//! `application_type`. Turns untrusted client metadata into a `ClientRecord`, and a record back
//! into the RFC 7591 §3.2.1 response.

use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::crypto::{self, CLIENT_ID_PREFIX, CLIENT_SECRET_PREFIX, REGISTRATION_TOKEN_PREFIX};
use super::error::Error;
use super::redirect_uri::{describe_value, is_uri_char, RedirectKind, RedirectUri};
use super::scope::ScopeSet;
use super::settings::Settings;
use crate::config::{is_loopback_url, RegistrationSettings};
use crate::store::{ClientKind, ClientRecord};

/// Longest `client_name`, `software_id` or `software_version`, in characters.
const MAX_TEXT: usize = 200;
/// Longest displayed URI (`client_uri`, `logo_uri`, `tos_uri`, `policy_uri`).
const MAX_URI: usize = 2000;
/// Most `contacts`, and the longest one (an email address is at most 254 octets).
const MAX_CONTACTS: usize = 10;
const MAX_CONTACT_LEN: usize = 320;
/// Most bytes all redirect URIs of one client take together. Real clients register one to
/// four URIs of under 100 bytes each (claude.ai, Cursor, VS Code, mcp-remote: COMPAT C10, C11);
/// without a total, ten URIs of 2000 bytes made a 20 KB row (issue 11, finding 3).
pub const MAX_REDIRECT_URI_BYTES: usize = 4096;
/// Most bytes a client's kept metadata takes, as the JSON of the RFC 7591 response without
/// secrets. Real clients stay under 1 KB.
pub const MAX_METADATA_BYTES: usize = 8192;
/// The grant types every client gets (see [`register`] for why both, always).
const GRANT_TYPES: [&str; 2] = ["authorization_code", "refresh_token"];
const AUTH_METHODS: [&str; 3] = ["none", "client_secret_basic", "client_secret_post"];

/// Client metadata as sent to `POST /register` or `PUT /register/{id}`. Every field is optional
/// here; [`register`] decides what is required. Unknown fields are ignored (RFC 7591 §2).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RegistrationRequest {
    /// RFC 7592 §2.2: present in update requests, must name the client being updated.
    pub client_id: Option<String>,
    /// RFC 7592 §2.2: MAY be present in update requests; must then be the current secret.
    pub client_secret: Option<SecretString>,
    pub redirect_uris: Option<Vec<String>>,
    pub token_endpoint_auth_method: Option<String>,
    pub grant_types: Option<Vec<String>>,
    pub response_types: Option<Vec<String>>,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    pub scope: Option<String>,
    pub contacts: Option<Vec<String>>,
    pub tos_uri: Option<String>,
    pub policy_uri: Option<String>,
    pub software_id: Option<String>,
    pub software_version: Option<String>,
    pub application_type: Option<String>,
    pub jwks_uri: Option<String>,
    pub jwks: Option<Map<String, Value>>,
}

/// Each known field with the JSON type it must have, for error messages that name the field.
const FIELDS: [(&str, &str); 18] = [
    ("client_id", "a string"),
    ("client_secret", "a string"),
    ("redirect_uris", "an array of strings"),
    ("token_endpoint_auth_method", "a string"),
    ("grant_types", "an array of strings"),
    ("response_types", "an array of strings"),
    ("client_name", "a string"),
    ("client_uri", "a string"),
    ("logo_uri", "a string"),
    ("scope", "a space-separated string"),
    ("contacts", "an array of strings"),
    ("tos_uri", "a string"),
    ("policy_uri", "a string"),
    ("software_id", "a string"),
    ("software_version", "a string"),
    ("application_type", "a string"),
    ("jwks_uri", "a string"),
    ("jwks", "a JSON object"),
];

fn meta(description: impl Into<String>) -> Error {
    Error::InvalidClientMetadata(description.into())
}

impl RegistrationRequest {
    /// Reads a request from JSON already parsed by the HTTP layer. `null` counts as absent.
    ///
    /// # Errors
    /// `invalid_client_metadata` naming the first field with the wrong JSON type.
    pub fn from_json(value: Value) -> Result<Self, Error> {
        let Value::Object(map) = value else {
            return Err(meta("the registration request must be a JSON object"));
        };
        let map: Map<String, Value> = map.into_iter().filter(|(_, v)| !v.is_null()).collect();
        for (name, expected) in FIELDS {
            if let Some(v) = map.get(name) {
                let single = Map::from_iter([(name.to_owned(), v.clone())]);
                if serde_json::from_value::<Self>(Value::Object(single)).is_err() {
                    return Err(meta(format!("{name} must be {expected}")));
                }
            }
        }
        serde_json::from_value(Value::Object(map))
            .map_err(|_| meta("the registration request is malformed"))
    }
}

/// A freshly registered client with the secrets shown to it once.
pub struct NewClient {
    /// What to store (hashes only).
    pub record: ClientRecord,
    /// The client secret, for `client_secret_basic` / `client_secret_post` clients.
    pub client_secret: Option<String>,
    /// The RFC 7592 registration access token.
    pub registration_access_token: String,
}

impl std::fmt::Debug for NewClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewClient")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

/// Validated metadata, common to register and update.
struct Metadata {
    redirect_uris: Vec<String>,
    application_type: String,
    token_endpoint_auth_method: String,
    client_name: Option<String>,
    client_uri: Option<String>,
    logo_uri: Option<String>,
    scope: Option<String>,
    contacts: Vec<String>,
    software_id: Option<String>,
    software_version: Option<String>,
}

impl Metadata {
    /// `base` with every client-supplied value replaced by the validated one (registration
    /// and RFC 7592 update share this, so both always store the same fields).
    fn apply(self, base: ClientRecord) -> ClientRecord {
        ClientRecord {
            token_endpoint_auth_method: self.token_endpoint_auth_method,
            redirect_uris: self.redirect_uris,
            grant_types: GRANT_TYPES.map(str::to_owned).to_vec(),
            response_types: vec!["code".to_owned()],
            application_type: self.application_type,
            client_name: self.client_name,
            client_uri: self.client_uri,
            logo_uri: self.logo_uri,
            scope: self.scope,
            contacts: self.contacts,
            software_id: self.software_id,
            software_version: self.software_version,
            ..base
        }
    }
}

/// Registers a client (RFC 7591 §3.1).
///
/// Defaults and replacements (RFC 7591 §3.2.1 lets the server replace requested values):
/// - `token_endpoint_auth_method` defaults to `client_secret_basic` (RFC 7591 §2); MCP public
///   clients send `none`. Only `none`, `client_secret_basic`, `client_secret_post`.
/// - `grant_types` is always `authorization_code` + `refresh_token`: a client that asked only
///   for codes still gets refresh tokens (COMPAT C5: Claude expects `refresh_token` in the
///   answer), and `refresh_token` alone would be useless without codes.
/// - `response_types` is always `code`.
/// - `application_type` defaults to `native` when every redirect URI is loopback or a
///   private-use scheme, else `web`. A `web` client may not use private-use schemes; it may use
///   http loopback, since real clients mislabel themselves.
/// - `tos_uri` and `policy_uri` are checked but not kept: nothing displays them yet.
///
/// # Errors
/// `invalid_redirect_uri` or `invalid_client_metadata` (RFC 7591 §3.2.2).
pub fn register(
    req: RegistrationRequest,
    settings: &Settings,
    max_redirect_uris: usize,
    now: i64,
) -> Result<NewClient, Error> {
    let m = validate(&req, max_redirect_uris, &settings.registration, None)?;
    let client_secret =
        (m.token_endpoint_auth_method != "none").then(|| crypto::new_secret(CLIENT_SECRET_PREFIX));
    let registration_access_token = crypto::new_secret(REGISTRATION_TOKEN_PREFIX);
    // The server picks the id; a client never influences it (RFC 9700 §4.15.1).
    let client_id = format!("{CLIENT_ID_PREFIX}{}", crypto::random_b64(16));
    let mut record = m.apply(ClientRecord {
        secret_hash: client_secret.as_deref().map(crypto::hash),
        registration_token_hash: Some(crypto::hash(&registration_access_token)),
        ..ClientRecord::blank(client_id, ClientKind::Dcr, String::new(), now)
    });
    // The client→upstream mapping is decided once, here, from what the client registered
    // (`[[client_rules]]` upstream; none: unmapped). An RFC 7592 update keeps it.
    record.upstream_id = settings.mapped_upstream(&record);
    check_size(&record)?;
    Ok(NewClient {
        record,
        client_secret,
        registration_access_token,
    })
}

/// The record of a Client ID Metadata Document's client: the document's metadata checked by the
/// same rules as a registration (redirect URIs, sanitized display text, sizes), a public client
/// (`none`; the caller refused every other method), over `base` (id, kind, upstream, times).
///
/// # Errors
/// As [`register`].
pub(super) fn document_record(
    req: &RegistrationRequest,
    settings: &Settings,
    base: ClientRecord,
) -> Result<ClientRecord, Error> {
    let record = validate(
        req,
        settings.registration.max_redirect_uris,
        &settings.registration,
        Some("none"),
    )?
    .apply(base);
    check_size(&record)?;
    Ok(record)
}

/// Applies an RFC 7592 §2.2 update: the request replaces the metadata (omitted fields revert to
/// their defaults), except that an omitted `token_endpoint_auth_method` keeps the current one.
/// The id, secret, registration token, upstream and timestamps of creation are kept.
///
/// # Errors
/// As [`register`]; also `invalid_client_metadata` when the body's `client_id` or
/// `client_secret` are not this client's, or the update would turn a public client into a
/// confidential one or back (a secret can't appear or vanish in place; register anew).
pub fn update(
    existing: &ClientRecord,
    req: RegistrationRequest,
    settings: &Settings,
    max_redirect_uris: usize,
    now: i64,
) -> Result<ClientRecord, Error> {
    if req
        .client_id
        .as_ref()
        .is_some_and(|id| *id != existing.client_id)
    {
        return Err(meta("client_id does not match the client being updated"));
    }
    if let Some(secret) = &req.client_secret {
        let same = existing.secret_hash.as_deref().is_some_and(|h| {
            crypto::ct_eq(
                crypto::hash(secret.expose_secret()).as_bytes(),
                h.as_bytes(),
            )
        });
        if !same {
            return Err(meta(
                "client_secret does not match the client being updated",
            ));
        }
    }
    let m = validate(
        &req,
        max_redirect_uris,
        &settings.registration,
        Some(&existing.token_endpoint_auth_method),
    )?;
    if (m.token_endpoint_auth_method == "none") != (existing.token_endpoint_auth_method == "none") {
        return Err(meta(
            "token_endpoint_auth_method cannot change between none (public) and a secret-based method; register a new client",
        ));
    }
    let record = m.apply(ClientRecord {
        updated_at: now,
        ..existing.clone()
    });
    check_size(&record)?;
    Ok(record)
}

/// An administrator's change of a dynamic client (admin API): a new `client_name` (an empty or
/// blank one removes it) and/or new `redirect_uris`, checked by the rules of a registration
/// (display-text cleaning, scheme allow-list, count and size limits, the client's
/// `application_type`). Everything else is kept.
///
/// # Errors
/// `invalid_redirect_uri` or `invalid_client_metadata` saying what is wrong.
pub fn admin_update(
    existing: &ClientRecord,
    client_name: Option<&str>,
    new_redirect_uris: Option<&[String]>,
    settings: &Settings,
    now: i64,
) -> Result<ClientRecord, Error> {
    let mut record = ClientRecord {
        updated_at: now,
        ..existing.clone()
    };
    if let Some(name) = client_name {
        record.client_name = text("client_name", Some(name), MAX_TEXT)?;
    }
    if let Some(uris) = new_redirect_uris {
        let uris = redirect_uris(
            Some(uris),
            settings.registration.max_redirect_uris,
            &settings.registration,
        )?;
        application_type(Some(&existing.application_type), &uris)?;
        record.redirect_uris = uris.into_iter().map(RedirectUri::into_string).collect();
    }
    check_size(&record)?;
    Ok(record)
}

/// The RFC 7591 §3.2.1 response body: identifiers, the secrets when given, and every kept
/// metadata value. Never a `null`, never an empty string or list.
#[must_use]
pub fn registration_response(
    record: &ClientRecord,
    client_secret: Option<&str>,
    registration_access_token: Option<&str>,
    issuer: &str,
) -> Value {
    let mut out = Map::new();
    let mut put = |key: &str, value: Option<&str>| {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            out.insert(key.to_owned(), Value::from(v));
        }
    };
    put("client_id", Some(&record.client_id));
    put("client_secret", client_secret);
    put("registration_access_token", registration_access_token);
    put(
        "token_endpoint_auth_method",
        Some(&record.token_endpoint_auth_method),
    );
    put("application_type", Some(&record.application_type));
    put("client_name", record.client_name.as_deref());
    put("client_uri", record.client_uri.as_deref());
    put("logo_uri", record.logo_uri.as_deref());
    put("scope", record.scope.as_deref());
    put("software_id", record.software_id.as_deref());
    put("software_version", record.software_version.as_deref());
    out.insert(
        "client_id_issued_at".to_owned(),
        Value::from(record.created_at),
    );
    if client_secret.is_some_and(|s| !s.is_empty()) {
        // 0: the secret does not expire (RFC 7591 §3.2.1).
        out.insert("client_secret_expires_at".to_owned(), Value::from(0));
    }
    if registration_access_token.is_some_and(|t| !t.is_empty()) {
        let uri = format!(
            "{}/register/{}",
            issuer.trim_end_matches('/'),
            record.client_id
        );
        out.insert("registration_client_uri".to_owned(), Value::from(uri));
    }
    for (key, list) in [
        ("redirect_uris", &record.redirect_uris),
        ("grant_types", &record.grant_types),
        ("response_types", &record.response_types),
        ("contacts", &record.contacts),
    ] {
        let items: Vec<Value> = list
            .iter()
            .filter(|s| !s.is_empty())
            .map(|s| Value::from(s.as_str()))
            .collect();
        if !items.is_empty() {
            out.insert(key.to_owned(), Value::Array(items));
        }
    }
    Value::Object(out)
}

/// The kept metadata as JSON: what [`MAX_METADATA_BYTES`] bounds and the audit hash covers.
fn metadata_json(record: &ClientRecord) -> String {
    registration_response(record, None, None, "").to_string()
}

/// Refuses a record whose kept metadata is larger than [`MAX_METADATA_BYTES`].
fn check_size(record: &ClientRecord) -> Result<(), Error> {
    let size = metadata_json(record).len();
    if size > MAX_METADATA_BYTES {
        return Err(meta(format!(
            "the client metadata takes {size} bytes; at most {MAX_METADATA_BYTES} are accepted"
        )));
    }
    Ok(())
}

/// What the audit trail keeps of a registration or update: counts, the redirect URIs' hosts
/// (or schemes, for private-use URIs) and a SHA-256 of the full kept metadata, never every URI,
/// so an audit row stays small however large the registration (issue 11, finding 3). The hash
/// matches the metadata of the client row as it was written.
#[must_use]
pub fn audit_summary(record: &ClientRecord) -> Value {
    let mut hosts: Vec<String> = Vec::new();
    for uri in &record.redirect_uris {
        let host = match url::Url::parse(uri) {
            Ok(u) => match u.host_str() {
                Some(h) if !h.is_empty() => h.to_owned(),
                _ => format!("{}:", u.scheme()),
            },
            Err(_) => "?".to_owned(),
        };
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    serde_json::json!({
        "client_name": record.client_name,
        "token_endpoint_auth_method": record.token_endpoint_auth_method,
        "application_type": record.application_type,
        "redirect_uri_count": record.redirect_uris.len(),
        "redirect_hosts": hosts,
        "contacts_count": record.contacts.len(),
        "metadata_bytes": metadata_json(record).len(),
        "metadata_sha256": crypto::hash(&metadata_json(record)),
        // The client→upstream mapping decided at registration (null: unmapped).
        "upstream_id": record.mapped_upstream(),
    })
}

fn validate(
    req: &RegistrationRequest,
    max_redirect_uris: usize,
    policy: &RegistrationSettings,
    current_method: Option<&str>,
) -> Result<Metadata, Error> {
    if req.jwks.is_some() || req.jwks_uri.as_deref().is_some_and(|u| !u.is_empty()) {
        return Err(meta(
            "jwks and jwks_uri are not supported: use token_endpoint_auth_method none, client_secret_basic or client_secret_post",
        ));
    }
    let uris = redirect_uris(req.redirect_uris.as_deref(), max_redirect_uris, policy)?;
    let application_type = application_type(req.application_type.as_deref(), &uris)?;
    let token_endpoint_auth_method =
        match req.token_endpoint_auth_method.as_deref().or(current_method) {
            None => "client_secret_basic".to_owned(),
            Some(m) if AUTH_METHODS.contains(&m) => m.to_owned(),
            Some(m) => {
                return Err(meta(format!(
                    "token_endpoint_auth_method {} is not supported; use none, client_secret_basic or client_secret_post",
                    describe_value(m)
                )))
            }
        };
    for g in req.grant_types.iter().flatten() {
        if !GRANT_TYPES.contains(&g.as_str()) {
            return Err(meta(format!(
                "grant type {} is not supported; only authorization_code and refresh_token",
                describe_value(g)
            )));
        }
    }
    for r in req.response_types.iter().flatten() {
        if r != "code" {
            return Err(meta(format!(
                "response type {} is not supported; only code",
                describe_value(r)
            )));
        }
    }
    let scope = match req.scope.as_deref() {
        Some(s) => ScopeSet::parse(s)
            .map_err(|e| meta(format!("scope: {}", e.description().unwrap_or_default())))?,
        None => ScopeSet::default(),
    };
    for (field, value) in [("tos_uri", &req.tos_uri), ("policy_uri", &req.policy_uri)] {
        display_uri(field, value.as_deref())?;
    }
    let contacts = req.contacts.as_deref().unwrap_or_default();
    if contacts.len() > MAX_CONTACTS {
        return Err(meta(format!("at most {MAX_CONTACTS} contacts")));
    }
    let contacts = contacts
        .iter()
        .map(|c| text("contacts", Some(c), MAX_CONTACT_LEN))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect();
    Ok(Metadata {
        redirect_uris: uris.into_iter().map(RedirectUri::into_string).collect(),
        application_type,
        token_endpoint_auth_method,
        client_name: text("client_name", req.client_name.as_deref(), MAX_TEXT)?,
        client_uri: display_uri("client_uri", req.client_uri.as_deref())?,
        logo_uri: display_uri("logo_uri", req.logo_uri.as_deref())?,
        scope: (!scope.is_empty()).then(|| scope.to_string()),
        contacts,
        software_id: text("software_id", req.software_id.as_deref(), MAX_TEXT)?,
        software_version: text(
            "software_version",
            req.software_version.as_deref(),
            MAX_TEXT,
        )?,
    })
}

fn redirect_uris(
    uris: Option<&[String]>,
    max: usize,
    policy: &RegistrationSettings,
) -> Result<Vec<RedirectUri>, Error> {
    let uris = uris.unwrap_or_default();
    if uris.is_empty() {
        return Err(Error::InvalidRedirectUri(
            "redirect_uris is required".to_owned(),
        ));
    }
    if uris.len() > max {
        return Err(Error::InvalidRedirectUri(format!(
            "at most {max} redirect_uris"
        )));
    }
    let mut out: Vec<RedirectUri> = Vec::with_capacity(uris.len());
    for (i, raw) in uris.iter().enumerate() {
        let uri = RedirectUri::for_registration_with(raw, &policy.redirect_uri_schemes)
            .and_then(|u| super::registration_policy::check_redirect(policy, &u).map(|()| u))
            .map_err(|e| {
                Error::InvalidRedirectUri(format!(
                    "redirect_uris[{i}]: {}",
                    e.description().unwrap_or_default()
                ))
            })?;
        if !out.contains(&uri) {
            out.push(uri);
        }
    }
    let total: usize = out.iter().map(|u| u.as_str().len()).sum();
    if total > MAX_REDIRECT_URI_BYTES {
        return Err(Error::InvalidRedirectUri(format!(
            "redirect_uris take {total} bytes together; at most {MAX_REDIRECT_URI_BYTES} are accepted"
        )));
    }
    Ok(out)
}

fn application_type(requested: Option<&str>, uris: &[RedirectUri]) -> Result<String, Error> {
    let native_only = uris.iter().all(|u| u.kind() != RedirectKind::Https);
    match requested {
        None | Some("") => Ok(if native_only { "native" } else { "web" }.to_owned()),
        Some("native") => Ok("native".to_owned()),
        Some("web") => {
            // OIDC DCR §2: web clients use https; private-use schemes are for native apps
            // (RFC 8252 §7.1). Loopback http is let through: clients mislabel themselves.
            if uris.iter().any(|u| u.kind() == RedirectKind::PrivateUse) {
                return Err(Error::InvalidRedirectUri(
                    "a web client cannot use a private-use URI scheme; register with application_type native"
                        .to_owned(),
                ));
            }
            Ok("web".to_owned())
        }
        Some(other) => Err(meta(format!(
            "application_type {} is not supported; use native or web",
            describe_value(other)
        ))),
    }
}

/// Cleans displayed text (the consent page shows `client_name` to identify the client, as the
/// MCP security best practices ask, so it must not be able to lie): drops control characters,
/// line/paragraph separators and every Default_Ignorable_Code_Point (bidi controls that reorder
/// the visible name, zero-width and filler characters that render as nothing), collapses each
/// run of whitespace to one ASCII space, trims, and refuses overlong values. A value that ends
/// up empty is absent (the consent page then says "An unnamed application").
fn text(field: &str, value: Option<&str>, max: usize) -> Result<Option<String>, Error> {
    let Some(value) = value else { return Ok(None) };
    let mut cleaned = String::with_capacity(value.len());
    let mut space = false;
    for c in value.chars().filter(|&c| !is_invisible(c)) {
        if c.is_whitespace() {
            space = !cleaned.is_empty();
        } else {
            if space {
                cleaned.push(' ');
                space = false;
            }
            cleaned.push(c);
        }
    }
    if cleaned.chars().count() > max {
        return Err(meta(format!("{field} is longer than {max} characters")));
    }
    Ok((!cleaned.is_empty()).then_some(cleaned))
}

/// Characters [`text`] drops: controls (Cc), U+2028/U+2029 (Zl, Zp) and Default_Ignorable_Code_Point
/// (Unicode DerivedCoreProperties.txt), which includes every Bidi_Control, U+200B..U+200F,
/// U+2060..U+206F, the Hangul fillers, variation selectors and tag characters.
fn is_invisible(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}'
                | '\u{2029}'
                | '\u{00AD}'
                | '\u{034F}'
                | '\u{061C}'
                | '\u{115F}'..='\u{1160}'
                | '\u{17B4}'..='\u{17B5}'
                | '\u{180B}'..='\u{180F}'
                | '\u{200B}'..='\u{200F}'
                | '\u{202A}'..='\u{202E}'
                | '\u{2060}'..='\u{206F}'
                | '\u{3164}'
                | '\u{FE00}'..='\u{FE0F}'
                | '\u{FEFF}'
                | '\u{FFA0}'
                | '\u{FFF0}'..='\u{FFF8}'
                | '\u{1BCA0}'..='\u{1BCA3}'
                | '\u{1D173}'..='\u{1D17A}'
                | '\u{E0000}'..='\u{E0FFF}'
        )
}

/// A URI shown to the user, never fetched: https, or http on loopback, without userinfo.
fn display_uri(field: &str, value: Option<&str>) -> Result<Option<String>, Error> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    let bad = || {
        meta(format!(
            "{field} must be an https URL of at most {MAX_URI} characters"
        ))
    };
    if value.len() > MAX_URI || !value.chars().all(is_uri_char) {
        return Err(bad());
    }
    let url = url::Url::parse(value).map_err(|_| bad())?;
    let scheme_ok = match url.scheme() {
        "https" => url.host_str().is_some_and(|h| !h.is_empty()),
        "http" => is_loopback_url(&url),
        _ => false,
    };
    if !scheme_ok || !url.username().is_empty() || url.password().is_some() {
        return Err(bad());
    }
    Ok(Some(value.to_owned()))
}

#[cfg(test)]
#[path = "registration_tests.rs"]
mod tests;
