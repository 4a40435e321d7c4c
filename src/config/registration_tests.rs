use crate::config::tests::{load, toml};
use crate::config::RegistrationMode;

fn error(extra: &str) -> String {
    load(&toml(extra), &[]).unwrap_err().to_string()
}

#[test]
fn mode_defaults_to_open_and_the_old_switch_still_closes() {
    let c = load(&toml(""), &[]).unwrap();
    assert_eq!(c.registration.mode(), RegistrationMode::Open);
    let c = load(&toml("[registration]\nenabled = false"), &[]).unwrap();
    assert_eq!(c.registration.mode(), RegistrationMode::Closed);
    let c = load(
        &toml(""),
        &[("DCR_BRIDGE_REGISTRATION__MODE", "initial_access_token")],
    )
    .unwrap();
    assert_eq!(c.registration.mode(), RegistrationMode::InitialAccessToken);
}

#[test]
fn policy_keys_are_checked_at_load_naming_the_key() {
    for (extra, key) in [
        ("mode = \"invite\"", "mode"),
        ("mode = \"open\"\nenabled = false", "registration.enabled"),
        (
            "allowed_redirect_hosts = [\"*.com\"]",
            "registration.allowed_redirect_hosts[0]",
        ),
        (
            "allowed_redirect_hosts = [\"ok.example\", \"https://x.example\"]",
            "registration.allowed_redirect_hosts[1]",
        ),
        (
            "allowed_redirect_hosts = [\"localhost\"]",
            "allow_loopback_redirects",
        ),
        (
            "allowed_redirect_schemes = [\"javascript\"]",
            "registration.allowed_redirect_schemes[0]",
        ),
        (
            "allowed_redirect_schemes = [\"HTTPS\"]",
            "registration.allowed_redirect_schemes[0]",
        ),
        (
            "max_dynamic_clients = 0",
            "registration.max_dynamic_clients",
        ),
    ] {
        let e = error(&format!("[registration]\n{extra}"));
        assert!(e.contains(key), "{extra}: {e}");
    }
}

#[test]
fn a_full_policy_loads() {
    let c = load(
        &toml(
            "[registration]\nmode = \"initial_access_token\"\nallowed_redirect_schemes = \
             [\"https\", \"http\"]\nallowed_redirect_hosts = [\"claude.ai\", \"*.corp.example\"]\n\
             allow_loopback_redirects = false\nmax_dynamic_clients = 500",
        ),
        &[],
    )
    .unwrap();
    let r = &c.registration;
    assert_eq!(r.mode(), RegistrationMode::InitialAccessToken);
    assert_eq!(r.host_patterns().len(), 2);
    assert!(!r.allow_loopback_redirects);
    assert_eq!(r.max_dynamic_clients, Some(500));
}
