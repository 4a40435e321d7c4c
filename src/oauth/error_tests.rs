#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

#[test]
fn plain_descriptions_pass_unchanged_and_borrowed() {
    let d = "scope 'x' is unknown: see RFC 6749 section 3.3 (#1) [ok] ~!";
    assert!(matches!(sanitize_description(d), Cow::Borrowed(s) if s == d));
}

#[test]
fn characters_outside_rfc_6749_are_replaced() {
    assert_eq!(
        sanitize_description("must be JSON (RFC 7591 §3.1)"),
        "must be JSON (RFC 7591 section 3.1)"
    );
    assert_eq!(sanitize_description("§ 2"), "section 2");
    assert_eq!(
        sanitize_description("say \"no\" \\ back"),
        "say 'no' / back"
    );
    assert_eq!(
        sanitize_description("line\r\n\tnext\u{7f}\u{0}end"),
        "line next end"
    );
    assert_eq!(sanitize_description("caf\u{e9} \u{202e}rtl"), "caf? ?rtl");
    for raw in ["\"\\§\u{e9}\n\u{1b}[31m", "\u{feff}x\u{2028}y"] {
        assert!(sanitize_description(raw).chars().all(is_description_char));
    }
}

#[test]
fn wire_description_is_sanitized_and_omitted_when_empty() {
    let e = Error::AccessDenied("upstream said \"nope\"\n".to_owned());
    assert_eq!(
        e.wire_description().as_deref(),
        Some("upstream said 'nope'")
    );
    assert_eq!(
        Error::InvalidRequest("\n\t".to_owned()).wire_description(),
        None
    );
    assert_eq!(
        Error::server(anyhow::anyhow!("secret")).wire_description(),
        None
    );
}

#[test]
fn the_allowed_set_is_exactly_rfc_6749s() {
    let allowed: Vec<u8> = (0u8..=0x7f)
        .filter(|b| is_description_char(char::from(*b)))
        .collect();
    let expected: Vec<u8> = (0x20..=0x21)
        .chain(0x23..=0x5b)
        .chain(0x5d..=0x7e)
        .collect();
    assert_eq!(allowed, expected);
}
