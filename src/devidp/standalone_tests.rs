#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;

use super::{resolve, DevIdpArgs};

fn args() -> DevIdpArgs {
    DevIdpArgs {
        file: None,
        listen: None,
        issuer: None,
        client_id: None,
        client_secret_file: None,
        redirect_uris: Vec::new(),
        users: Vec::new(),
    }
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn error(a: &DevIdpArgs) -> String {
    format!("{:#}", resolve(a).unwrap_err())
}

const FILE: &str = r#"
listen = "0.0.0.0:9000"
issuer = "http://localhost:9000"
client_id = "trial"
client_secret = " s3cret \n"
redirect_uris = ["http://localhost:8080/oauth/callback"]

[[users]]
sub = "dev-carol"
email = "carol@example.com"
groups = ["ops"]
password = "pw"
"#;

#[test]
fn the_file_is_read_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = args();
    a.file = Some(write(dir.path(), "idp.toml", FILE));
    let r = resolve(&a).unwrap();
    assert_eq!(r.listen.to_string(), "0.0.0.0:9000");
    assert_eq!(r.config.issuer, "http://localhost:9000");
    assert_eq!(r.config.client_id, "trial");
    assert_eq!(r.config.client_secret, "s3cret");
    assert_eq!(r.config.users.len(), 1);
    assert_eq!(r.config.users[0].name, "dev-carol", "name defaults to sub");
    assert_eq!(r.config.users[0].groups, ["ops"]);
    assert!(
        !r.config.auto_login,
        "the standalone IdP always shows its form"
    );

    a.listen = Some("127.0.0.1:0".parse().unwrap());
    a.issuer = Some("http://127.0.0.1:4444".into());
    a.redirect_uris = vec!["http://127.0.0.1:5555/oauth/callback".into()];
    a.client_secret_file = Some(write(dir.path(), "secret", "from-file\n"));
    a.users = vec!["dev-dan:danpw".into(), "dev-eve".into()];
    let r = resolve(&a).unwrap();
    assert_eq!(r.listen.to_string(), "127.0.0.1:0");
    assert_eq!(r.config.issuer, "http://127.0.0.1:4444");
    assert_eq!(
        r.config.redirect_uris,
        ["http://127.0.0.1:5555/oauth/callback"]
    );
    assert_eq!(r.config.client_secret, "from-file");
    let users: Vec<_> = r
        .config
        .users
        .iter()
        .map(|u| (u.sub.as_str(), u.email.as_str(), u.password.as_deref()))
        .collect();
    assert_eq!(
        users,
        [
            ("dev-dan", "dev-dan@example.com", Some("danpw")),
            ("dev-eve", "dev-eve@example.com", None)
        ]
    );
}

#[test]
fn without_users_the_dev_users_with_their_passwords_sign_in() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = args();
    a.client_secret_file = Some(write(dir.path(), "secret", "x"));
    a.redirect_uris = vec!["http://127.0.0.1:8080/oauth/callback".into()];
    let r = resolve(&a).unwrap();
    assert_eq!(r.listen.to_string(), "127.0.0.1:9000");
    assert_eq!(r.config.issuer, "http://127.0.0.1:9000");
    assert_eq!(r.config.client_id, "dcr-bridge-dev");
    assert_eq!(r.config.users, crate::devidp::DevUser::with_passwords());
    assert_eq!(
        r.config.users[0].password.as_deref(),
        Some("alice-dev-password")
    );
}

#[test]
fn bad_settings_are_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let secret = write(dir.path(), "secret", "x");
    let base = || {
        let mut a = args();
        a.client_secret_file = Some(secret.clone());
        a.redirect_uris = vec!["http://127.0.0.1:8080/oauth/callback".into()];
        a
    };

    let mut a = base();
    a.file = Some(write(dir.path(), "unknown.toml", "issuer_url = \"x\"\n"));
    let e = error(&a);
    assert!(
        e.contains("issuer_url") && e.contains("unknown.toml"),
        "{e}"
    );

    let mut a = base();
    a.file = Some(write(dir.path(), "broken.toml", "issuer = [\n"));
    assert!(error(&a).contains("broken.toml"), "{}", error(&a));

    let mut a = base();
    a.file = Some(dir.path().join("missing.toml"));
    assert!(error(&a).contains("missing.toml"), "{}", error(&a));

    let mut a = base();
    a.listen = Some("0.0.0.0:9000".parse().unwrap());
    let e = error(&a);
    assert!(e.contains("issuer") && e.contains("not a loopback"), "{e}");

    let mut a = base();
    a.client_secret_file = None;
    assert!(error(&a).contains("client_secret_file"), "{}", error(&a));

    let mut a = base();
    a.client_secret_file = Some(dir.path().join("no-such-secret"));
    assert!(error(&a).contains("no-such-secret"), "{}", error(&a));

    let mut a = base();
    a.client_secret_file = Some(write(dir.path(), "empty", " \n"));
    assert!(error(&a).contains("empty"), "{}", error(&a));

    let mut a = base();
    a.file = Some(write(
        dir.path(),
        "both.toml",
        "client_secret = \"a\"\nclient_secret_file = \"/x\"\n",
    ));
    a.client_secret_file = None;
    assert!(error(&a).contains("not both"), "{}", error(&a));

    let mut a = base();
    a.redirect_uris = Vec::new();
    assert!(error(&a).contains("redirect_uris"), "{}", error(&a));

    for (bad, why) in [
        ("not a url", "redirect_uris[0]"),
        ("javascript:alert(1)", "http(s)"),
        ("http://127.0.0.1:8080/cb?x=1", "query"),
    ] {
        let mut a = base();
        a.redirect_uris = vec![bad.into()];
        let e = error(&a);
        assert!(e.contains(why), "{bad}: {e}");
    }

    let mut a = base();
    a.issuer = Some("ftp://idp".into());
    assert!(error(&a).contains("issuer"), "{}", error(&a));

    for user in ["", ":pw", "sub:"] {
        let mut a = base();
        a.users = vec![user.into()];
        assert!(error(&a).contains("--user"), "{user:?}: {}", error(&a));
    }

    let mut a = base();
    a.users = vec!["dev-x".into(), "dev-x:pw".into()];
    assert!(error(&a).contains("appears twice"), "{}", error(&a));

    let mut a = base();
    a.file = Some(write(dir.path(), "nobody.toml", "users = []\n"));
    assert!(error(&a).contains("nobody could sign in"), "{}", error(&a));

    let mut a = base();
    a.client_id = Some(" ".into());
    assert!(error(&a).contains("client_id"), "{}", error(&a));
}
