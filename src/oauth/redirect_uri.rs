//! Redirect URIs: which ones a client may register (RFC 7591 §2, RFC 8252 §7, RFC 9700 §2.1)
//! and how a redirect URI sent to /authorize or /token is matched against the registered ones.
//!
//! Validation works on the raw string, not on a parsed-and-normalised URL: matching is an exact
//! string comparison (RFC 9700 §2.1), so what is validated must be what is compared. A URL parser
//! would, for example, turn `http://127.1/` into `http://127.0.0.1/` and hide what was sent.

use super::error::Error;

/// Longest redirect URI we register or match.
pub const MAX_LEN: usize = 2000;

/// Hosts treated as loopback for `http` redirect URIs (RFC 8252 §7.3). `localhost` is NOT
/// RECOMMENDED by RFC 8252 §8.3, but VS Code and the Inspector web client register it.
const LOOPBACK_HOSTS: [&str; 3] = ["127.0.0.1", "[::1]", "localhost"];

/// Private-use schemes of known MCP clients that are not in reverse-DNS form, accepted without
/// configuration: `cursor` (COMPAT C11/C20: `cursor://anysphere.cursor-mcp/oauth/callback`),
/// `vscode` and `vscode-insiders` (COMPAT C11; VS Code's URL handler scheme is the product's
/// `vscode.env.uriScheme`, `vscode-insiders` for the Insiders build). Other editors' schemes are
/// left to `registration.redirect_uri_schemes`: we found no public record of what they register.
pub const KNOWN_CLIENT_SCHEMES: [&str; 3] = ["cursor", "vscode", "vscode-insiders"];

/// Schemes that can never be a redirect target: script execution (`javascript`, `vbscript`,
/// `data`, `blob`), local or browser-internal documents, and non-HTTP transports. The allow-list
/// already refuses them; this list also keeps an administrator from adding one to
/// `registration.redirect_uri_schemes`, and gives them a plain message.
pub const FORBIDDEN_SCHEMES: [&str; 12] = [
    "javascript",
    "data",
    "vbscript",
    "file",
    "blob",
    "about",
    "ftp",
    "ws",
    "wss",
    "view-source",
    "filesystem",
    "mailto",
];

/// What sort of redirect URI a [`RedirectUri`] is; decides the default `application_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedirectKind {
    /// `https`, any host (web clients, and native apps with claimed URLs: RFC 8252 §7.2).
    Https,
    /// `http` on a loopback host (native apps: RFC 8252 §7.3).
    Loopback,
    /// A private-use URI scheme such as `cursor://` (native apps: RFC 8252 §7.1).
    PrivateUse,
}

/// A redirect URI that is acceptable for registration. Holds the string exactly as the client
/// sent it, since later requests must repeat it byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedirectUri {
    raw: String,
    kind: RedirectKind,
}

impl RedirectUri {
    /// Validates a redirect URI a client wants to register, with the built-in scheme allow-list
    /// only (see [`Self::for_registration_with`]).
    ///
    /// # Errors
    /// `invalid_redirect_uri` (RFC 7591 §3.2.2) saying what is wrong.
    pub fn for_registration(raw: &str) -> Result<Self, Error> {
        Self::for_registration_with(raw, &[])
    }

