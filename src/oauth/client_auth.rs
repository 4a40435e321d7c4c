//! Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3):
//! `none` (public client + PKCE), `client_secret_post` and `client_secret_basic`. A
//! `private_key_jwt` assertion (RFC 7523 §2.2) is read here and verified by
//! `oauth::client_assertion`, at the token endpoint only.

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;

use super::clients::ClientResolver;
use super::crypto;
use super::error::Error;
use crate::store::ClientRecord;

/// The credentials a request presented. Secrets are redacted in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub enum ClientCredentials {
    /// Only a `client_id` in the body: a public client (RFC 6749 §2.1).
    None { client_id: String },
    /// `client_id` and `client_secret` in the form body (RFC 6749 §2.3.1).
    Post {
        client_id: String,
        client_secret: String,
    },
    /// `Authorization: Basic` (RFC 6749 §2.3.1, RFC 7617).
    Basic {
        client_id: String,
        /// The secret form-decoded, as RFC 6749 §2.3.1 asks clients to encode it.
        client_secret: String,
        /// The secret exactly as sent, when form-decoding changed it: plain RFC 7617 Basic
        /// clients send `+`, `/`, `=` and `%` unencoded (see [`BasicCredentials`]).
        raw_secret: Option<String>,
    },
    /// `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` and a
    /// `client_assertion` (RFC 7523 §2.2, `private_key_jwt`). `client_id` is the body's, or
    /// else the assertion's unverified `sub` (RFC 7523 §3 lets the client leave it out); the
    /// assertion proves it or the request fails.
    Assertion {
        client_id: String,
        assertion: String,
    },
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("method", &self.method())
            .field("client_id", &self.client_id())
            .finish_non_exhaustive()
    }
}

impl ClientCredentials {
    /// Same as the free function [`from_parts`].
    ///
    /// # Errors
    /// See [`from_parts`].
    pub fn from_parts(
        basic_header: Option<&str>,
        body_client_id: Option<&str>,
        body_secret: Option<&str>,
    ) -> Result<Self, Error> {
        from_parts(basic_header, body_client_id, body_secret)
    }

    /// The client id presented.
    #[must_use]
    pub fn client_id(&self) -> &str {
        match self {
            Self::None { client_id }
            | Self::Post { client_id, .. }
            | Self::Basic { client_id, .. }
            | Self::Assertion { client_id, .. } => client_id,
        }
    }

    /// The RFC 7591 `token_endpoint_auth_method` these credentials correspond to.
    #[must_use]
    pub fn method(&self) -> &'static str {
        match self {
            Self::None { .. } => "none",
            Self::Post { .. } => "client_secret_post",
            Self::Basic { .. } => "client_secret_basic",
            Self::Assertion { .. } => "private_key_jwt",
        }
    }

    /// Whether HTTP Basic was used, which makes an `invalid_client` answer a 401 challenge.
    #[must_use]
    pub fn is_basic(&self) -> bool {
        matches!(self, Self::Basic { .. })
    }

    fn secret(&self) -> Option<&str> {
        match self {
            Self::None { .. } | Self::Assertion { .. } => None,
            Self::Post { client_secret, .. } | Self::Basic { client_secret, .. } => {
                Some(client_secret)
            }
        }
    }

    /// Every reading of the presented secret, the raw Basic value first.
    fn secret_candidates(&self) -> Vec<&str> {
        match self {
            Self::None { .. } | Self::Assertion { .. } => Vec::new(),
            Self::Post { client_secret, .. } => vec![client_secret.as_str()],
            Self::Basic {
                client_secret,
                raw_secret,
                ..
            } => raw_secret
                .as_deref()
                .into_iter()
                .chain([client_secret.as_str()])
                .collect(),
        }
    }
}

/// The two parts of an HTTP Basic `Authorization` header.
///
/// RFC 6749 §2.3.1 has clients form-encode id and secret before Basic, RFC 7617 has them send
/// both raw, and real clients (and resource servers with a secret from `openssl rand -base64`,
/// full of `+`, `/` and `=`) do either. The id is form-decoded (it cannot hold a raw `:`, and
/// ours never hold `+` or `%`); the secret is kept both ways and a match of either is accepted
/// (issue 11, finding 8). Both readings are checked in constant time, with no early exit.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicCredentials {
    /// The form-decoded id.
    pub id: String,
    /// The secret as sent (RFC 7617).
    pub raw_secret: String,
    /// The secret form-decoded (RFC 6749 §2.3.1); equal to `raw_secret` when nothing was encoded.
    pub decoded_secret: String,
}

