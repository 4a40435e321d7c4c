#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

//! Test fixture for the grant, login, revocation and introspection services: a real SQLite store
//! in a temporary file, a manual clock, a key ring, and helpers that run a flow to a code or a
//! token pair.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::clock::ManualClock;
use crate::config::{RegistrationSettings, TokenSettings};
use crate::oauth::crypto::Cipher;
use crate::oauth::keys::KeyRing;
use crate::oauth::login::{finish_login, UpstreamUser};
use crate::oauth::tokens::TokenResponse;
use crate::oauth::{grants, Core, Resource, Settings};
use crate::store::sqlite::SqliteStore;
use crate::store::{AuditEvent, AuthRequestRecord, ClientRecord, Store};

pub const ISSUER: &str = "https://auth.example.com";
pub const RESOURCE: &str = "https://auth.example.com/mcp";
pub const REDIRECT: &str = "http://127.0.0.1:33418/callback";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const SCOPE: &str = "mcp:read mcp:write";
pub const START: i64 = 1_700_000_000;

pub struct Fixture {
    pub core: Core,
    pub clock: Arc<ManualClock>,
    pub store: Arc<dyn Store>,
    /// A public client that may refresh.
    pub client: ClientRecord,
    _dir: tempfile::TempDir,
}

/// S256 code challenge (RFC 7636 §4.2).
pub fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

pub fn cipher() -> Cipher {
    Cipher::new(&[7; 32], &[])
}

/// A fresh migrated store in its own temporary directory.
pub async fn store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let store = SqliteStore::connect(&url).await.unwrap();
    store.migrate().await.unwrap();
    (Arc::new(store), dir)
}

pub fn settings() -> Settings {
    Settings {
        issuer: ISSUER.to_owned(),
        resources: vec![Resource {
            id: "mcp".to_owned(),
            path: "/mcp".to_owned(),
            uri: RESOURCE.to_owned(),
            scopes: vec!["mcp:read".to_owned(), "mcp:write".to_owned()],
            upstreams: vec!["corp".to_owned()],
            access: Default::default(),
            token_exchange_client: None,
        }],
        tokens: TokenSettings::default(),
        registration: RegistrationSettings::default(),
        default_upstream: "corp".to_owned(),
        home_realms: Vec::new(),
        client_rules: Vec::new(),
        cimd: crate::config::CimdSettings::default(),
        machine: Default::default(),
        enterprise_idps: Vec::new(),
    }
}

impl Fixture {
    pub async fn new() -> Self {
        let (store, dir) = store().await;
        let clock = Arc::new(ManualClock::new(START));
        let cipher = Arc::new(cipher());
        let keys = Arc::new(
            KeyRing::load_or_create(store.as_ref(), &cipher, START)
                .await
                .unwrap(),
        );
        let core = Core {
            clients: Arc::new(crate::oauth::clients::StoreClients::new(store.clone())),
            upstreams: Arc::default(),
            store: store.clone(),
            clock: clock.clone(),
            cipher,
            keys,
            settings: Arc::new(settings()),
        };
        let mut fixture = Self {
            core,
            clock,
            store,
            client: client_record("dcrb_c_main", &["authorization_code", "refresh_token"]),
            _dir: dir,
        };
        fixture.client = fixture
            .add_client("dcrb_c_main", &["authorization_code", "refresh_token"])
            .await;
        fixture
    }

    /// Registers a public client.
    pub async fn add_client(&self, client_id: &str, grant_types: &[&str]) -> ClientRecord {
        let client = client_record(client_id, grant_types);
        self.store
            .insert_client(&client, &AuditEvent::new("registered", START))
            .await
            .unwrap();
        client
    }

    /// Runs a login for `client` (user `alice`) and returns our authorization code.
    pub async fn code_for(&self, client: &ClientRecord, scope: &str) -> String {
        self.code_with(client, scope, &alice(), true).await
    }

    /// Runs a login of `user` for `client`; `redirect_uri_sent` says whether the authorization
    /// request carried `redirect_uri`. Returns our authorization code.
    pub async fn code_with(
        &self,
        client: &ClientRecord,
        scope: &str,
        user: &UpstreamUser,
        redirect_uri_sent: bool,
    ) -> String {
        let request = AuthRequestRecord {
            id_hash: crate::oauth::crypto::hash("consent-id"),
            client_id: client.client_id.clone(),
            redirect_uri: REDIRECT.to_owned(),
            redirect_uri_sent,
            client_state: Some("xyz".to_owned()),
            code_challenge: challenge(VERIFIER),
            scope: scope.to_owned(),
            resource: RESOURCE.to_owned(),
            upstream_id: user.upstream_id.clone(),
            browser_hash: crate::oauth::crypto::hash("browser"),
            csrf_hash: crate::oauth::crypto::hash("csrf"),
            extra: None,
            created_at: self.core.now(),
            expires_at: self.core.now() + 600,
            upstream: None,
        };
        finish_login(
            &self.core,
            &request,
            user,
            None,
            Some("req-login".to_owned()),
        )
        .await
        .unwrap()
    }

    /// Redeems a code the way a well-behaved client does.
    pub async fn redeem(
        &self,
        client: &ClientRecord,
        code: &str,
    ) -> crate::oauth::Result<TokenResponse> {
        grants::exchange(
            &self.core,
            client,
            code,
            Some(REDIRECT),
            Some(VERIFIER),
            &[RESOURCE.to_owned()],
            Some("req-token".to_owned()),
        )
        .await
    }

    /// Login and code exchange for the main client: a fresh token pair.
    pub async fn tokens(&self) -> TokenResponse {
        let code = self.code_for(&self.client, SCOPE).await;
        self.redeem(&self.client, &code).await.unwrap()
    }

    /// Refreshes with the main client, no scope or resource.
    pub async fn refresh(&self, token: &str) -> crate::oauth::Result<TokenResponse> {
        grants::refresh(&self.core, &self.client, token, None, &[], None).await
    }
}

/// The fixture's user: `00u-alice` at upstream `corp`.
pub fn alice() -> UpstreamUser {
    UpstreamUser {
        upstream_id: "corp".to_owned(),
        issuer: "https://corp.example.com".to_owned(),
        subject: "00u-alice".to_owned(),
        email: Some("alice@example.com".to_owned()),
        name: Some("Alice".to_owned()),
        groups: vec!["eng".to_owned()],
    }
}

pub fn client_record(client_id: &str, grant_types: &[&str]) -> ClientRecord {
    ClientRecord {
        redirect_uris: vec![REDIRECT.to_owned()],
        grant_types: grant_types.iter().map(|g| (*g).to_owned()).collect(),
        client_name: Some(client_id.to_owned()),
        created_at: START,
        updated_at: START,
        ..ClientRecord::test_public(client_id)
    }
}