    /// Validates a redirect URI a client wants to register. The scheme must be on the
    /// allow-list: `https`; `http` on a loopback host; a reverse-DNS private-use scheme
    /// (RFC 8252 §7.1, "a reverse domain name ... e.g. com.example.app", so it contains a
    /// period); one of [`KNOWN_CLIENT_SCHEMES`]; or one of `extra_schemes`, lowercase, from
    /// `registration.redirect_uri_schemes`. Everything else is refused, naming the rule.
    ///
    /// # Errors
    /// `invalid_redirect_uri` (RFC 7591 §3.2.2) saying what is wrong.
    pub fn for_registration_with(raw: &str, extra_schemes: &[String]) -> Result<Self, Error> {
        let bad = |m: String| Err(Error::InvalidRedirectUri(m));
        if raw.is_empty() {
            return bad("redirect URI is empty".to_owned());
        }
        if raw.len() > MAX_LEN {
            return bad(format!("redirect URI is longer than {MAX_LEN} characters"));
        }
        if let Some(c) = raw.chars().find(|c| !is_uri_char(*c)) {
            return bad(format!(
                "redirect URI contains U+{:04X}, which is not allowed in a URI (RFC 3986 section 2); percent-encode it",
                u32::from(c)
            ));
        }
        if !percent_encoding_ok(raw) {
            return bad(
                "redirect URI has a malformed percent-encoding (RFC 3986 section 2.1)".to_owned(),
            );
        }
        let Some((scheme, rest)) = raw.split_once(':') else {
            return bad(
                "redirect URI must be an absolute URI with a scheme (RFC 3986 section 4.3)"
                    .to_owned(),
            );
        };
        if !is_scheme(scheme) {
            return bad(format!(
                "redirect URI has an invalid scheme {} (RFC 3986 section 3.1)",
                describe_value(scheme)
            ));
        }
        let scheme = scheme.to_ascii_lowercase();
        if FORBIDDEN_SCHEMES.contains(&scheme.as_str()) {
            return bad(format!(
                "the {scheme} scheme is not allowed for redirect URIs"
            ));
        }
        // RFC 6749 §3.1.2: the redirection endpoint URI MUST NOT include a fragment.
        if raw.contains('#') {
            return bad(
                "redirect URI must not contain a fragment (RFC 6749 section 3.1.2)".to_owned(),
            );
        }
        if rest.is_empty() {
            return bad("redirect URI has nothing after the scheme".to_owned());
        }
        let authority = rest
            .strip_prefix("//")
            .map(|a| a.split(['/', '?']).next().unwrap_or_default());
        // Userinfo lets `http://localhost@evil.com` look like a loopback URI to a human reader.
        if authority.is_some_and(|a| a.contains('@')) {
            return bad("redirect URI must not contain userinfo (user@host)".to_owned());
        }
        let Ok(url) = url::Url::parse(raw) else {
            return bad("redirect URI is not a valid absolute URI".to_owned());
        };
        if !url.username().is_empty() || url.password().is_some() {
            return bad("redirect URI must not contain userinfo (user@host)".to_owned());
        }
        let kind = match scheme.as_str() {
            "https" => {
                // The parser would read `https:///cb` or `https:cb` as host `cb`: insist on
                // the authority actually being there.
                if authority.is_none_or(str::is_empty) || url.host_str().is_none_or(str::is_empty) {
                    return bad("https redirect URI has no host".to_owned());
                }
                RedirectKind::Https
            }
            // RFC 9700 §2.6 / RFC 8252 §8.3: plain http only to the loopback interface.
            "http" => {
                if split_loopback(raw).is_none() || !crate::config::is_loopback_url(&url) {
                    return bad(
                        "http redirect URIs are allowed only for loopback hosts 127.0.0.1, [::1] \
                         and localhost (RFC 8252 section 7.3); use https"
                            .to_owned(),
                    );
                }
                RedirectKind::Loopback
            }
            other
                if is_reverse_dns_scheme(other)
                    || KNOWN_CLIENT_SCHEMES.contains(&other)
                    || extra_schemes.iter().any(|s| s == other) =>
            {
                RedirectKind::PrivateUse
            }
            other => {
                return bad(format!(
                    "the {other} scheme is not allowed for redirect URIs: use https, http on a \
                     loopback host, a reverse-DNS private-use scheme such as com.example.app \
                     (RFC 8252 section 7.1), a known client scheme ({}), or a scheme the \
                     administrator allowed",
                    KNOWN_CLIENT_SCHEMES.join(", ")
                ));
            }
        };
        Ok(Self {
            raw: raw.to_owned(),
            kind,
        })
    }

    /// The URI exactly as registered.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The URI exactly as registered.
    #[must_use]
    pub fn into_string(self) -> String {
        self.raw
    }

    /// Https, loopback or private-use.
    #[must_use]
    pub fn kind(&self) -> RedirectKind {
        self.kind
    }
}

impl std::fmt::Display for RedirectUri {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.raw)
    }
}

