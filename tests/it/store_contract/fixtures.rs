//! Records and set-ups shared by the contract tests. Times are fixed (`T0`) so expiry and grace
//! windows are exact.

use dcr_bridge::store::{
    AccessTokenRecord, AuditEvent, AuthCodeRecord, AuthRequestRecord, ClientKind, ClientRecord,
    FamilyRecord, GrantRecord, RedeemOutcome, RefreshTokenRecord, RotateOutcome, Store, UserRecord,
};

pub const T0: i64 = 1_700_000_000;
pub const GRACE: i64 = 30;
pub const RESOURCE: &str = "https://mcp.example.com/";
/// The issuer users come from, unless a test says otherwise.
pub const ISSUER: &str = "https://idp.example.com";

pub fn audit(kind: &str) -> AuditEvent {
    AuditEvent::new(kind, T0)
}

pub fn client(id: &str) -> ClientRecord {
    ClientRecord {
        client_id: id.into(),
        kind: ClientKind::Dcr,
        secret_hash: None,
        token_endpoint_auth_method: "none".into(),
        redirect_uris: vec!["http://127.0.0.1/callback".into()],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        response_types: vec!["code".into()],
        application_type: "native".into(),
        client_name: Some("Test client".into()),
        client_uri: None,
        logo_uri: None,
        scope: None,
        contacts: vec![],
        software_id: None,
        software_version: None,
        registration_token_hash: Some("rat-hash".into()),
        upstream_id: "dev".into(),
        created_at: T0,
        updated_at: T0,
        last_used_at: None,
        disabled: false,
        managed_by: dcr_bridge::store::ManagedBy::Client,
        last_error: None,
    }
}

pub fn user(subject: &str) -> UserRecord {
    UserRecord {
        id: uuid::Uuid::new_v4().to_string(),
        upstream_id: "dev".into(),
        issuer: ISSUER.into(),
        subject: subject.into(),
        email: Some(format!("{subject}@example.com")),
        name: None,
        groups: vec!["staff".into()],
        created_at: T0,
        last_login_at: T0,
    }
}

pub fn grant(user_id: &str, client_id: &str, scope: &str) -> GrantRecord {
    GrantRecord {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: user_id.into(),
        client_id: client_id.into(),
        resource: RESOURCE.into(),
        scope: scope.into(),
        upstream_tokens: Some("sealed-upstream".into()),
        created_at: T0,
        updated_at: T0,
        revoked_at: None,
    }
}

pub fn code(hash: &str, g: &GrantRecord, expires_at: i64) -> AuthCodeRecord {
    AuthCodeRecord {
        code_hash: hash.into(),
        grant_id: g.id.clone(),
        client_id: g.client_id.clone(),
        user_id: g.user_id.clone(),
        redirect_uri: "http://127.0.0.1/callback".into(),
        redirect_uri_sent: true,
        code_challenge: "challenge".into(),
        scope: g.scope.clone(),
        resource: g.resource.clone(),
        created_at: T0,
        expires_at,
        used_at: None,
        family_id: None,
    }
}

pub fn family(grant_id: &str) -> FamilyRecord {
    FamilyRecord {
        id: uuid::Uuid::new_v4().to_string(),
        grant_id: grant_id.into(),
        client_id: "c1".into(),
        scope: String::new(),
        created_at: T0,
        revoked_at: None,
    }
}

pub fn refresh(hash: &str, family_id: &str, now: i64) -> RefreshTokenRecord {
    RefreshTokenRecord {
        token_hash: hash.into(),
        family_id: family_id.into(),
        parent_hash: None,
        created_at: now,
        expires_at: now + 3600,
        used_at: None,
    }
}

pub fn access(jti: &str, family_id: &str, grant_id: &str, now: i64) -> AccessTokenRecord {
    AccessTokenRecord {
        jti: jti.into(),
        family_id: family_id.into(),
        grant_id: grant_id.into(),
        client_id: "c1".into(),
        created_at: now,
        expires_at: now + 300,
        revoked_at: None,
    }
}

/// Client `c1`, a user, an active grant and a code `code-1` for it.
pub async fn granted(store: &dyn Store) -> GrantRecord {
    store
        .insert_client(&client("c1"), &audit("registered"))
        .await
        .unwrap();
    let user_id = store.upsert_user(&user("alice")).await.unwrap();
    let mut g = grant(&user_id, "c1", "read");
    g.id = store
        .grant_and_issue_code(&g, &code("code-1", &g, T0 + 60), &audit("consented"))
        .await
        .unwrap();
    g
}

/// What `issued` set up: a redeemed code with refresh token `rt-0` and access token `at-0`.
pub struct Issued {
    pub grant_id: String,
    pub family_id: String,
}

pub async fn issued(store: &dyn Store) -> Issued {
    let g = granted(store).await;
    let fam = family(&g.id);
    let outcome = store
        .redeem_code(
            "code-1",
            T0 + 1,
            &fam,
            Some(&refresh("rt-0", &fam.id, T0 + 1)),
            &access("at-0", &fam.id, &g.id, T0 + 1),
            &audit("token_issued"),
        )
        .await
        .unwrap();
    assert!(matches!(outcome, RedeemOutcome::Redeemed(_)), "{outcome:?}");
    Issued {
        grant_id: g.id,
        family_id: fam.id,
    }
}

/// Rotates `old` into `new` at `now`, with replay bytes `replay`.
pub async fn rotate(
    store: &dyn Store,
    iss: &Issued,
    old: &str,
    new: &str,
    now: i64,
    replay: &[u8],
) -> RotateOutcome {
    store
        .rotate_refresh_token(
            old,
            now,
            GRACE,
            &refresh(new, &iss.family_id, now),
            &access(&format!("at-{new}"), &iss.family_id, &iss.grant_id, now),
            replay,
            &audit("refreshed").client("c1").grant(iss.grant_id.clone()),
        )
        .await
        .unwrap()
}

pub async fn audit_kinds(store: &dyn Store) -> Vec<String> {
    store
        .list_audit_events(100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect()
}

pub fn auth_request(id_hash: &str, expires_at: i64) -> AuthRequestRecord {
    AuthRequestRecord {
        id_hash: id_hash.into(),
        client_id: "c1".into(),
        redirect_uri: "http://127.0.0.1/callback".into(),
        redirect_uri_sent: true,
        client_state: Some("xyz".into()),
        code_challenge: "challenge".into(),
        scope: "read".into(),
        resource: RESOURCE.into(),
        upstream_id: "dev".into(),
        browser_hash: "browser".into(),
        csrf_hash: "csrf".into(),
        extra: None,
        created_at: T0,
        expires_at,
        upstream: None,
    }
}
