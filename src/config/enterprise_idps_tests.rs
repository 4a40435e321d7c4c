#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;

use crate::config::{Config, ConfigError};

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const JWKS: &str = r#"{"keys":[{"kty":"RSA","kid":"a1","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB"}]}"#;

fn with_idp(entry: &str) -> Result<Config, ConfigError> {
    let text = format!(
        r#"
public_url = "https://auth.example.com"
secret_key = "{KEY}"

[[upstreams]]
id = "corp"
issuer = "https://corp.okta.com/oauth2/default"
client_id = "abc"
client_secret = "s3cret"

[[resources]]
id = "tools"
path = "/mcp"

[[enterprise_idps]]
{entry}
"#
    );
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    Config::load_from(Some(f.path()), std::iter::empty())
}

#[test]
fn an_enterprise_idp_loads_into_the_settings() {
    let config = with_idp(&format!(
        "id = \"acme\"\nissuer = \"https://acme.okta.com\"\njwks = '{JWKS}'\n\
         allowed_client_ids = [\"chat-app\"]"
    ))
    .unwrap();
    let settings = crate::oauth::Settings::from_config(&config);
    assert_eq!(settings.enterprise_idps.len(), 1);
    assert_eq!(settings.enterprise_idps[0].issuer, "https://acme.okta.com");
}

#[test]
fn bad_enterprise_idps_name_the_key() {
    let cases = [
        (
            format!("id = \"corp\"\nissuer = \"https://a.example\"\njwks = '{JWKS}'\nallowed_client_ids = [\"c\"]"),
            "enterprise_idps[0].id",
        ),
        (
            format!("id = \"acme\"\nissuer = \"ftp://a.example\"\njwks = '{JWKS}'\nallowed_client_ids = [\"c\"]"),
            "enterprise_idps[0].issuer",
        ),
        (
            "id = \"acme\"\nissuer = \"https://a.example\"\njwks = '{}'\nallowed_client_ids = [\"c\"]".to_owned(),
            "enterprise_idps[0].jwks",
        ),
        (
            format!("id = \"acme\"\nissuer = \"https://a.example\"\njwks = '{JWKS}'\nallowed_client_ids = []"),
            "enterprise_idps[0].allowed_client_ids",
        ),
        (
            format!("id = \"acme\"\nissuer = \"https://a.example\"\njwks = '{JWKS}'"),
            "allowed_client_ids",
        ),
    ];
    for (entry, key) in cases {
        let err = with_idp(&entry).unwrap_err().to_string();
        assert!(err.contains(key), "{entry}\n=> {err}");
    }
}
