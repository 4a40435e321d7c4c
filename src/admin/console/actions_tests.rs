use super::local;

#[test]
fn only_console_paths_are_followed_back() {
    assert!(local("/admin/users/u1"));
    assert!(local("/admin/grants?user_id=u1"));
    for bad in [
        "//evil.example/",
        "/admin//evil",
        "https://evil.example/admin/",
        "/\\evil",
        "/admin/\\evil",
        "/other",
        "/admin/a b",
    ] {
        assert!(!local(bad), "{bad}");
    }
}
