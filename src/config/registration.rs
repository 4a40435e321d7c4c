//! The registration policy keys of `[registration]`: who may register (`mode`), which redirect
//! URIs any client may use (schemes, hosts, loopback), and the cap on dynamic clients. Checked
//! at load with errors naming the key; the rules that apply them are in
//! `oauth::registration_policy`.

use serde::{Deserialize, Serialize};

use super::{invalid, ConfigError, RegistrationSettings};

/// Who may `POST /register` (RFC 7591 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RegistrationMode {
    /// Anyone (what MCP clients expect: they register on first contact).
    Open,
    /// Only a request carrying an initial access token (RFC 7591 §3) as a Bearer token.
    InitialAccessToken,
    /// Nobody: `POST /register` answers 403 and metadata has no `registration_endpoint`.
    Closed,
}

impl RegistrationMode {
    /// The configuration spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::InitialAccessToken => "initial_access_token",
            Self::Closed => "closed",
        }
    }
}

/// An entry of `allowed_redirect_hosts`: a host, or `*.suffix` for every subdomain of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// Exactly this host (lowercase).
    Exact(String),
    /// Any host ending in `.` + this (lowercase); not the suffix itself.
    Subdomains(String),
}

impl HostPattern {
    /// Parses one entry.
    ///
    /// # Errors
    /// What is wrong with it.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let (wild, host) = match raw.strip_prefix("*.") {
            Some(rest) => (true, rest),
            None => (false, raw),
        };
        let labels: Vec<&str> = host.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if host.is_empty() || host.len() > 253 || !labels.iter().all(label_ok) {
            return Err(
                "a lowercase host name (example.com) or *.example.com; no scheme, port, path or \
                 other wildcard"
                    .to_owned(),
            );
        }
        if host.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err("write host names in lowercase".to_owned());
        }
        if wild && labels.len() < 2 {
            return Err(
                "a wildcard needs a suffix of at least two labels (*.example.com, not *.com)"
                    .to_owned(),
            );
        }
        if host == "localhost" || host.starts_with("127.") {
            return Err(
                "loopback hosts are governed by registration.allow_loopback_redirects".to_owned(),
            );
        }
        Ok(if wild {
            Self::Subdomains(host.to_owned())
        } else {
            Self::Exact(host.to_owned())
        })
    }

    /// Whether `host` (as a URL parser prints it, lowercase) matches.
    #[must_use]
    pub fn matches(&self, host: &str) -> bool {
        match self {
            Self::Exact(h) => host.eq_ignore_ascii_case(h),
            Self::Subdomains(suffix) => {
                host.len() > suffix.len() + 1 && {
                    let (head, tail) = host.split_at(host.len() - suffix.len());
                    head.ends_with('.') && tail.eq_ignore_ascii_case(suffix)
                }
            }
        }
    }
}

impl RegistrationSettings {
    /// The effective mode: `mode` when set, else `closed` when `enabled = false`, else `open`.
    #[must_use]
    pub fn mode(&self) -> RegistrationMode {
        match (self.mode, self.enabled) {
            (Some(mode), _) => mode,
            (None, true) => RegistrationMode::Open,
            (None, false) => RegistrationMode::Closed,
        }
    }

    /// The parsed `allowed_redirect_hosts` (entries that do not parse are left out; the
    /// configuration was checked at load, so there are none).
    #[must_use]
    pub fn host_patterns(&self) -> Vec<HostPattern> {
        self.allowed_redirect_hosts
            .iter()
            .filter_map(|h| HostPattern::parse(h).ok())
            .collect()
    }

    /// Checks the policy keys.
    pub(super) fn validate_policy(&self) -> Result<(), ConfigError> {
        if let (Some(mode), false) = (self.mode, self.enabled) {
            if mode != RegistrationMode::Closed {
                return Err(invalid(
                    "registration.enabled",
                    format!(
                        "enabled = false contradicts mode = \"{}\"; remove enabled (mode alone \
                         decides)",
                        mode.as_str()
                    ),
                ));
            }
        }
        for (i, scheme) in self.allowed_redirect_schemes.iter().enumerate() {
            if !crate::oauth::redirect_uri::is_scheme(scheme)
                || scheme.len() > 64
                || scheme.bytes().any(|b| b.is_ascii_uppercase())
                || crate::oauth::redirect_uri::FORBIDDEN_SCHEMES.contains(&scheme.as_str())
            {
                return Err(invalid(
                    format!("registration.allowed_redirect_schemes[{i}]"),
                    "a lowercase URI scheme without ':' that can be a redirect target (https, \
                     http for loopback, or a private-use scheme)",
                ));
            }
        }
        for (i, host) in self.allowed_redirect_hosts.iter().enumerate() {
            HostPattern::parse(host)
                .map_err(|m| invalid(format!("registration.allowed_redirect_hosts[{i}]"), m))?;
        }
        if self.max_dynamic_clients.is_some_and(|n| n < 1) {
            return Err(invalid(
                "registration.max_dynamic_clients",
                "must be at least 1 (to stop registrations, set mode = \"closed\")",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "registration_tests.rs"]
mod tests;
