use super::http_date;

#[test]
fn times_are_shown_as_http_dates() {
    assert_eq!(http_date(1_765_000_000), "Sat, 06 Dec 2025 05:46:40 GMT");
    assert_eq!(http_date(-5), "Thu, 01 Jan 1970 00:00:00 GMT");
}
