#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `client_auth = "private_key_jwt"` and the Graph keys in the configuration: what they need,
//! what they refuse, and that every error names its key.

use std::io::Write as _;

use super::super::{Config, ConfigError};
use super::*;

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const SHA1: &str = "5D:E0:5F:2A:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF";

/// A configuration whose one upstream has `upstream` lines (and no secret unless given).
fn load(upstream: &str) -> Result<Config, ConfigError> {
    let text = format!(
        r#"
public_url = "https://auth.example.com"
secret_key = "{KEY}"
[[upstreams]]
id = "up"
client_id = "app"
{upstream}
[[resources]]
id = "tools"
path = "/mcp"
scopes = ["mcp"]
"#
    );
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    Config::load_from(Some(f.path()), std::iter::empty())
}

/// A PEM RSA key in a file that lives as long as the returned handle.
fn key_file() -> tempfile::NamedTempFile {
    key_file_of(2048)
}

fn key_file_of(bits: usize) -> tempfile::NamedTempFile {
    use rsa::pkcs8::EncodePrivateKey as _;
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), bits).unwrap();
    let pem = key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap();
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(pem.as_bytes()).unwrap();
    f
}

fn entra(lines: &str) -> String {
    format!("kind = \"entra\"\nissuer = \"https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/v2.0\"\n{lines}")
}

#[test]
fn entra_with_a_key_and_thumbprint_loads_the_key() {
    let f = key_file();
    let c = load(&entra(&format!(
        "client_auth = \"private_key_jwt\"\nprivate_key_file = {:?}\ncertificate_thumbprint = \"{SHA1}\"",
        f.path()
    )))
    .unwrap();
    let up = &c.upstreams[0];
    assert_eq!(up.client_auth, UpstreamClientAuth::PrivateKeyJwt);
    assert!(up.private_key_pem.is_some());
    assert_eq!(thumbprint_bytes(SHA1).unwrap().len(), 20);
}

#[test]
fn private_key_jwt_refusals_name_their_key() {
    let f = key_file();
    let path = format!("{:?}", f.path());
    let mut garbage = tempfile::NamedTempFile::new().unwrap();
    garbage
        .write_all(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
        .unwrap();
    let garbage_path = format!("{:?}", garbage.path());
    let short = key_file_of(1024);
    let short_path = format!("{:?}", short.path());
    for (lines, named) in [
        (entra("client_auth = \"private_key_jwt\""), "upstreams[0].private_key_file"),
        (
            entra(&format!("client_auth = \"private_key_jwt\"\nprivate_key_file = {path}")),
            "upstreams[0].certificate_thumbprint",
        ),
        (
            entra(&format!("client_auth = \"private_key_jwt\"\nprivate_key_file = {path}\ncertificate_thumbprint = \"abc\"")),
            "upstreams[0].certificate_thumbprint",
        ),
        (
            entra(&format!("client_auth = \"private_key_jwt\"\nprivate_key_file = {garbage_path}\ncertificate_thumbprint = \"{SHA1}\"")),
            "upstreams[0].private_key_file",
        ),
        (
            entra(&format!("client_auth = \"private_key_jwt\"\nclient_secret = \"s\"\nprivate_key_file = {path}\ncertificate_thumbprint = \"{SHA1}\"")),
            "upstreams[0].client_secret",
        ),
        (
            entra(&format!("client_secret = \"s\"\nprivate_key_file = {path}")),
            "upstreams[0].private_key_file",
        ),
        (
            entra(&format!("client_auth = \"private_key_jwt\"\nprivate_key_file = {short_path}\ncertificate_thumbprint = \"{SHA1}\"")),
            "2048 bits",
        ),
        (entra(""), "upstreams[0].client_secret"),
        (
            "kind = \"github\"\nclient_auth = \"private_key_jwt\"".to_owned(),
            "upstreams[0].client_auth",
        ),
        (
            entra(&format!("client_auth = \"private_key_jwt\"\nprivate_key_file = \"/nonexistent/key.pem\"\ncertificate_thumbprint = \"{SHA1}\"")),
            "upstreams[0].private_key_file",
        ),
    ] {
        let err = load(&lines).unwrap_err().to_string();
        assert!(err.contains(named), "{lines}\n=> {err}");
    }
}

#[test]
fn a_generic_upstream_may_sign_without_a_thumbprint() {
    let f = key_file();
    let c = load(&format!(
        "issuer = \"https://idp.example.com\"\nclient_auth = \"private_key_jwt\"\nprivate_key_file = {:?}",
        f.path()
    ))
    .unwrap();
    assert_eq!(c.upstreams[0].certificate_thumbprint, None);
}

#[test]
fn graph_keys_are_entra_only_and_graph_base_must_be_https() {
    let err =
        load("issuer = \"https://idp.example.com\"\nclient_secret = \"s\"\ngraph_groups = true")
            .unwrap_err()
            .to_string();
    assert!(err.contains("upstreams[0].graph_groups"), "{err}");
    let err = load(&entra("client_secret = \"s\"\ngraph_groups = true\ngraph_base = \"http://graph.example.com/v1.0\""))
        .unwrap_err()
        .to_string();
    assert!(err.contains("upstreams[0].graph_base"), "{err}");
    let c = load(&entra("client_secret = \"s\"\ngraph_groups = true")).unwrap();
    assert!(c.upstreams[0].graph_groups);
}
