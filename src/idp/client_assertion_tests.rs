#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use rsa::pkcs8::{EncodePrivateKey as _, EncodePublicKey as _};
use secrecy::SecretString;

use super::*;

fn config(thumbprint: Option<&str>) -> (UpstreamConfig, rsa::RsaPrivateKey) {
    let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
    let pem = key.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap();
    let mut c: UpstreamConfig = serde_json::from_value(serde_json::json!({
        "id": "entra", "kind": "entra", "client_id": "app-id",
        "issuer": "https://login.microsoftonline.com/t/v2.0",
        "client_auth": "private_key_jwt",
        "certificate_thumbprint": thumbprint,
    }))
    .unwrap();
    c.private_key_pem = Some(SecretString::from(pem.to_string()));
    (c, key)
}

fn decode(jwt: &str, key: &rsa::RsaPrivateKey) -> (Header, serde_json::Value) {
    let public = key
        .to_public_key()
        .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
        .unwrap();
    let mut v = jsonwebtoken::Validation::new(Algorithm::RS256);
    v.set_audience(&["https://idp.example/token"]);
    v.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    v.validate_exp = false;
    let data = jsonwebtoken::decode::<serde_json::Value>(
        jwt,
        &jsonwebtoken::DecodingKey::from_rsa_pem(public.as_bytes()).unwrap(),
        &v,
    )
    .unwrap();
    (data.header, data.claims)
}

#[test]
fn the_assertion_is_rfc_7523_and_names_the_sha1_certificate() {
    let (c, key) = config(Some("5DE05F2A00112233445566778899AABBCCDDEEFF"));
    let signer = ClientAssertion::for_config(&c).unwrap().unwrap();
    let [(t, ty), (a, jwt)] = signer.params("https://idp.example/token", 1000).unwrap();
    assert_eq!((t, ty.as_str()), ("client_assertion_type", ASSERTION_TYPE));
    assert_eq!(a, "client_assertion");
    let (header, claims) = decode(&jwt, &key);
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.x5t.as_deref(), Some("XeBfKgARIjNEVWZ3iJmqu8zd7v8"));
    assert_eq!(header.x5t_s256, None);
    assert_eq!(claims["iss"], "app-id");
    assert_eq!(claims["sub"], "app-id");
    assert_eq!(claims["aud"], "https://idp.example/token");
    assert_eq!(
        (claims["iat"].as_i64(), claims["exp"].as_i64()),
        (Some(1000), Some(1300))
    );
    // A fresh jti each time.
    let [_, (_, again)] = signer.params("https://idp.example/token", 1000).unwrap();
    assert_ne!(decode(&again, &key).1["jti"], claims["jti"]);
}

#[test]
fn a_sha256_thumbprint_goes_in_x5t_s256() {
    let hex64 = "ab".repeat(32);
    let (c, key) = config(Some(&hex64));
    let signer = ClientAssertion::for_config(&c).unwrap().unwrap();
    let [_, (_, jwt)] = signer.params("https://idp.example/token", 1000).unwrap();
    let (header, _) = decode(&jwt, &key);
    assert_eq!(header.x5t, None);
    assert_eq!(header.x5t_s256.map(|s| s.len()), Some(43));
}

#[test]
fn a_secret_upstream_has_no_signer() {
    let (mut c, _) = config(None);
    c.client_auth = UpstreamClientAuth::ClientSecretBasic;
    assert!(ClientAssertion::for_config(&c).unwrap().is_none());
}
