use super::*;

fn record(created_at: i64, last_seen_at: i64) -> ConsoleSessionRecord {
    ConsoleSessionRecord {
        id_hash: "h".to_owned(),
        token_hash: "t".to_owned(),
        created_at,
        last_seen_at,
        expires_at: created_at + ABSOLUTE_SECONDS,
    }
}

#[test]
fn a_session_ends_when_idle_or_old() {
    assert!(live(&record(1_000, 1_000), 1_000 + IDLE_SECONDS - 1));
    assert!(!live(&record(1_000, 1_000), 1_000 + IDLE_SECONDS));
    // Used recently: the idle clock counts from the last use.
    assert!(live(&record(0, 2 * IDLE_SECONDS), 3 * IDLE_SECONDS - 1));
    // Used a moment ago, but eight hours old.
    assert!(!live(&record(0, ABSOLUTE_SECONDS - 1), ABSOLUTE_SECONDS));
    // The stored absolute end rules even if created_at says otherwise.
    let mut cut_short = record(0, 10);
    cut_short.expires_at = 20;
    assert!(!live(&cut_short, 20));
}

#[test]
fn the_cookie_is_strict_and_host_prefixed_over_https() {
    let c = set_cookie("v", true).unwrap();
    let c = c.to_str().unwrap();
    assert!(c.starts_with("__Host-dcrb-admin=v"), "{c}");
    for part in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/"] {
        assert!(c.contains(part), "{c}");
    }
    let plain = set_cookie("v", false).unwrap();
    assert!(!plain.to_str().unwrap().contains("Secure"));
}
