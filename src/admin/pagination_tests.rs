use super::*;

#[test]
fn cursor_round_trips_ids_with_colons() {
    let c = encode(List::Clients, 1_700_000_000, "https://app.example/client:x");
    let after = decode(List::Clients, &c).unwrap();
    assert_eq!(after.created_at, 1_700_000_000);
    assert_eq!(after.id, "https://app.example/client:x");
}

#[test]
fn cursor_of_another_list_or_garbage_is_refused() {
    let c = encode(List::Users, 1, "u1");
    assert!(decode(List::Grants, &c).is_err());
    for bad in [
        "",
        "!!!",
        "Zm9v",
        &URL_SAFE_NO_PAD.encode("users:x:u1"),
        &URL_SAFE_NO_PAD.encode("users:1:"),
    ] {
        assert!(decode(List::Users, bad).is_err(), "{bad}");
    }
}

#[test]
fn limit_bounds_and_one_row_more() {
    assert_eq!(request(List::Users, None, None).unwrap().limit, 51);
    assert_eq!(request(List::Users, Some(500), None).unwrap().limit, 501);
    assert!(request(List::Users, Some(0), None).is_err());
    assert!(request(List::Users, Some(501), None).is_err());
}

#[test]
fn page_cuts_the_probe_row_and_points_at_the_last_shown() {
    let req = request(List::Users, Some(2), None).unwrap();
    let rows = vec![(3, "c"), (2, "b"), (1, "a")];
    let p = page(List::Users, &req, rows, |r| (r.0, r.1), |r| r.1.to_owned());
    assert_eq!(p.items, vec!["c", "b"]);
    let after = decode(List::Users, p.next_cursor.as_deref().unwrap()).unwrap();
    assert_eq!((after.created_at, after.id.as_str()), (2, "b"));
    let last = page(
        List::Users,
        &req,
        vec![(1, "a")],
        |r| (r.0, r.1),
        |r| r.1.to_owned(),
    );
    assert_eq!(last.next_cursor, None);
}
