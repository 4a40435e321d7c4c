use super::decode_header_value;

#[test]
fn plain_values_pass_and_the_base64_form_is_decoded() {
    assert_eq!(decode_header_value("whoami").as_deref(), Some("whoami"));
    // "héllo" as UTF-8, base64.
    assert_eq!(
        decode_header_value("=?base64?aMOpbGxv?=").as_deref(),
        Some("héllo")
    );
    assert_eq!(decode_header_value("=?base64?not base64!?="), None);
    // Valid base64 of bytes that are not UTF-8.
    assert_eq!(decode_header_value("=?base64?/w==?="), None);
    // Only the whole form counts.
    assert_eq!(
        decode_header_value("=?base64?aMOpbGxv").as_deref(),
        Some("=?base64?aMOpbGxv")
    );
}
