#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use jsonwebtoken::{encode, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use serde_json::{json, Value};

use super::*;
use crate::oauth::grants::fixture_tests::{cipher, store as new_store, ISSUER, START};
use crate::store::KeyState;

fn claims(exp: i64) -> Value {
    json!({ "iss": ISSUER, "sub": "u1", "aud": "https://auth.example.com/mcp", "exp": exp, "iat": START, "jti": "j1" })
}

fn err_text(r: Result<Value>) -> String {
    match r {
        Err(Error::InvalidToken(why)) => why,
        other => panic!("expected invalid_token, got {other:?}"),
    }
}

#[tokio::test]
async fn creates_one_current_key_then_loads_it() {
    let (store, _dir) = new_store().await;
    let ring = KeyRing::load_or_create(store.as_ref(), &cipher(), START)
        .await
        .unwrap();
    let again = KeyRing::load_or_create(store.as_ref(), &cipher(), START)
        .await
        .unwrap();
    assert_eq!(ring.current_kid().unwrap(), again.current_kid().unwrap());
    let records = store.list_signing_keys().await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].state, KeyState::Current);
    assert_eq!(records[0].alg, "RS256");
    // The private key is sealed, never stored in the clear.
    assert!(records[0].private_sealed.starts_with("v1."));

    let jwks = ring.jwks();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let k = &keys[0];
    assert_eq!(
        (k["kty"].as_str(), k["alg"].as_str(), k["use"].as_str()),
        (Some("RSA"), Some("RS256"), Some("sig"))
    );
    assert_eq!(k["kid"].as_str().unwrap(), ring.current_kid().unwrap());
    assert_eq!(k["e"], "AQAB");
    // 2048-bit modulus: 256 bytes, 342 base64url characters.
    assert_eq!(k["n"].as_str().unwrap().len(), 342);
    // RFC 7638 thumbprint as kid.
    assert_eq!(
        thumbprint(k["n"].as_str().unwrap(), "AQAB"),
        ring.current_kid().unwrap()
    );
    assert!(
        k.get("d").is_none() && k.get("p").is_none(),
        "no private members published"
    );
}

#[tokio::test]
async fn concurrent_first_start_converges_on_one_key() {
    let (store, _dir) = new_store().await;
    let c = cipher();
    let (a, b) = tokio::join!(
        KeyRing::load_or_create(store.as_ref(), &c, START),
        KeyRing::load_or_create(store.as_ref(), &c, START)
    );
    assert_eq!(
        a.unwrap().current_kid().unwrap(),
        b.unwrap().current_kid().unwrap()
    );
    let current = store.list_signing_keys().await.unwrap();
    assert_eq!(
        current
            .iter()
            .filter(|k| k.state == KeyState::Current)
            .count(),
        1
    );
}

#[tokio::test]
async fn wrong_cipher_cannot_load_the_key() {
    let (store, _dir) = new_store().await;
    KeyRing::load_or_create(store.as_ref(), &cipher(), START)
        .await
        .unwrap();
    let other = crate::oauth::crypto::Cipher::new(&[9; 32], &[]);
    assert!(matches!(
        KeyRing::load_or_create(store.as_ref(), &other, START).await,
        Err(Error::Server(_))
    ));
}

#[tokio::test]
async fn sign_and_verify_with_the_clock() {
    let (store, _dir) = new_store().await;
    let ring = KeyRing::load_or_create(store.as_ref(), &cipher(), START)
        .await
        .unwrap();
    let jwt = ring.sign(START, AT_JWT_TYP, &claims(START + 60)).unwrap();
    let header = jsonwebtoken::decode_header(&jwt).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    assert_eq!(header.kid, Some(ring.current_kid().unwrap()));

    let got: Value = ring.verify(&jwt, ISSUER, START + 59).unwrap();
    assert_eq!(got["sub"], "u1");
    // exp is checked against the given time, not the system clock (START is in 2023).
    assert_eq!(
        err_text(ring.verify(&jwt, ISSUER, START + 60)),
        "token expired"
    );
    let late: Value = ring.verify_ignoring_expiry(&jwt, ISSUER).unwrap();
    assert_eq!(late["jti"], "j1");
    assert_eq!(
        err_text(ring.verify(&jwt, "https://other.example", START)),
        "wrong issuer"
    );

    let mut no_iss = claims(START + 60);
    no_iss.as_object_mut().unwrap().remove("iss");
    let jwt = ring.sign(START, AT_JWT_TYP, &no_iss).unwrap();
    assert_eq!(err_text(ring.verify(&jwt, ISSUER, START)), "wrong issuer");

    let jwt = ring.sign(START, "JWT", &claims(START + 60)).unwrap();
    assert_eq!(
        err_text(ring.verify(&jwt, ISSUER, START)),
        "not an access token"
    );

    let mut future = claims(START + 120);
    future["nbf"] = json!(START + 60);
    let jwt = ring.sign(START, AT_JWT_TYP, &future).unwrap();
    assert_eq!(
        err_text(ring.verify(&jwt, ISSUER, START)),
        "token not yet valid"
    );
    assert!(ring.verify::<Value>(&jwt, ISSUER, START + 60).is_ok());

    assert_eq!(
        err_text(ring.verify("not.a.jwt", ISSUER, START)),
        "malformed token"
    );
}

