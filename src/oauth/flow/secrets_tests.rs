#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::*;
use crate::store::ClientKind;

fn request(client: &ClientRecord) -> AuthRequestRecord {
    AuthRequestRecord {
        id_hash: "h".into(),
        client_id: client.client_id.clone(),
        redirect_uri: "http://127.0.0.1:5000/cb".into(),
        redirect_uri_sent: true,
        client_state: None,
        code_challenge: "c".into(),
        scope: "mcp".into(),
        resource: "https://mcp.example.com/mcp".into(),
        upstream_id: "okta".into(),
        browser_hash: "b".into(),
        csrf_hash: "x".into(),
        extra: Some(serde_json::json!({ CLIENT_DIGEST_KEY: client_digest(client) }).to_string()),
        created_at: 0,
        expires_at: 1,
        upstream: None,
    }
}

/// COMPAT C23: the remembered-consent MAC changes with the client's metadata, so an approval
/// given to one version of a metadata document does not skip the page for another.
#[test]
fn consent_mac_covers_the_client_metadata() {
    let cipher = Cipher::new(&[1u8; 32], &[]);
    let client = ClientRecord {
        kind: ClientKind::Cimd,
        ..ClientRecord::test_public("https://c.example.com/client.json")
    };
    let base = consent_mac(&cipher, "browser", &request(&client));
    assert_eq!(base, consent_mac(&cipher, "browser", &request(&client)));
    let changes: [fn(&mut ClientRecord); 5] = [
        |c| c.redirect_uris.push("https://attacker.example/cb".into()),
        |c| c.client_name = Some("Other".into()),
        |c| c.logo_uri = Some("https://c.example.com/logo.png".into()),
        |c| c.client_uri = Some("https://c.example.com".into()),
        |c| c.kind = ClientKind::Dcr,
    ];
    for change in changes {
        let mut changed = client.clone();
        change(&mut changed);
        assert_ne!(base, consent_mac(&cipher, "browser", &request(&changed)));
    }
    // The prompt kept beside the digest does not change it.
    let mut with_prompt = request(&client);
    let mut extra: serde_json::Value =
        serde_json::from_str(with_prompt.extra.as_deref().unwrap()).unwrap();
    extra["prompt"] = serde_json::json!("login");
    with_prompt.extra = Some(extra.to_string());
    assert_eq!(base, consent_mac(&cipher, "browser", &with_prompt));
    assert_ne!(
        base,
        consent_mac(&cipher, "other-browser", &request(&client))
    );
}

/// A fresh leg's secrets open only with the associated data it was sealed with, and its state
/// hash is the hash of its state: an `/account` sign-in's row cannot stand in for an MCP
/// client's pending request, nor the other way round.
#[test]
fn fresh_leg_seals_to_the_callers_associated_data() {
    let cipher = Cipher::new(&[2u8; 32], &[]);
    let leg = fresh_leg(&cipher, |h| format!("account_login:{h}").into_bytes()).unwrap();
    assert_eq!(leg.state_hash, crypto::hash(&leg.state));
    let aad = format!("account_login:{}", leg.state_hash).into_bytes();
    let plain = cipher.open(&leg.sealed, &aad).unwrap();
    let secrets: UpstreamSecrets = serde_json::from_slice(&plain).unwrap();
    assert_eq!(secrets.nonce, leg.nonce);
    assert!(cipher
        .open(&leg.sealed, &secrets_aad(&leg.state_hash))
        .is_err());
    let request = leg.request(true, None);
    assert_eq!(request.state, leg.state);
    assert!(request.force_login);
    let other = fresh_leg(&cipher, |_| Vec::new()).unwrap();
    assert_ne!(other.state, leg.state);
    assert_ne!(other.nonce, leg.nonce);
}
