use secrecy::SecretString;

use super::*;

fn tokens(refresh: bool, expires_at: Option<i64>) -> UpstreamTokens {
    UpstreamTokens {
        access_token: SecretString::from("at".to_owned()),
        refresh_token: refresh.then(|| SecretString::from("rt".to_owned())),
        id_token: None,
        expires_at,
        scope: None,
    }
}

fn settings() -> UpstreamRefresh {
    UpstreamRefresh {
        recheck_interval_seconds: 300,
        max_staleness_seconds: 3600,
        retry_interval_seconds: 30,
    }
}

#[test]
fn confirmed_recently_with_a_valid_access_token_is_not_due() {
    let t = tokens(true, Some(2000));
    assert_eq!(due(&t, false, 1000, None, &settings(), 1299), Due::No);
}

#[test]
fn the_recheck_interval_makes_it_due_even_with_a_valid_access_token() {
    let t = tokens(true, Some(5000));
    assert_eq!(due(&t, false, 1000, None, &settings(), 1300), Due::Now);
}

#[test]
fn an_expired_upstream_access_token_makes_it_due_at_once() {
    let t = tokens(true, Some(1100));
    assert_eq!(due(&t, false, 1000, None, &settings(), 1100), Due::Now);
    assert_eq!(due(&t, false, 1000, None, &settings(), 1099), Due::No);
}

#[test]
fn a_zero_recheck_interval_asks_on_every_refresh() {
    let s = UpstreamRefresh {
        recheck_interval_seconds: 0,
        ..settings()
    };
    assert_eq!(
        due(&tokens(true, None), false, 1000, None, &s, 1000),
        Due::Now
    );
}

#[test]
fn without_an_upstream_refresh_token_nothing_is_ever_due() {
    let t = tokens(false, Some(1));
    assert_eq!(due(&t, false, 0, None, &settings(), 1_000_000), Due::No);
}

#[test]
fn a_back_off_after_a_transient_failure_holds_off_the_next_attempt() {
    let t = tokens(true, Some(1)); // expired
    assert_eq!(
        due(&t, false, 1000, Some(1500), &settings(), 1499),
        Due::BackingOff
    );
    assert_eq!(
        due(&t, false, 1000, Some(1500), &settings(), 1500),
        Due::Now
    );
}

#[test]
fn staleness_is_tolerated_up_to_the_bound_and_then_refused_as_temporarily_unavailable() {
    assert!(within_staleness(1000, &settings(), 4600).is_ok());
    let err = within_staleness(1000, &settings(), 4601).unwrap_err();
    assert_eq!(err.code(), "temporarily_unavailable");
}

#[test]
fn huge_settings_do_not_overflow() {
    let s = UpstreamRefresh {
        recheck_interval_seconds: u64::MAX,
        max_staleness_seconds: u64::MAX,
        retry_interval_seconds: u64::MAX,
    };
    assert_eq!(
        due(
            &tokens(true, None),
            false,
            i64::MAX - 2,
            None,
            &s,
            i64::MAX - 1
        ),
        Due::No
    );
    assert!(within_staleness(i64::MIN, &s, i64::MAX).is_ok());
}

#[test]
fn a_kind_that_rechecks_with_the_access_token_is_due_at_the_interval_without_a_refresh_token() {
    // GitHub OAuth App tokens: no refresh token, no expiry; the API is asked instead.
    let t = tokens(false, None);
    assert_eq!(due(&t, true, 1000, None, &settings(), 1299), Due::No);
    assert_eq!(due(&t, true, 1000, None, &settings(), 1300), Due::Now);
    assert_eq!(
        due(&t, true, 1000, Some(1400), &settings(), 1300),
        Due::BackingOff
    );
}

#[test]
fn a_hand_out_margin_makes_a_token_about_to_expire_due() {
    let t = tokens(true, Some(1100));
    assert_eq!(
        due_within(&t, false, 1000, None, &settings(), 1069, 30),
        Due::No
    );
    assert_eq!(
        due_within(&t, false, 1000, None, &settings(), 1070, 30),
        Due::Now
    );
    // The margin never overrides a back-off, nor makes a token without refresh token due.
    assert_eq!(
        due_within(&t, false, 1000, Some(1090), &settings(), 1080, 30),
        Due::BackingOff
    );
    assert_eq!(
        due_within(
            &tokens(false, Some(1100)),
            false,
            1000,
            None,
            &settings(),
            1099,
            30
        ),
        Due::No
    );
}
