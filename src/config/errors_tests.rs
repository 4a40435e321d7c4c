#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Issue 11 #13: each configuration error names the key, the problem and the fix once, without
//! figment's internals.

use std::io::Write as _;

use crate::config::{Config, ConfigError};

const KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn file(text: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    f
}

fn config_text(top: &str, upstream: &str) -> String {
    format!(
        r#"public_url = "https://auth.example.com"
{top}
[[upstreams]]
id = "corp"
issuer = "https://idp.example.com"
client_id = "abc"
client_secret = "s3cret"
{upstream}
[[resources]]
id = "tools"
path = "/mcp"
"#
    )
}

/// The error's whole `{:#}` rendering (what `main` prints), with the temp file's path
/// replaced by `FILE`.
fn error(text: &str, env: &[(&str, &str)]) -> String {
    let f = file(text);
    let err = Config::load_from(
        Some(f.path()),
        env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    )
    .unwrap_err();
    let rendered = format!("{:#}", anyhow::Error::from(err));
    let rendered = rendered.replace(&f.path().display().to_string(), "FILE");
    for internal in ["figment::", ".rs:", "default.", "``"] {
        assert!(!rendered.contains(internal), "{internal} in {rendered}");
    }
    rendered
}

/// No sentence of the message appears twice.
fn said_once(message: &str) {
    for part in message.split(['\n', ';']).map(str::trim) {
        assert_eq!(
            message.matches(part).count(),
            1,
            "{part:?} repeated in {message}"
        );
    }
}

#[test]
fn missing_field_is_named_once_with_the_fix() {
    let msg = error(&config_text("", ""), &[]);
    assert_eq!(
        msg,
        "secret_key: required but not set; set it in the configuration file or with \
         DCR_BRIDGE_SECRET_KEY (or DCR_BRIDGE_SECRET_KEY_FILE naming a file that holds it)"
    );
    said_once(&msg);
    let msg = error(
        &config_text(&format!("secret_key = \"{KEY}\""), "").replace("client_id = \"abc\"", ""),
        &[],
    );
    assert_eq!(
        msg,
        "upstreams[0].client_id: required but not set; set it in the configuration file or \
         with DCR_BRIDGE_UPSTREAMS__0__CLIENT_ID"
    );
}

#[test]
fn unknown_kind_lists_the_values_once() {
    let msg = error(
        &config_text(&format!("secret_key = \"{KEY}\""), "kind = \"keycloak\""),
        &[],
    );
    assert_eq!(
        msg,
        "upstreams[0].kind: unknown value \"keycloak\" (in FILE); use one of: \"oidc\", \"okta\", \"entra\", \"google\", \"github\""
    );
}

#[test]
fn unknown_keys_suggest_the_near_one() {
    let text = config_text(
        &format!("secret_key = \"{KEY}\"\nlistn = \"0.0.0.0:1\""),
        "",
    );
    let msg = error(&text, &[]);
    assert!(
        msg.starts_with("listn: unknown key (in FILE); did you mean `listen`? the keys allowed here are: public_url, listen,"),
        "{msg}"
    );
    said_once(&msg);
    let msg = error(
        &config_text(&format!("secret_key = \"{KEY}\""), ""),
        &[("DCR_BRIDGE_LISTN", "x")],
    );
    assert!(
        msg.starts_with(
            "listn: unknown key (from environment variable DCR_BRIDGE_LISTN); did you mean `listen`?"
        ),
        "{msg}"
    );
}

#[test]
fn wrong_types_name_the_source() {
    let text = config_text(
        &format!("secret_key = \"{KEY}\"\nallow_insecure_http = \"yes\""),
        "",
    );
    assert_eq!(
        error(&text, &[]),
        "allow_insecure_http: expected a boolean, found string \"yes\" (in FILE)"
    );
    assert_eq!(
        error(
            &config_text(&format!("secret_key = \"{KEY}\""), ""),
            &[("DCR_BRIDGE_PUBLIC_URL", "not a url")]
        ),
        "public_url: relative URL without a base: \"not a url\" \
         (from environment variable DCR_BRIDGE_PUBLIC_URL)"
    );
}

