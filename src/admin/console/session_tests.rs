use super::*;

#[test]
fn a_session_ends_when_idle_or_old() {
    let sessions = Sessions::default();
    let id = sessions.open("h".to_owned(), 1_000);
    assert!(sessions.touch(&id, 1_000 + IDLE_SECONDS - 1).is_some());
    // Used just now: idle clock restarted.
    assert!(sessions.touch(&id, 1_000 + 2 * IDLE_SECONDS - 2).is_some());
    assert!(sessions.touch(&id, 1_000 + 3 * IDLE_SECONDS).is_none());
    let id = sessions.open("h".to_owned(), 0);
    let mut now = 0;
    while now + IDLE_SECONDS / 2 < ABSOLUTE_SECONDS {
        now += IDLE_SECONDS / 2;
        assert!(sessions.touch(&id, now).is_some(), "at {now}");
    }
    assert!(sessions.touch(&id, ABSOLUTE_SECONDS).is_none());
}

#[test]
fn closing_and_unknown_ids() {
    let sessions = Sessions::default();
    let id = sessions.open("h".to_owned(), 0);
    assert!(sessions.touch("not-a-session", 1).is_none());
    sessions.close(&id);
    assert!(sessions.touch(&id, 1).is_none());
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
