//! Issue 11 #12: a test whose prerequisite (Postgres, Node.js, Python, the conformance tool, the
//! Inspector) is missing fails, naming it and the opt-out `DCR_BRIDGE_TEST_SKIP`; only an
//! explicit opt-out skips, and CI refuses opt-outs. Before, such tests returned early and
//! reported `ok`.

use crate::support::db::{TestDb, DEFAULT_POSTGRES_URL, POSTGRES_URL_VAR};
use crate::support::prereq::{decide, Decision, Prereq, SKIP_VAR};

fn missing() -> Result<(), String> {
    Err("not installed".to_owned())
}

fn fail_message(d: Decision) -> String {
    match d {
        Decision::Fail(m) => m,
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn a_missing_prerequisite_fails_and_names_the_opt_out() {
    for p in Prereq::ALL {
        let msg = fail_message(decide(p, None, false, missing));
        assert!(msg.contains("not installed"), "{msg}");
        assert!(
            msg.contains(&format!("{SKIP_VAR}={} cargo test", p.name())),
            "{msg}"
        );
        // An empty or blank variable opts nothing out.
        assert!(matches!(
            decide(p, Some(" , "), false, missing),
            Decision::Fail(_)
        ));
    }
}

#[test]
fn an_available_prerequisite_runs() {
    for p in Prereq::ALL {
        assert_eq!(decide(p, None, false, || Ok(())), Decision::Run);
        assert_eq!(decide(p, None, true, || Ok(())), Decision::Run);
        assert_eq!(decide(p, Some(""), false, || Ok(())), Decision::Run);
    }
}

#[test]
fn an_opt_out_skips_without_probing_and_says_so() {
    let probe = || -> Result<(), String> { panic!("an opted-out prerequisite is not probed") };
    let d = decide(Prereq::Postgres, Some("node, postgres"), false, probe);
    let Decision::Skip(why) = d else {
        panic!("{d:?}")
    };
    assert!(why.contains("SKIPPED") && why.contains(SKIP_VAR), "{why}");
    assert!(matches!(
        decide(Prereq::Python, Some("python"), false, probe),
        Decision::Skip(_)
    ));
    // The conformance tool and the Inspector run on Node: opting out of Node opts out of them.
    for p in [Prereq::Conformance, Prereq::Inspector] {
        assert!(matches!(
            decide(p, Some("node"), false, probe),
            Decision::Skip(_)
        ));
    }
    // Other names leave a prerequisite alone.
    assert_eq!(
        decide(
            Prereq::Node,
            Some("postgres,python,conformance,inspector"),
            false,
            || { Ok(()) }
        ),
        Decision::Run
    );
}

#[test]
fn ci_refuses_opt_outs_and_misses() {
    let msg = fail_message(decide(Prereq::Node, Some("node"), true, || Ok(())));
    assert!(msg.contains("refused under CI"), "{msg}");
    let msg = fail_message(decide(Prereq::Postgres, None, true, missing));
    assert!(msg.contains("required in CI"), "{msg}");
}

#[test]
fn unknown_names_in_the_opt_out_fail() {
    let msg = fail_message(decide(Prereq::Node, Some("nodejs"), false, || Ok(())));
    assert!(
        msg.contains("`nodejs`") && msg.contains("postgres, node, python, conformance, inspector"),
        "{msg}"
    );
}

/// The bare `cargo test` finds the local Postgres without any variable: with
/// `DCR_BRIDGE_TEST_POSTGRES_URL` unset, a server at the default URL is used (and without one,
/// this test fails, naming it, like every other Postgres test).
#[tokio::test]
async fn postgres_is_found_at_the_default_url() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    if std::env::var_os(POSTGRES_URL_VAR).is_none() {
        let default_host = url::Url::parse(DEFAULT_POSTGRES_URL).unwrap();
        let used = url::Url::parse(&db.url).unwrap();
        assert_eq!(used.host_str(), default_host.host_str());
        assert_eq!(used.port(), default_host.port());
    }
    let store = db.store().await;
    store.ping().await.unwrap();
}
