#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::Write as _;

use crate::config::{Config, ConfigError};

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// Two upstreams; the one resource signs in at `resource_upstream`; one static client.
fn two_upstreams(resource_upstream: &str, client_upstream: Option<&str>) -> String {
    let client_upstream = client_upstream
        .map(|u| format!("upstream = \"{u}\""))
        .unwrap_or_default();
    format!(
        r#"
public_url = "https://auth.example.com"
secret_key = "{KEY}"

[[upstreams]]
id = "corp"
issuer = "https://corp.okta.com/oauth2/default"
client_id = "abc"
client_secret = "s3cret"

[[upstreams]]
id = "partners"
issuer = "https://login.partners.example.com"
client_id = "def"
client_secret = "s3cret"

[[resources]]
id = "tools"
path = "/mcp"
scopes = ["mcp"]
upstream = "{resource_upstream}"

[[clients]]
client_id = "portal"
redirect_uris = ["https://portal.example.com/cb"]
{client_upstream}
"#
    )
}

fn load(text: &str) -> Result<Config, ConfigError> {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    Config::load_from(Some(f.path()), std::iter::empty())
}

#[test]
fn a_static_client_must_reach_a_resource_of_its_upstream() {
    // Issue 11 finding 4: `[[clients]].upstream` used to be accepted and then ignored.
    let err = load(&two_upstreams("corp", Some("partners")))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("clients[0].upstream") && err.contains("\"partners\""),
        "{err}"
    );
    // Without `upstream`, the client is bound to the first upstream, which no resource uses.
    let err = load(&two_upstreams("partners", None))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("clients[0].upstream") && err.contains("first upstream"),
        "{err}"
    );
    assert!(load(&two_upstreams("partners", Some("partners"))).is_ok());
    assert!(load(&two_upstreams("corp", None)).is_ok());
    assert!(load(&two_upstreams("corp", Some("corp"))).is_ok());
}
