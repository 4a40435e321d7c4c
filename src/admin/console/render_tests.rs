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
