#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use serde_json::{json, Value};

use super::*;
use crate::clock::ManualClock;
use crate::oauth::grants::fixture_tests::{cipher, store as new_store, ISSUER, START};
use crate::store::KeyState;

const RS256: SigningAlgorithm = SigningAlgorithm::Rs256;

/// A fresh ring of `alg` (what a server configured with it starts with).
async fn ring_of(store: &dyn Store, alg: SigningAlgorithm, publish_after: i64) -> KeyRing {
    KeyRing::start(
        store,
        &cipher(),
        &ManualClock::new(START),
        publish_after,
        Some(alg),
    )
    .await
    .unwrap()
}

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
    let ring = ring_of(store.as_ref(), RS256, 0).await;
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
    let params = PublicParams::from_jwk(RS256, k).unwrap();
    assert_eq!(params.thumbprint(), ring.current_kid().unwrap());
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
    let ring = ring_of(store.as_ref(), RS256, 0).await;
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
        "alg does not match the key"
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
    let next = KeyRing::stage_next(store.as_ref(), &c, RS256, START + 10)
        .await
        .unwrap();
    assert_eq!(
        KeyRing::stage_next(store.as_ref(), &c, RS256, START + 11)
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
    KeyRing::rotate(store.as_ref(), &c, RS256, START + 40)
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

    KeyRing::rotate(store.as_ref(), &c, RS256, START + 200)
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
    KeyRing::rotate(store.as_ref(), &c, RS256, START + 400)
        .await
        .unwrap();
    KeyRing::rotate(store.as_ref(), &c, RS256, START + 401)
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

/// RFC 8037 Appendix A.3: the Ed25519 example key's RFC 7638 thumbprint.
#[test]
fn okp_thumbprint_matches_rfc_8037() {
    let key = PublicParams::Okp {
        x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo".into(),
    };
    assert_eq!(
        key.thumbprint(),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
}

/// Issue 15: each algorithm signs and verifies, publishes the JWK of its kind (RFC 7518 §6.2,
/// RFC 8037 §2), with its RFC 7638 thumbprint as kid.
#[tokio::test]
async fn each_algorithm_signs_verifies_and_publishes_its_jwk() {
    for alg in SigningAlgorithm::ALL {
        let (store, _dir) = new_store().await;
        let ring = ring_of(store.as_ref(), alg, 0).await;
        let kid = ring.current_kid().unwrap();
        assert_eq!(
            store.list_signing_keys().await.unwrap()[0].alg,
            alg.as_str()
        );
        let jwt = ring.sign(START, AT_JWT_TYP, &claims(START + 60)).unwrap();
        let header = jsonwebtoken::decode_header(&jwt).unwrap();
        assert_eq!(header.alg, alg.jwt_algorithm(), "{alg}");
        assert_eq!(header.kid.as_deref(), Some(kid.as_str()));
        let got: Value = ring.verify(&jwt, ISSUER, START + 1).unwrap();
        assert_eq!(got["sub"], "u1");
        assert_eq!(ring.signing_algorithm(START).unwrap(), alg);

        let jwk = &ring.jwks()["keys"][0];
        let b64_len = |m: &str| {
            URL_SAFE_NO_PAD
                .decode(jwk[m].as_str().unwrap())
                .unwrap()
                .len()
        };
        assert_eq!(
            (jwk["alg"].as_str(), jwk["use"].as_str()),
            (Some(alg.as_str()), Some("sig"))
        );
        let mut members: Vec<&str> = jwk
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        members.sort_unstable();
        match alg {
            SigningAlgorithm::Rs256 => {
                assert_eq!(members, ["alg", "e", "kid", "kty", "n", "use"]);
                assert_eq!((jwk["kty"].as_str(), b64_len("n")), (Some("RSA"), 256));
            }
            SigningAlgorithm::Es256 => {
                assert_eq!(members, ["alg", "crv", "kid", "kty", "use", "x", "y"]);
                assert_eq!(
                    (jwk["kty"].as_str(), jwk["crv"].as_str()),
                    (Some("EC"), Some("P-256"))
                );
                assert_eq!((b64_len("x"), b64_len("y")), (32, 32));
                // RFC 7518 §3.4: R || S, 32 bytes each.
                let sig = jwt.rsplit('.').next().unwrap();
                assert_eq!(URL_SAFE_NO_PAD.decode(sig).unwrap().len(), 64);
            }
            SigningAlgorithm::EdDsa => {
                assert_eq!(members, ["alg", "crv", "kid", "kty", "use", "x"]);
                assert_eq!(
                    (jwk["kty"].as_str(), jwk["crv"].as_str()),
                    (Some("OKP"), Some("Ed25519"))
                );
                assert_eq!(b64_len("x"), 32);
            }
        }
        let params = PublicParams::from_jwk(alg, jwk).unwrap();
        assert_eq!(params.thumbprint(), kid);
        // A JWK of another kind is not read as this algorithm's.
        for other in SigningAlgorithm::ALL.into_iter().filter(|o| *o != alg) {
            assert!(PublicParams::from_jwk(other, jwk).is_none());
        }

        // jsonwebtoken verifies it from the published JWK alone.
        let decoding =
            jsonwebtoken::DecodingKey::from_jwk(&serde_json::from_value(jwk.clone()).unwrap())
                .unwrap();
        let mut validation = jsonwebtoken::Validation::new(alg.jwt_algorithm());
        validation.validate_exp = false;
        validation.validate_aud = false;
        assert!(
            jsonwebtoken::decode::<Value>(&jwt, &decoding, &validation).is_ok(),
            "{alg}"
        );
    }
}

/// A token whose header names another algorithm than its key's is refused, whatever signed it.
#[tokio::test]
async fn the_header_cannot_choose_the_algorithm() {
    for alg in SigningAlgorithm::ALL {
        let (store, _dir) = new_store().await;
        let ring = ring_of(store.as_ref(), alg, 0).await;
        let kid = ring.current_kid().unwrap();
        let good = ring.sign(START, AT_JWT_TYP, &claims(START + 60)).unwrap();
        let parts: Vec<&str> = good.split('.').collect();

        // HS256 keyed with the public key's bytes (the JWKS text, and its raw members).
        let jwk = ring.jwks()["keys"][0].clone();
        let member = if alg == RS256 { "n" } else { "x" };
        let raw = URL_SAFE_NO_PAD
            .decode(jwk[member].as_str().unwrap())
            .unwrap();
        for secret in [jwk.to_string().into_bytes(), raw] {
            let mut header = Header::new(Algorithm::HS256);
            header.typ = Some(AT_JWT_TYP.to_owned());
            header.kid = Some(kid.clone());
            let jwt = encode(
                &header,
                &claims(START + 60),
                &EncodingKey::from_secret(&secret),
            )
            .unwrap();
            assert_eq!(
                err_text(ring.verify(&jwt, ISSUER, START)),
                "alg does not match the key"
            );
        }

        // alg none, signature dropped.
        let none = URL_SAFE_NO_PAD
            .encode(json!({ "alg": "none", "typ": "at+jwt", "kid": kid }).to_string());
        assert!(ring
            .verify::<Value>(&format!("{none}.{}.", parts[1]), ISSUER, START)
            .is_err());

        // Every other asymmetric algorithm, signed by a key of that kind, on our kid.
        for other in SigningAlgorithm::ALL.into_iter().filter(|o| *o != alg) {
            let der = crate::oauth::signing_alg::generate_pkcs8(other).unwrap();
            let (signer, _) = crate::oauth::signing_alg::open_pkcs8(other, &der).unwrap();
            let header = crate::oauth::signing_alg::jws_header(other, AT_JWT_TYP, &kid);
            let jwt = signer.sign_jws(&header, &claims(START + 60)).unwrap();
            assert_eq!(
                err_text(ring.verify(&jwt, ISSUER, START)),
                "alg does not match the key",
                "{other} header on a {alg} key"
            );
        }

        // Our own valid signature under a header re-labelled with another algorithm.
        for other in SigningAlgorithm::ALL.into_iter().filter(|o| *o != alg) {
            let relabelled = URL_SAFE_NO_PAD
                .encode(crate::oauth::signing_alg::jws_header(other, AT_JWT_TYP, &kid).to_string());
            let jwt = format!("{relabelled}.{}.{}", parts[1], parts[2]);
            assert!(ring.verify::<Value>(&jwt, ISSUER, START).is_err());
        }
    }
}

/// Issue 15: configuring another algorithm rotates at start: the new key signs after the
/// publish delay, the old key stays published and its tokens keep verifying (a mixed ring);
/// the switch is audited once, and a second start does nothing.
#[tokio::test]
async fn switching_algorithm_rotates_once_and_keeps_old_tokens() {
    let (store, _dir) = new_store().await;
    let c = cipher();
    let old = ring_of(store.as_ref(), RS256, 120).await;
    let old_kid = old.current_kid().unwrap();
    let rs_token = old.sign(START, AT_JWT_TYP, &claims(START + 3600)).unwrap();

    let clock = ManualClock::new(START + 10);
    let es = SigningAlgorithm::Es256;
    // Two replicas start at once with the new setting: one switch between them.
    let (a, b) = tokio::join!(
        KeyRing::start(store.as_ref(), &c, &clock, 120, Some(es)),
        KeyRing::start(store.as_ref(), &c, &clock, 120, Some(es)),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let new_kid = a.current_kid().unwrap();
    assert_eq!(b.current_kid().unwrap(), new_kid);
    assert_ne!(new_kid, old_kid);
    let records = store.list_signing_keys().await.unwrap();
    assert_eq!(records.len(), 2, "one new key");
    let new = records.iter().find(|k| k.kid == new_kid).unwrap();
    assert_eq!((new.alg.as_str(), new.state), ("ES256", KeyState::Current));
    let switched = store.list_audit_events(50).await.unwrap();
    let switched: Vec<_> = switched
        .iter()
        .filter(|e| e.kind == "signing_algorithm_switched")
        .collect();
    assert_eq!(switched.len(), 1);

    // Until published for the delay the RS256 key signs; then the ES256 key.
    assert_eq!(a.signing_kid(START + 129).unwrap(), old_kid);
    assert_eq!(a.signing_algorithm(START + 129).unwrap(), RS256);
    let es_token = a
        .sign(START + 130, AT_JWT_TYP, &claims(START + 3600))
        .unwrap();
    let header = jsonwebtoken::decode_header(&es_token).unwrap();
    assert_eq!(
        (header.alg, header.kid),
        (Algorithm::ES256, Some(new_kid.clone()))
    );
    // Both published, both verify, each with its own algorithm only.
    assert_eq!(a.jwks()["keys"].as_array().unwrap().len(), 2);
    for ring in [&a, &b] {
        assert!(ring.verify::<Value>(&rs_token, ISSUER, START + 200).is_ok());
        assert!(ring.verify::<Value>(&es_token, ISSUER, START + 200).is_ok());
    }

    // Restarting with the same setting, or with none, changes nothing.
    for configured in [Some(es), None] {
        KeyRing::start(store.as_ref(), &c, &clock, 120, configured)
            .await
            .unwrap();
    }
    assert_eq!(store.list_signing_keys().await.unwrap().len(), 2);

    // Unset, a rotation keeps the current key's algorithm.
    let (_, activated) =
        KeyRing::rotate_audited(store.as_ref(), &c, &clock, None, true, true, |_, _| {
            AuditEvent::new("signing_key_rotated", START)
        })
        .await
        .unwrap();
    let rotated = store.list_signing_keys().await.unwrap();
    let rotated = rotated
        .iter()
        .find(|k| Some(&k.kid) == activated.as_ref())
        .unwrap();
    assert_eq!(rotated.alg, "ES256");
}

/// A staged key of another algorithm is the operator's: no switch over it.
#[tokio::test]
async fn no_switch_over_a_staged_key_of_another_algorithm() {
    let (store, _dir) = new_store().await;
    let c = cipher();
    ring_of(store.as_ref(), SigningAlgorithm::Es256, 0).await;
    let staged = KeyRing::stage_next(store.as_ref(), &c, SigningAlgorithm::EdDsa, START)
        .await
        .unwrap();
    let clock = ManualClock::new(START);
    assert_eq!(
        KeyRing::switch_algorithm(store.as_ref(), &c, &clock, RS256)
            .await
            .unwrap(),
        None
    );
    let records = store.list_signing_keys().await.unwrap();
    assert_eq!(records.len(), 2);
    assert!(records
        .iter()
        .any(|k| k.kid == staged && k.state == KeyState::Next));
}
