use super::*;

fn count(kind: &str, detail: Option<&str>, n: i64) -> AuditCount {
    AuditCount {
        kind: kind.to_owned(),
        detail: detail.map(str::to_owned),
        count: n,
    }
}

#[test]
fn flows_are_tallied_from_the_event_kinds() {
    let counts = [
        count("consent_denied", None, 1),
        count("consented", None, 5),
        count("login", None, 6),
        count(
            LOGIN_FAILED,
            Some(r#"{"reason":"access_denied","upstream":"corp"}"#),
            2,
        ),
        count(
            LOGIN_FAILED,
            Some(r#"{"reason":"access_denied","upstream":"other"}"#),
            1,
        ),
        count(LOGIN_FAILED, Some(r#"{"upstream":"corp"}"#), 1),
        count("refreshed", None, 40),
    ];
    let (flows, events) = tally(&counts);
    assert_eq!(flows.started, 6 + 4);
    assert_eq!(flows.completed, 5);
    assert_eq!(flows.failed, 1 + 4);
    assert_eq!(
        flows.failed_by_reason.into_iter().collect::<Vec<_>>(),
        [
            ("access_denied".to_owned(), 3),
            ("consent_denied".to_owned(), 1),
            ("unknown".to_owned(), 1)
        ]
    );
    assert_eq!(events[LOGIN_FAILED], 4);
    assert_eq!(events["refreshed"], 40);
    assert_eq!(events.len(), 5);
}