#[tokio::test]
async fn foreign_and_forged_tokens_are_refused() {
    let (store, _dir) = new_store().await;
    let ring = KeyRing::load_or_create(store.as_ref(), &cipher(), START)
        .await
        .unwrap();
    let (other_store, _other_dir) = new_store().await;
    let foreign = KeyRing::load_or_create(other_store.as_ref(), &cipher(), START)
        .await
        .unwrap();

    // Signed by a key we never published.
    let jwt = foreign
        .sign(START, AT_JWT_TYP, &claims(START + 60))
        .unwrap();
    assert_eq!(err_text(ring.verify(&jwt, ISSUER, START)), "unknown key");

    // Signed by another key but claiming our kid.
    let rogue = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).unwrap();
    let rogue = EncodingKey::from_rsa_der(rogue.to_pkcs1_der().unwrap().as_bytes());
    let mut header = Header::new(Algorithm::RS256);
    header.typ = Some("at+jwt".to_owned());
    header.kid = Some(ring.current_kid().unwrap());
    let jwt = encode(&header, &claims(START + 60), &rogue).unwrap();
    assert_eq!(err_text(ring.verify(&jwt, ISSUER, START)), "bad signature");

    // HS256 "signed" with our public modulus, a classic algorithm confusion.
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".to_owned());
    header.kid = Some(ring.current_kid().unwrap());
    let n = ring.jwks()["keys"][0]["n"].as_str().unwrap().to_owned();
    let jwt = encode(
        &header,
        &claims(START + 60),
        &EncodingKey::from_secret(n.as_bytes()),
    )
    .unwrap();
    assert_eq!(
        err_text(ring.verify(&jwt, ISSUER, START)),
        "unsupported alg"
    );

    // alg none: header swapped, signature dropped.
    let good = ring.sign(START, AT_JWT_TYP, &claims(START + 60)).unwrap();
    let parts: Vec<&str> = good.split('.').collect();
    let none_header = URL_SAFE_NO_PAD.encode(
        json!({ "alg": "none", "typ": "at+jwt", "kid": ring.current_kid().unwrap() }).to_string(),
    );
    let jwt = format!("{none_header}.{}.", parts[1]);
    assert!(ring.verify::<Value>(&jwt, ISSUER, START).is_err());

    // A tampered payload under a valid signature.
    let evil = URL_SAFE_NO_PAD.encode(claims(START + 9999).to_string());
    let jwt = format!("{}.{evil}.{}", parts[0], parts[2]);
    assert_eq!(err_text(ring.verify(&jwt, ISSUER, START)), "bad signature");
}

