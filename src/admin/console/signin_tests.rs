use super::*;

#[test]
fn failures_block_an_address_for_the_window() {
    let f = Failures::default();
    let ip: IpAddr = "192.0.2.1".parse().unwrap();
    let other: IpAddr = "192.0.2.2".parse().unwrap();
    for i in 0..MAX_FAILURES {
        assert_eq!(f.blocked(ip, 100), None);
        f.record(ip, 100 + i64::try_from(i).unwrap());
    }
    assert_eq!(f.blocked(ip, 110), Some(WINDOW_SECONDS - 10));
    assert_eq!(f.blocked(other, 110), None);
    // The first failure leaves the window: one more try.
    assert_eq!(f.blocked(ip, 100 + WINDOW_SECONDS), None);
}
