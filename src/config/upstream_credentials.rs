//! How dcr-bridge proves itself to an upstream (`client_auth`, a client secret or a private key
//! with its certificate thumbprint) and the Entra-only Microsoft Graph keys: checked in
//! `Config::validate`, with errors that name the key.

use secrecy::ExposeSecret as _;

use super::{invalid, Config, ConfigError, UpstreamClientAuth, UpstreamConfig, UpstreamKind};

/// A certificate thumbprint as hex digits (colons and spaces dropped): 40 for SHA-1, 64 for
/// SHA-256. `None` for anything else.
#[must_use]
pub fn thumbprint_bytes(raw: &str) -> Option<Vec<u8>> {
    let digits: String = raw.chars().filter(|c| *c != ':' && *c != ' ').collect();
    if digits.len() != 40 && digits.len() != 64 {
        return None;
    }
    hex::decode(digits).ok()
}

impl Config {
    /// The upstream's client credentials, and the keys that only some of them or some kinds
    /// have.
    pub(super) fn validate_upstream_credentials(
        &self,
        i: usize,
        up: &UpstreamConfig,
    ) -> Result<(), ConfigError> {
        let key = |f: &str| format!("upstreams[{i}].{f}");
        let has_secret = up
            .client_secret
            .as_ref()
            .is_some_and(|s| !s.expose_secret().is_empty());
        if up.client_auth == UpstreamClientAuth::PrivateKeyJwt {
            if up.kind == UpstreamKind::Github {
                return Err(invalid(
                    key("client_auth"),
                    "GitHub authenticates applications with a client secret only",
                ));
            }
            if has_secret {
                return Err(invalid(
                    key("client_secret"),
                    "client_auth = \"private_key_jwt\" signs with private_key_file: leave the secret out",
                ));
            }
            let pem = up.private_key_pem.as_ref().ok_or_else(|| {
                invalid(
                    key("private_key_file"),
                    "is required with client_auth = \"private_key_jwt\"",
                )
            })?;
            let Ok(signer) =
                jsonwebtoken::EncodingKey::from_rsa_pem(pem.expose_secret().as_bytes())
            else {
                return Err(invalid(
                    key("private_key_file"),
                    "is not a PEM RSA private key (PKCS#8 \"BEGIN PRIVATE KEY\" or PKCS#1 \"BEGIN RSA PRIVATE KEY\")",
                ));
            };
            // Parsing is lenient; signing is where a short key fails.
            let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
            if jsonwebtoken::encode(&header, &serde_json::json!({}), &signer).is_err() {
                return Err(invalid(
                    key("private_key_file"),
                    "cannot sign RS256 with this key (RSA keys need at least 2048 bits)",
                ));
            }
            match &up.certificate_thumbprint {
                Some(t) if thumbprint_bytes(t).is_none() => {
                    return Err(invalid(
                        key("certificate_thumbprint"),
                        "40 hex digits (SHA-1, as the Entra portal shows it) or 64 (SHA-256)",
                    ));
                }
                None if up.kind == UpstreamKind::Entra => {
                    // Entra finds the certificate by the assertion's x5t (AADSTS700027 without).
                    return Err(invalid(
                        key("certificate_thumbprint"),
                        "is required for kind = \"entra\": the thumbprint of the certificate uploaded to the app registration",
                    ));
                }
                _ => {}
            }
        } else {
            if !has_secret {
                return Err(invalid(
                    key("client_secret"),
                    "the upstream client is confidential: set client_secret or client_secret_file (or client_auth = \"private_key_jwt\")",
                ));
            }
            for (name, set) in [
                ("private_key_file", up.private_key_file.is_some()),
                (
                    "certificate_thumbprint",
                    up.certificate_thumbprint.is_some(),
                ),
            ] {
                if set {
                    return Err(invalid(
                        key(name),
                        "only used with client_auth = \"private_key_jwt\"",
                    ));
                }
            }
        }
        if up.kind != UpstreamKind::Entra {
            for (name, set) in [
                ("graph_groups", up.graph_groups),
                ("graph_base", up.graph_base.is_some()),
            ] {
                if set {
                    return Err(invalid(
                        key(name),
                        "only an upstream with kind = \"entra\" has it",
                    ));
                }
            }
        }
        if let Some(graph) = &up.graph_base {
            self.check_scheme(&key("graph_base"), graph)?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "upstream_credentials_tests.rs"]
mod tests;