#[test]
fn env_overrides_reach_list_elements() {
    let f = file(&config_text(&format!("secret_key = \"{KEY}\""), ""));
    let secret = file("rs-secret\n");
    let secret_path = secret.path().to_str().unwrap();
    let env = [
        (
            "DCR_BRIDGE_RESOURCES__0__INTROSPECTION_SECRET_FILE",
            secret_path,
        ),
        ("DCR_BRIDGE_UPSTREAMS__0__CLIENT_ID", "from-env"),
        (
            "DCR_BRIDGE_UPSTREAMS__0__POLICY__ALLOWED_GROUPS",
            "[\"eng\"]",
        ),
        ("DCR_BRIDGE_RESOURCES__0__SCOPES", "[\"a\", \"b\"]"),
    ];
    let c = Config::load_from(
        Some(f.path()),
        env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    )
    .unwrap();
    assert_eq!(c.upstreams[0].client_id, "from-env");
    assert_eq!(
        c.upstreams[0].issuer.as_ref().unwrap().as_str(),
        "https://idp.example.com/"
    );
    assert_eq!(c.upstreams[0].policy.allowed_groups, ["eng"]);
    assert_eq!(c.resources[0].scopes, ["a", "b"]);
    let rs = c.resources[0].introspection_secret.as_ref().unwrap();
    assert_eq!(secrecy::ExposeSecret::expose_secret(rs), "rs-secret");
}

#[test]
fn env_overrides_of_missing_list_elements_say_what_exists() {
    let text = config_text(&format!("secret_key = \"{KEY}\""), "");
    assert_eq!(
        error(&text, &[("DCR_BRIDGE_UPSTREAMS__3__CLIENT_ID", "x")]),
        "invalid configuration: DCR_BRIDGE_UPSTREAMS__3__CLIENT_ID: `upstreams` has 1 entry \
         (indexes start at 0), so [3] does not exist"
    );
    assert_eq!(
        error(&text, &[("DCR_BRIDGE_CLIENTS__0__CLIENT_ID", "x")]),
        "invalid configuration: DCR_BRIDGE_CLIENTS__0__CLIENT_ID: there is no `clients` list \
         to index into; define its entries in the configuration file, or set \
         DCR_BRIDGE_CLIENTS to a whole TOML array"
    );
    // A bad value set through an index is reported against the variable, once.
    let msg = error(&text, &[("DCR_BRIDGE_UPSTREAMS__0__KIND", "keycloak")]);
    assert_eq!(
        msg,
        "upstreams[0].kind: unknown value \"keycloak\" \
         (from environment variable DCR_BRIDGE_UPSTREAMS__0__KIND); use one of: \"oidc\", \"okta\", \"entra\", \"google\", \"github\""
    );
}

#[test]
fn unreadable_secret_file_names_the_cause_once() {
    let text = config_text(&format!("secret_key = \"{KEY}\""), "");
    let msg = error(&text, &[("DCR_BRIDGE_SECRET_KEY_FILE", "/nonexistent/key")]);
    assert_eq!(
        msg,
        "cannot read DCR_BRIDGE_SECRET_KEY_FILE from /nonexistent/key: \
         No such file or directory (os error 2)"
    );
}

#[test]
fn syntax_errors_point_at_the_file() {
    let msg = error("public_url = \n", &[]);
    assert!(msg.starts_with("FILE: TOML parse error at line 1"), "{msg}");
    assert_eq!(msg.matches("TOML parse error").count(), 1, "{msg}");
    assert!(matches!(
        Config::load_from(Some(std::path::Path::new("/nonexistent.toml")), []),
        Err(ConfigError::Parse(_))
    ));
}