impl std::fmt::Debug for BasicCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicCredentials")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl BasicCredentials {
    /// Parses `Basic base64(id ":" secret)`, given the whole header value or only the part
    /// after `Basic `.
    ///
    /// # Errors
    /// `invalid_client` with `basic: true` when malformed or another scheme.
    pub fn parse(header: &str) -> Result<Self, Error> {
        parse_basic(header)
    }

    /// Whether `matches` accepts the raw or the decoded secret; both are always tried, so the
    /// time taken does not tell which reading was closer.
    pub fn secret_matches(&self, matches: impl Fn(&str) -> bool) -> bool {
        let raw = matches(&self.raw_secret);
        let decoded = matches(&self.decoded_secret);
        raw | decoded
    }
}

/// Whether any of `candidates` hashes to `hash`, each compared in constant time.
fn any_hash_matches(candidates: &[&str], hash: &str) -> bool {
    candidates.iter().fold(false, |found, secret| {
        found | crypto::ct_eq(crypto::hash(secret).as_bytes(), hash.as_bytes())
    })
}

fn invalid_client(description: &str, basic: bool) -> Error {
    Error::InvalidClient {
        description: description.to_owned(),
        basic,
    }
}

/// Reads the credentials from the `Authorization` header value (`Basic …`, or only the
/// credentials after the scheme) and the form body.
///
/// Empty body values count as absent (some public clients send `client_secret=`).
///
/// # Errors
/// - `invalid_request` when Basic and a body `client_secret` are both present (RFC 6749 §2.3:
///   a client MUST NOT use more than one authentication method);
/// - `invalid_client` when the header is malformed or not Basic, the body `client_id` differs
///   from the Basic one, or no `client_id` is given at all. Basic failures carry `basic: true`.
pub fn from_parts(
    basic_header: Option<&str>,
    body_client_id: Option<&str>,
    body_secret: Option<&str>,
) -> Result<ClientCredentials, Error> {
    let body_client_id = body_client_id.filter(|s| !s.is_empty());
    let body_secret = body_secret.filter(|s| !s.is_empty());
    if let Some(header) = basic_header {
        let BasicCredentials {
            id: client_id,
            raw_secret,
            decoded_secret: client_secret,
        } = parse_basic(header)?;
        if body_secret.is_some() {
            return Err(Error::InvalidRequest(
                "use one client authentication method: HTTP Basic or client_secret in the body, not both"
                    .to_owned(),
            ));
        }
        // The Python SDK repeats client_id in the body next to Basic; same value is fine.
        if body_client_id.is_some_and(|id| id != client_id) {
            return Err(invalid_client(
                "client_id in the body differs from HTTP Basic",
                true,
            ));
        }
        return Ok(ClientCredentials::Basic {
            client_id,
            raw_secret: (raw_secret != client_secret).then_some(raw_secret),
            client_secret,
        });
    }
    let Some(client_id) = body_client_id else {
        return Err(invalid_client(
            "client authentication is required: client_id is missing",
            false,
        ));
    };
    let client_id = client_id.to_owned();
    Ok(match body_secret {
        Some(secret) => ClientCredentials::Post {
            client_id,
            client_secret: secret.to_owned(),
        },
        None => ClientCredentials::None { client_id },
    })
}

/// Like [`from_parts`], plus the RFC 7523 §2.2 parameters `client_assertion_type` and
/// `client_assertion`. The assertion is only read here (its `sub` names the client when the
/// body has no `client_id`); `oauth::client_assertion` verifies it.
///
/// # Errors
/// `invalid_request` when an assertion comes with another method, one of the two parameters is
/// missing or repeated as empty; `invalid_client` for another assertion type, an assertion that
/// is no JWT, or a body `client_id` other than its `sub`. Otherwise as [`from_parts`].
pub fn with_assertion(
    basic_header: Option<&str>,
    body_client_id: Option<&str>,
    body_secret: Option<&str>,
    assertion_type: Option<&str>,
    assertion: Option<&str>,
) -> Result<ClientCredentials, Error> {
    let assertion_type = assertion_type.filter(|s| !s.is_empty());
    let assertion = assertion.filter(|s| !s.is_empty());
    if assertion_type.is_none() && assertion.is_none() {
        return from_parts(basic_header, body_client_id, body_secret);
    }
    if basic_header.is_some() || body_secret.is_some_and(|s| !s.is_empty()) {
        return Err(Error::InvalidRequest(
            "use one client authentication method: a client_assertion or a secret, not both"
                .to_owned(),
        ));
    }
    let (Some(assertion_type), Some(assertion)) = (assertion_type, assertion) else {
        return Err(Error::InvalidRequest(
            "client_assertion_type and client_assertion go together".to_owned(),
        ));
    };
    if assertion_type != super::client_assertion::ASSERTION_TYPE {
        return Err(invalid_client(
            "unsupported client_assertion_type; use urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            false,
        ));
    }
    let sub = super::client_assertion::unverified_subject(assertion)?;
    let client_id = match body_client_id.filter(|s| !s.is_empty()) {
        Some(id) if id != sub => {
            return Err(invalid_client(
                "client_id differs from the client assertion's sub",
                false,
            ))
        }
        _ => sub,
    };
    Ok(ClientCredentials::Assertion {
        client_id,
        assertion: assertion.to_owned(),
    })
}

