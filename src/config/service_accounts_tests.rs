#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;

use crate::config::{Config, ConfigError};

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const RSA_JWKS: &str = r#"{"keys":[{"kty":"RSA","kid":"k1","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB"}]}"#;

/// One resource `tools` (scopes mcp:read, mcp:write) and the given `[[clients]]` entry.
fn with_client(client: &str) -> String {
    format!(
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
scopes = ["mcp:read", "mcp:write"]

[[clients]]
client_id = "bot"
{client}
"#
    )
}

fn load(text: &str) -> Result<Config, ConfigError> {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    Config::load_from(Some(f.path()), std::iter::empty())
}

fn refused(client: &str, key: &str, words: &str) {
    let err = load(&with_client(client)).unwrap_err().to_string();
    assert!(
        err.contains(key) && err.contains(words),
        "{client}\n=> {err}"
    );
}

#[test]
fn service_accounts_and_keys_load() {
    let secret = load(&with_client(
        r#"token_endpoint_auth_method = "client_secret_basic"
client_secret = "s"
service_account = { resources = ["tools"], scopes = ["mcp:read"] }"#,
    ))
    .unwrap();
    assert_eq!(
        secret.clients[0].service_account.as_ref().unwrap().scopes,
        ["mcp:read"]
    );
    let keyed = load(&with_client(&format!(
        "token_endpoint_auth_method = \"private_key_jwt\"\njwks = '{RSA_JWKS}'\n\
         service_account = {{ resources = [\"tools\"] }}"
    )))
    .unwrap();
    let settings = crate::oauth::Settings::from_config(&keyed);
    assert!(settings.machine.keys("bot").is_some());
    let account = settings.machine.account("bot").unwrap();
    assert_eq!(account.resources, ["https://auth.example.com/mcp"]);
    // No scope list: every scope of the resource.
    assert_eq!(
        account.allowed_scopes(&settings.resources[0]),
        ["mcp:read", "mcp:write"]
    );
}

#[test]
fn bad_service_account_entries_name_the_key() {
    refused(
        r#"service_account = { resources = ["tools"] }"#,
        "clients[0].token_endpoint_auth_method",
        "confidential",
    );
    refused(
        r#"token_endpoint_auth_method = "client_secret_post"
client_secret = "s"
redirect_uris = ["https://bot.example.com/cb"]
service_account = { resources = ["tools"] }"#,
        "clients[0].redirect_uris",
        "leave redirect_uris out",
    );
    refused(
        r#"token_endpoint_auth_method = "client_secret_post"
client_secret = "s"
service_account = { resources = [] }"#,
        "clients[0].service_account.resources",
        "at least one",
    );
    refused(
        r#"token_endpoint_auth_method = "client_secret_post"
client_secret = "s"
service_account = { resources = ["nope"] }"#,
        "clients[0].service_account.resources[0]",
        "\"nope\"",
    );
    refused(
        r#"token_endpoint_auth_method = "client_secret_post"
client_secret = "s"
service_account = { resources = ["tools"], scopes = ["admin"] }"#,
        "clients[0].service_account.scopes[0]",
        "\"admin\"",
    );
    refused(
        r#"token_endpoint_auth_method = "client_secret_post"
client_secret = "s"
service_account = { resources = ["tools"], role = "x" }"#,
        "role",
        "unknown",
    );
    // A non-service client still needs a redirect URI.
    refused(
        r#"token_endpoint_auth_method = "none""#,
        "clients[0].redirect_uris",
        "at least one",
    );
}

#[test]
fn bad_private_key_jwt_entries_name_the_key() {
    refused(
        r#"token_endpoint_auth_method = "private_key_jwt"
service_account = { resources = ["tools"] }"#,
        "clients[0].jwks",
        "required",
    );
    refused(
        &format!(
            "token_endpoint_auth_method = \"client_secret_post\"\nclient_secret = \"s\"\n\
             jwks = '{RSA_JWKS}'\nservice_account = {{ resources = [\"tools\"] }}"
        ),
        "clients[0].jwks",
        "only for",
    );
    refused(
        &format!(
            "token_endpoint_auth_method = \"private_key_jwt\"\nclient_secret = \"s\"\n\
             jwks = '{RSA_JWKS}'\nservice_account = {{ resources = [\"tools\"] }}"
        ),
        "clients[0].client_secret",
        "no secret",
    );
    for (jwks, words) in [
        ("not json", "not a JSON JWK set"),
        (r#"{"keys":[]}"#, "1 to 10"),
        (
            r#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","d":"AQAB"}]}"#,
            "private key",
        ),
        (r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#, "symmetric"),
        (
            r#"{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"},{"kty":"RSA","n":"AQAB","e":"AQAB"}]}"#,
            "kid",
        ),
    ] {
        refused(
            &format!(
                "token_endpoint_auth_method = \"private_key_jwt\"\njwks = '{jwks}'\n\
                 service_account = {{ resources = [\"tools\"] }}"
            ),
            "clients[0].jwks",
            words,
        );
    }
}
