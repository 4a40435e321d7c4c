use super::*;

#[test]
fn timestamps_are_utc_calendar_dates() {
    assert_eq!(timestamp(0), "1970-01-01 00:00:00");
    assert_eq!(timestamp(951_782_400), "2000-02-29 00:00:00");
    assert_eq!(timestamp(1_765_000_000), "2025-12-06 05:46:40");
    assert_eq!(timestamp(-1), "1969-12-31 23:59:59");
}

#[test]
fn ids_stay_one_segment() {
    assert_eq!(
        segment("https://app.example/c?x=1#y"),
        "https%3A%2F%2Fapp.example%2Fc%3Fx%3D1%23y"
    );
    assert_eq!(segment("dcrb_c_A-b.9~"), "dcrb_c_A-b.9~");
}

#[test]
fn every_template_parses() {
    assert!(Templates::new().is_ok());
}

#[test]
fn audit_details_render_as_escaped_text() {
    let t = Templates::new().unwrap();
    let f: std::collections::BTreeMap<&str, Option<String>> =
        [("type", None), ("from", Some("1".to_owned()))]
            .into_iter()
            .collect();
    let events = serde_json::json!([{"id": "x", "at": 5, "type": "registered",
        "client_id": "c", "detail": "{\"a\":\"<b>\"}"}]);
    let html = t
        .render(
            "admin/audit.html",
            context! { events => Value::from_serialize(&events), export => "/x", f => f,
            operator => "o", csrf => "c" },
        )
        .unwrap();
    assert!(
        html.contains("&lt;b&gt;") && !html.contains("<b>"),
        "{html}"
    );
    assert!(html.contains("1970-01-01 00:00:05"), "{html}");
}
