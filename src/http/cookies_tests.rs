#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;

fn attributes(value: &HeaderValue) -> Vec<String> {
    value
        .to_str()
        .unwrap()
        .split(';')
        .map(|a| a.trim().to_ascii_lowercase())
        .collect()
}

/// Issue 11, finding 9: "don't ask again" must outlive the browser session, so the binding
/// cookie the approval is keyed to gets the same Max-Age as the consent cookie.
#[test]
fn remembered_consent_and_binding_cookie_share_one_lifetime() {
    for secure in [true, false] {
        let (browser, fresh) = ensure(&HeaderMap::new(), secure);
        let fresh = attributes(&fresh.unwrap());
        assert!(!fresh.iter().any(|a| a.starts_with("max-age")), "{fresh:?}");

        let persisted = attributes(&persist(&browser, secure).unwrap());
        let remembered = attributes(&remember(&HeaderMap::new(), secure, &"m".repeat(22)).unwrap());
        assert_eq!(
            persisted[0],
            format!("{}={}", name(secure), browser).to_ascii_lowercase()
        );
        let max_age = format!("max-age={REMEMBER_SECONDS}");
        for attrs in [&persisted, &remembered] {
            assert!(attrs.contains(&max_age), "{attrs:?}");
            assert!(attrs.contains(&"httponly".to_owned()), "{attrs:?}");
            assert!(attrs.contains(&"samesite=lax".to_owned()), "{attrs:?}");
            assert!(attrs.contains(&"path=/".to_owned()), "{attrs:?}");
            assert_eq!(attrs.contains(&"secure".to_owned()), secure, "{attrs:?}");
            assert!(!attrs.iter().any(|a| a.starts_with("domain")), "{attrs:?}");
        }
        assert_eq!(REMEMBER_SECONDS, 30 * 24 * 3600);
    }
}