/// The registered redirect URI that `requested` matches, if any.
///
/// RFC 9700 §2.1 and OAuth 2.1 §2.3.1: exact string comparison, except that for `http`
/// loopback redirect URIs the port is ignored, because native apps listen on an ephemeral port
/// (RFC 8252 §7.3: the AS MUST allow any port). Scheme, host, path and query must still be
/// equal; `localhost` and `127.0.0.1` are different hosts (a name can be re-pointed, an IP can't).
#[must_use]
pub fn find_match<'a>(registered: &'a [String], requested: &str) -> Option<&'a String> {
    if let Some(exact) = registered.iter().find(|r| r.as_str() == requested) {
        return Some(exact);
    }
    let req = split_loopback(requested)?;
    registered.iter().find(|r| {
        split_loopback(r)
            .is_some_and(|reg| reg.host.eq_ignore_ascii_case(req.host) && reg.rest == req.rest)
    })
}

/// The URI to redirect to for `requested`: the matched registered URI, with the requested port
/// when the match was a loopback one. `None` when nothing matches.
#[must_use]
pub fn resolve(registered: &[String], requested: &str) -> Option<String> {
    let matched = find_match(registered, requested)?;
    if matched == requested {
        return Some(matched.clone());
    }
    let (reg, req) = (split_loopback(matched)?, split_loopback(requested)?);
    Some(match req.port {
        Some(port) => format!("{}://{}:{port}{}", reg.scheme, reg.host, reg.rest),
        None => format!("{}://{}{}", reg.scheme, reg.host, reg.rest),
    })
}

/// True for `http` URIs on one of the loopback hosts (raw string, no normalisation).
#[must_use]
pub fn is_http_loopback(uri: &str) -> bool {
    split_loopback(uri).is_some()
}

/// A value from a request, made safe to quote in an `error_description`: RFC 6749 §5.2 allows
/// only %x20-21 / %x23-5B / %x5D-7E there, and long values are cut.
#[must_use]
pub fn describe_value(value: &str) -> String {
    const MAX: usize = 80;
    let mut out: String = value
        .chars()
        .take(MAX)
        .map(|c| match c {
            '"' | '\\' => '?',
            ' '..='~' => c,
            _ => '?',
        })
        .collect();
    if value.chars().count() > MAX {
        out.push_str("...");
    }
    format!("'{out}'")
}

/// An `http` loopback URI split into the parts compared by [`find_match`].
struct Loopback<'a> {
    scheme: &'a str,
    host: &'a str,
    port: Option<u16>,
    /// Path, query and anything after, compared exactly.
    rest: &'a str,
}

fn split_loopback(uri: &str) -> Option<Loopback<'_>> {
    let (scheme, after) = uri.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") {
        return None;
    }
    let end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let (authority, rest) = after.split_at(end);
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => {
            (&authority[..i], Some(parse_port(&authority[i + 1..])?))
        }
        _ => (authority, None),
    };
    if !LOOPBACK_HOSTS.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return None;
    }
    Some(Loopback {
        scheme,
        host,
        port,
        rest,
    })
}

fn parse_port(s: &str) -> Option<u16> {
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse::<u16>().ok().filter(|p| *p != 0)
}

/// RFC 8252 §7.1: a private-use scheme based on a domain name the app controls, in reverse
/// order: at least two labels separated by periods, none empty (`com.example.app`, not `.app`
/// or `app.`). Applied to a scheme that already passed [`is_scheme`], lowercased.
fn is_reverse_dns_scheme(scheme: &str) -> bool {
    scheme.contains('.') && scheme.split('.').all(|l| !l.is_empty())
}

/// RFC 3986 §3.1: `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`.
pub(crate) fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// RFC 3986 §2: unreserved, reserved and `%`. Anything else (space, `\`, `<`, non-ASCII …)
/// is refused rather than guessed at.
pub(crate) fn is_uri_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c)
}

fn percent_encoding_ok(s: &str) -> bool {
    let b = s.as_bytes();
    b.iter().enumerate().all(|(i, &c)| {
        c != b'%'
            || (b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
    })
}

#[cfg(test)]
#[path = "redirect_uri_tests.rs"]
mod tests;
