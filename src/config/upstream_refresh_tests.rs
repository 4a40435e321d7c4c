use crate::config::tests::{load as load_text, toml};
use crate::config::{Config, ConfigError, UpstreamRefresh};

/// The config tests' minimal configuration, its one upstream with `refresh` as the lines of its
/// `[upstreams.refresh]` table (a table header anywhere names the last `[[upstreams]]` entry).
fn load(refresh: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    load_text(
        &format!("{}\n[upstreams.refresh]\n{refresh}\n", toml("")),
        env,
    )
}

#[test]
fn refresh_defaults_when_absent() {
    let c = load("", &[]).unwrap();
    assert_eq!(c.upstreams[0].refresh, UpstreamRefresh::default());
    assert_eq!(c.upstreams[0].refresh.recheck_interval_seconds, 300);
    assert_eq!(c.upstreams[0].refresh.max_staleness_seconds, 3600);
    assert_eq!(c.upstreams[0].refresh.retry_interval_seconds, 30);
}

#[test]
fn refresh_table_and_env_override() {
    let c = load(
        "recheck_interval_seconds = 0\nmax_staleness_seconds = 7200",
        &[(
            "DCR_BRIDGE_UPSTREAMS__0__REFRESH__RETRY_INTERVAL_SECONDS",
            "5",
        )],
    )
    .unwrap();
    let r = c.upstreams[0].refresh;
    assert_eq!(
        (
            r.recheck_interval_seconds,
            r.max_staleness_seconds,
            r.retry_interval_seconds
        ),
        (0, 7200, 5)
    );
}

#[test]
fn refresh_refuses_bad_values_and_names_them() {
    for (bad, named) in [
        ("retry_interval_seconds = 0", "retry_interval_seconds"),
        ("max_staleness_seconds = 31536001", "max_staleness_seconds"),
        ("recheck_interval_seconds = -1", "recheck_interval_seconds"),
        ("recheck_interval = 60", "recheck_interval"),
    ] {
        let err = load(bad, &[]).unwrap_err().to_string();
        assert!(err.contains(named), "{bad}: {err}");
    }
}

#[test]
fn timeout_seconds_defaults_to_15_and_is_bounded() {
    let c = load_text(&toml(""), &[]).unwrap();
    assert_eq!(c.upstreams[0].timeout_seconds, 15);
    let c = load_text(
        &toml(""),
        &[("DCR_BRIDGE_UPSTREAMS__0__TIMEOUT_SECONDS", "3")],
    )
    .unwrap();
    assert_eq!(c.upstreams[0].timeout_seconds, 3);
    for bad in ["0", "121"] {
        let err = load_text(
            &toml(""),
            &[("DCR_BRIDGE_UPSTREAMS__0__TIMEOUT_SECONDS", bad)],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("upstreams[0].timeout_seconds"), "{bad}: {err}");
    }
}