/// Parses `Basic base64(urlencode(id) ":" urlencode(secret))` (RFC 6749 §2.3.1) or
/// `Basic base64(id ":" secret)` (RFC 7617), given the whole header value or only the part after
/// `Basic `.
fn parse_basic(header: &str) -> Result<BasicCredentials, Error> {
    let malformed = || invalid_client("malformed HTTP Basic credentials", true);
    let header = header.trim();
    // Either the whole header value or just its credentials (a token68 has no space).
    let token = match header.split_once(' ') {
        // RFC 7235 §2.1: the scheme is case-insensitive.
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("basic") => token.trim(),
        Some(_) => {
            return Err(invalid_client(
                "unsupported Authorization scheme; use HTTP Basic or client_secret_post",
                true,
            ))
        }
        None if header.eq_ignore_ascii_case("basic") => "",
        None => header,
    };
    let raw = STANDARD
        .decode(token)
        .or_else(|_| STANDARD_NO_PAD.decode(token))
        .map_err(|_| malformed())?;
    let text = String::from_utf8(raw).map_err(|_| malformed())?;
    // The id cannot contain a raw ':' (it is form-encoded), the secret may.
    let (id, secret) = text.split_once(':').ok_or_else(malformed)?;
    let id = form_decode(id).ok_or_else(malformed)?;
    // A raw secret that does not form-decode (`%ff`) is still a valid RFC 7617 secret.
    let decoded_secret = form_decode(secret).unwrap_or_else(|| secret.to_owned());
    if id.is_empty() {
        return Err(malformed());
    }
    Ok(BasicCredentials {
        id,
        raw_secret: secret.to_owned(),
        decoded_secret,
    })
}

/// `application/x-www-form-urlencoded` decoding (RFC 6749 Appendix B): `+` is a space and
/// `%XX` a byte. A `%` not followed by two hex digits is kept literally, since some clients
/// skip the encoding and our own ids and secrets never contain `%`.
fn form_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |j: usize| bytes.get(j).and_then(|c| (*c as char).to_digit(16));
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                if let (Some(h), Some(l)) = (hex(i + 1), hex(i + 2)) {
                    out.push(u8::try_from(h * 16 + l).ok()?);
                    i += 3;
                    continue;
                }
                out.push(b'%');
            }
            _ => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Authenticates `creds` against the client loaded by their `client_id`.
///
/// The method must be the one the client registered: a public client that presents a secret
/// and a confidential one that presents none are both refused (RFC 6749 §2.3, RFC 7591 §2).
///
/// # Errors
/// `invalid_client`, with `basic: true` when Basic was used. An unknown or disabled client gets
/// "unknown client" so that MCP clients drop the id and re-register (COMPAT C12).
pub fn authenticate(client: Option<&ClientRecord>, creds: &ClientCredentials) -> Result<(), Error> {
    let basic = creds.is_basic();
    // Only `client_assertion::authenticate_client` checks a signature; anywhere else an
    // assertion must not pass as "no secret to compare".
    if matches!(creds, ClientCredentials::Assertion { .. }) {
        return Err(invalid_client(
            "private_key_jwt is accepted at the token endpoint only",
            basic,
        ));
    }
    let client = match client {
        Some(c) if !c.disabled && c.client_id == creds.client_id() => c,
        _ => return Err(invalid_client("unknown client", basic)),
    };
    let registered = client.token_endpoint_auth_method.as_str();
    if registered != creds.method() {
        let description = match (registered, creds.secret()) {
            ("none", Some(_)) => "this is a public client: do not send a client_secret".to_owned(),
            (_, None) => format!("client authentication required ({registered})"),
            _ => format!(
                "this client authenticates with {registered}, not {}",
                creds.method()
            ),
        };
        return Err(invalid_client(&description, basic));
    }
    let candidates = creds.secret_candidates();
    if candidates.is_empty() {
        return Ok(());
    }
    let matches = client
        .secret_hash
        .as_deref()
        .is_some_and(|h| any_hash_matches(&candidates, h));
    if matches {
        Ok(())
    } else {
        Err(invalid_client("client authentication failed", basic))
    }
}

/// Resolves the client the credentials name and authenticates them against it: the one client
/// check of the token, revocation and introspection endpoints.
///
/// # Errors
/// As [`authenticate`]; lookup failures are internal.
pub async fn authenticate_client(
    clients: &dyn ClientResolver,
    creds: &ClientCredentials,
) -> Result<ClientRecord, Error> {
    let client = clients.resolve(creds.client_id()).await?;
    authenticate(client.as_ref(), creds)?;
    client.ok_or_else(|| invalid_client("unknown client", creds.is_basic()))
}

#[cfg(test)]
#[path = "client_auth_tests.rs"]
mod tests;
