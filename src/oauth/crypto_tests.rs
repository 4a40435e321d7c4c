use super::*;

#[test]
fn seal_open_round_trip_and_rotation() {
    let old = Cipher::new(&[1; 32], &[]);
    let sealed = old.seal(b"upstream tokens", b"grant:1").unwrap();
    assert!(sealed.starts_with(&format!("v1.{}.", old.current_kid())));
    assert_eq!(old.open(&sealed, b"grant:1").unwrap(), b"upstream tokens");
    assert!(matches!(
        old.open(&sealed, b"grant:2"),
        Err(CryptoError::Decrypt)
    ));
    let rotated = Cipher::new(&[2; 32], &[[1; 32]]);
    assert_eq!(
        rotated.open(&sealed, b"grant:1").unwrap(),
        b"upstream tokens"
    );
    let fresh = Cipher::new(&[2; 32], &[]);
    assert!(matches!(
        fresh.open(&sealed, b"grant:1"),
        Err(CryptoError::UnknownKey(_))
    ));
    assert!(matches!(
        fresh.open("v1.x", b""),
        Err(CryptoError::Malformed)
    ));
    assert!(matches!(
        fresh.open("garbage", b""),
        Err(CryptoError::Malformed)
    ));
}

#[test]
fn macs_depend_on_key_purpose_and_boundaries() {
    let a = Cipher::new(&[1; 32], &[]);
    let b = Cipher::new(&[2; 32], &[]);
    let m = a.mac("consent", &["ab", "c"]);
    assert_eq!(m.len(), 22);
    assert_eq!(m, a.mac("consent", &["ab", "c"]));
    assert_ne!(m, a.mac("consent", &["a", "bc"]));
    assert_ne!(m, a.mac("other", &["ab", "c"]));
    assert_ne!(m, b.mac("consent", &["ab", "c"]));
}

#[test]
fn token_sealing_needs_the_token() {
    let sealed = seal_with_token("dcrb_rt_a", b"pair").unwrap();
    assert_eq!(open_with_token("dcrb_rt_a", &sealed).unwrap(), b"pair");
    assert!(open_with_token("dcrb_rt_b", &sealed).is_err());
    assert!(open_with_token("dcrb_rt_a", &sealed[..10]).is_err());
}

#[test]
fn secrets_are_prefixed_random_and_hashable() {
    let a = new_secret(REFRESH_PREFIX);
    let b = new_secret(REFRESH_PREFIX);
    assert!(a.starts_with(REFRESH_PREFIX) && a.len() > 40);
    assert_ne!(a, b);
    assert_eq!(hash(&a).len(), 64);
    assert_eq!(hash(&a), hash(&a));
    assert!(ct_eq(b"abc", b"abc") && !ct_eq(b"abc", b"abd") && !ct_eq(b"a", b"ab"));
}