#[tokio::test]
async fn rotation_keeps_old_tokens_valid_and_publishes_both() {
    let (store, _dir) = new_store().await;
    let c = cipher();
    let ring = KeyRing::load_or_create(store.as_ref(), &c, START)
        .await
        .unwrap();
    let old_kid = ring.current_kid().unwrap();
    let before = ring.sign(START, AT_JWT_TYP, &claims(START + 3600)).unwrap();

    // Staged: published, not signing.
    let next = KeyRing::stage_next(store.as_ref(), &c, START + 10)
        .await
        .unwrap();
    assert_eq!(
        KeyRing::stage_next(store.as_ref(), &c, START + 11)
            .await
            .unwrap(),
        next,
        "idempotent"
    );
    ring.reload(store.as_ref(), &c, START + 10).await.unwrap();
    assert_eq!(ring.current_kid().unwrap(), old_kid);
    assert_eq!(ring.jwks()["keys"].as_array().unwrap().len(), 2);

    // Promoted: the new key signs, the old one is retired but still verifies.
    assert_eq!(
        KeyRing::promote_next(store.as_ref(), START + 20)
            .await
            .unwrap(),
        Some(next.clone())
    );
    assert_eq!(
        KeyRing::promote_next(store.as_ref(), START + 21)
            .await
            .unwrap(),
        None
    );
    ring.reload(store.as_ref(), &c, START + 20).await.unwrap();
    assert_eq!(ring.current_kid().unwrap(), next);
    let kids: Vec<String> = ring.jwks()["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    assert!(kids.contains(&old_kid) && kids.contains(&next) && kids.len() == 2);
    assert!(ring.verify::<Value>(&before, ISSUER, START + 30).is_ok());
    let after = ring.sign(START, AT_JWT_TYP, &claims(START + 3600)).unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(&after).unwrap().kid,
        Some(next.clone())
    );

    // One-shot rotation; a fresh process sees all three keys.
    KeyRing::rotate(store.as_ref(), &c, START + 40)
        .await
        .unwrap();
    let fresh = KeyRing::load_or_create(store.as_ref(), &c, START + 40)
        .await
        .unwrap();
    assert_ne!(fresh.current_kid().unwrap(), next);
    assert_eq!(fresh.jwks()["keys"].as_array().unwrap().len(), 3);
    assert!(fresh.verify::<Value>(&before, ISSUER, START + 50).is_ok());
    assert!(fresh.verify::<Value>(&after, ISSUER, START + 50).is_ok());
    let states: Vec<KeyState> = store
        .list_signing_keys()
        .await
        .unwrap()
        .iter()
        .map(|k| k.state)
        .collect();
    assert_eq!(
        states.iter().filter(|s| **s == KeyState::Current).count(),
        1
    );
    assert_eq!(
        states.iter().filter(|s| **s == KeyState::Retired).count(),
        2
    );
}

#[tokio::test]
async fn debug_does_not_show_key_material() {
    let (store, _dir) = new_store().await;
    let ring = KeyRing::load_or_create(store.as_ref(), &cipher(), START)
        .await
        .unwrap();
    let shown = format!("{ring:?}");
    assert!(
        shown.contains(&ring.current_kid().unwrap()) && shown.len() < 200,
        "{shown}"
    );
}

/// Issue 15: a rotated key signs only once it has been published for `publish_after` (two
/// reload intervals), so every replica has loaded it before any token it signed exists. Until
/// then the previous key, published long enough, signs.
#[tokio::test]
async fn a_new_key_signs_only_after_the_publish_delay() {
    let (store, _dir) = new_store().await;
    let c = cipher();
    let ring = KeyRing::load_or_create_with(store.as_ref(), &c, START, 120)
        .await
        .unwrap();
    let first = ring.current_kid().unwrap();
    // The very first key signs at once: nothing else could.
    assert_eq!(ring.signing_kid(START).unwrap(), first);

    KeyRing::rotate(store.as_ref(), &c, START + 200)
        .await
        .unwrap();
    ring.reload(store.as_ref(), &c, START + 200).await.unwrap();
    let newest = ring.current_kid().unwrap();
    assert_ne!(newest, first);
    for at in [START + 200, START + 319] {
        let jwt = ring.sign(at, AT_JWT_TYP, &claims(START + 3600)).unwrap();
        assert_eq!(
            jsonwebtoken::decode_header(&jwt).unwrap().kid,
            Some(first.clone())
        );
    }
    // Both are published meanwhile.
    assert_eq!(ring.jwks()["keys"].as_array().unwrap().len(), 2);
    // From created_at + 120 on, without another reload.
    let jwt = ring
        .sign(START + 320, AT_JWT_TYP, &claims(START + 3600))
        .unwrap();
    assert_eq!(
        jsonwebtoken::decode_header(&jwt).unwrap().kid,
        Some(newest.clone())
    );
    assert!(ring.verify::<Value>(&jwt, ISSUER, START + 330).is_ok());

    // Two rotations in a row: neither new key has been published long enough, so the key
    // every replica has had longest (the first) signs until the newest one may.
    KeyRing::rotate(store.as_ref(), &c, START + 400)
        .await
        .unwrap();
    KeyRing::rotate(store.as_ref(), &c, START + 401)
        .await
        .unwrap();
    ring.reload(store.as_ref(), &c, START + 401).await.unwrap();
    assert_eq!(
        ring.signing_kid(START + 401).unwrap(),
        newest,
        "published since START + 200"
    );
    let latest = ring.current_kid().unwrap();
    assert_eq!(ring.signing_kid(START + 521).unwrap(), latest);
}
