#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

#[test]
fn only_short_plain_request_ids_are_kept() {
    for ok in [
        "a",
        "0f8fad5b-d9cb-469f-a165-70867728950e",
        "req_1.2-3",
        &"x".repeat(64),
    ] {
        assert!(plain_request_id(ok.as_bytes()), "{ok}");
    }
    for bad in [
        "",
        &"x".repeat(65),
        &"x".repeat(350_000),
        "two words",
        "line\r\nbreak",
        "tab\t",
        "caf\u{e9}",
        "id;drop",
        "a/b",
        "\u{202e}evil",
    ] {
        assert!(!plain_request_id(bad.as_bytes()), "{bad:?}");
    }
}
