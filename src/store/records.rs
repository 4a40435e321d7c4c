//! Plain records moved in and out of the `Store`. No behaviour beyond small conversions.
//!
//! Secrets never appear here in the clear: client secrets, registration access tokens, codes and
//! refresh tokens are SHA-256 hashes (hex); upstream tokens and private keys are sealed
//! (AES-256-GCM, see `oauth::crypto`). List-valued fields are stored as JSON text.

use serde::{Deserialize, Serialize};

/// How a client came to exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientKind {
    /// RFC 7591 dynamic registration.
    Dcr,
    /// Client ID Metadata Document (an https URL as client_id).
    Cimd,
    /// Pre-registered by an admin.
    Static,
}

impl ClientKind {
    /// The value stored in the `kind` column.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Dcr => "dcr",
            Self::Cimd => "cimd",
            Self::Static => "static",
        }
    }

    /// Parses the `kind` column.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "dcr" => Some(Self::Dcr),
            "cimd" => Some(Self::Cimd),
            "static" => Some(Self::Static),
            _ => None,
        }
    }
}

/// Who manages a client's metadata (`clients.managed_by`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ManagedBy {
    /// A dynamic or CIMD client: itself (RFC 7592, its metadata document).
    Client,
    /// A `[[clients]]` entry: kept in step with the file at every start, disabled when the
    /// entry is removed.
    Config,
    /// A static client created through the admin API: the start-up sync leaves it alone.
    Admin,
}

impl ManagedBy {
    /// The value stored in the `managed_by` column.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Client => "client",
            Self::Config => "config",
            Self::Admin => "admin",
        }
    }

    /// Parses the `managed_by` column.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "client" => Some(Self::Client),
            "config" => Some(Self::Config),
            "admin" => Some(Self::Admin),
            _ => None,
        }
    }

    /// Who manages a client of `kind` unless said otherwise: static ones come from the file.
    #[must_use]
    pub fn default_for(kind: ClientKind) -> Self {
        match kind {
            ClientKind::Static => Self::Config,
            ClientKind::Dcr | ClientKind::Cimd => Self::Client,
        }
    }
}

/// The last refused token request or failed sign-in flow of a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientError {
    pub at: i64,
    /// An OAuth error code and its description, or the upstream's error. Never a secret.
    pub reason: String,
}

/// A client allowed to use /authorize and /token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    pub client_id: String,
    pub kind: ClientKind,
    /// SHA-256 hex of the client secret; `None` for public clients.
    pub secret_hash: Option<String>,
    /// `none`, `client_secret_post` or `client_secret_basic`.
    pub token_endpoint_auth_method: String,
    pub redirect_uris: Vec<String>,
    pub grant_types: Vec<String>,
    pub response_types: Vec<String>,
    /// `native` or `web` (OIDC DCR `application_type`).
    pub application_type: String,
    pub client_name: Option<String>,
    pub client_uri: Option<String>,
    pub logo_uri: Option<String>,
    /// Space-separated scope the client registered with, if any.
    pub scope: Option<String>,
    pub contacts: Vec<String>,
    pub software_id: Option<String>,
    pub software_version: Option<String>,
    /// SHA-256 hex of the RFC 7592 registration access token.
    pub registration_token_hash: Option<String>,
    /// The configured upstream this client maps to; empty: unmapped (its users sign in at
    /// the resource's upstream, or choose among the resource's upstreams).
    pub upstream_id: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_used_at: Option<i64>,
    pub disabled: bool,
    /// Who manages its metadata (`[[clients]]`, the admin API, or the client itself).
    pub managed_by: ManagedBy,
    /// The last refused token request or failed flow; not written by insert or update.
    pub last_error: Option<ClientError>,
}

impl ClientRecord {
    /// The upstream this client is mapped to, `None` when unmapped.
    #[must_use]
    pub fn mapped_upstream(&self) -> Option<&str> {
        Some(self.upstream_id.as_str()).filter(|u| !u.is_empty())
    }

    /// A client with identity, kind, upstream and times set and no metadata yet: registration
    /// and CIMD fill the metadata in from what the client sent or published.
    #[must_use]
    pub fn blank(client_id: String, kind: ClientKind, upstream_id: String, now: i64) -> Self {
        Self {
            client_id,
            kind,
            secret_hash: None,
            token_endpoint_auth_method: String::new(),
            redirect_uris: Vec::new(),
            grant_types: Vec::new(),
            response_types: Vec::new(),
            application_type: String::new(),
            client_name: None,
            client_uri: None,
            logo_uri: None,
            scope: None,
            contacts: Vec::new(),
            software_id: None,
            software_version: None,
            registration_token_hash: None,
            upstream_id,
            created_at: now,
            updated_at: now,
            last_used_at: None,
            disabled: false,
            managed_by: ManagedBy::default_for(kind),
            last_error: None,
        }
    }
}

#[cfg(test)]
impl ClientRecord {
    /// A public, native DCR client with one loopback redirect, for unit tests; tests override
    /// only the fields they are about with struct-update syntax.
    #[must_use]
    pub fn test_public(client_id: &str) -> Self {
        Self {
            client_id: client_id.to_owned(),
            kind: ClientKind::Dcr,
            secret_hash: None,
            token_endpoint_auth_method: "none".to_owned(),
            redirect_uris: vec!["http://127.0.0.1/cb".to_owned()],
            grant_types: vec!["authorization_code".to_owned(), "refresh_token".to_owned()],
            response_types: vec!["code".to_owned()],
            application_type: "native".to_owned(),
            client_name: None,
            client_uri: None,
            logo_uri: None,
            scope: None,
            contacts: Vec::new(),
            software_id: None,
            software_version: None,
            registration_token_hash: None,
            upstream_id: "corp".to_owned(),
            created_at: 0,
            updated_at: 0,
            last_used_at: None,
            disabled: false,
            managed_by: ManagedBy::Client,
            last_error: None,
        }
    }
}

/// A pending authorization request, from /authorize until the callback consumes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequestRecord {
    /// SHA-256 hex of the consent id carried by the consent form.
    pub id_hash: String,
    pub client_id: String,
    pub redirect_uri: String,
    /// Whether the client sent `redirect_uri` (it may be left out when exactly one is
    /// registered); if so, the token request must repeat it (RFC 6749 §4.1.3).
    pub redirect_uri_sent: bool,
    /// The client's own `state`, echoed back verbatim.
    pub client_state: Option<String>,
    /// The client's S256 `code_challenge`.
    pub code_challenge: String,
    /// Space-separated, normalised scope.
    pub scope: String,
    /// The resource (audience) URI.
    pub resource: String,
    pub upstream_id: String,
    /// SHA-256 hex of the browser-binding cookie value of the browser that started the flow.
    pub browser_hash: String,
    /// SHA-256 hex of the CSRF token embedded in the consent form.
    pub csrf_hash: String,
    /// Extra values worth keeping (e.g. `prompt`), JSON object text.
    pub extra: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    /// Set once the user approved: the upstream leg.
    pub upstream: Option<UpstreamLeg>,
}

/// The upstream half of a pending request, recorded when the user approves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamLeg {
    /// SHA-256 hex of the `state` sent to the upstream.
    pub state_hash: String,
    /// Sealed JSON with the upstream PKCE verifier and nonce.
    pub sealed: String,
    /// New expiry for the approved request (the upstream login gets its own window).
    pub expires_at: i64,
    /// The upstream the user is sent to (the request's own, or the one chosen on the consent
    /// page); approving records it as the request's `upstream_id`.
    pub upstream_id: String,
}

/// A person, as identified by an upstream: keyed by (issuer, subject), since a `sub` is unique
/// only per issuer (OIDC Core §5.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: String,
    /// The configured upstream the user last signed in through.
    pub upstream_id: String,
    /// The issuer that vouched for `subject` (the ID token's `iss`).
    pub issuer: String,
    /// The upstream's stable subject (never email).
    pub subject: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
    pub created_at: i64,
    pub last_login_at: i64,
}

/// A remembered approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    pub user_id: String,
    pub client_id: String,
    pub scope: String,
    pub resource: String,
    pub created_at: i64,
}

/// One authorization of a client by a user for a resource. Every token hangs off a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    pub id: String,
    pub user_id: String,
    pub client_id: String,
    pub resource: String,
    pub scope: String,
    /// Sealed JSON of the upstream token set.
    pub upstream_tokens: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub revoked_at: Option<i64>,
}

/// A grant's upstream side, for the token vault: the sealed upstream token set and the state of
/// the upstream refresh (last confirmation, back-off, lease). Timestamps are Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamSession {
    pub grant_id: String,
    pub user_id: String,
    /// The upstream the tokens came from (`None` for grants stored before the vault: the
    /// user's upstream then).
    pub upstream_id: Option<String>,
    /// Sealed JSON of the upstream token set.
    pub sealed_tokens: Option<String>,
    /// When the user's standing upstream was last confirmed (login or upstream refresh).
    pub checked_at: Option<i64>,
    /// After a transient upstream failure: no new attempt before this time.
    pub retry_at: Option<i64>,
    /// Until when the current lease holder may refresh upstream; `None` or past: no lease.
    pub lease_until: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// An authorization code, stored by hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCodeRecord {
    pub code_hash: String,
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    /// Whether the authorization request carried `redirect_uri`: then the token request must
    /// repeat it, identical (RFC 6749 §4.1.3).
    pub redirect_uri_sent: bool,
    pub code_challenge: String,
    pub scope: String,
    pub resource: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    /// The token family created when the code was redeemed.
    pub family_id: Option<String>,
}

/// A refresh-token family: every token descending from one code redemption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FamilyRecord {
    pub id: String,
    pub grant_id: String,
    pub client_id: String,
    /// The scope consented for this family (its code's scope). Refreshes may narrow it, never
    /// widen it, whatever later authorizations do to the grant (RFC 9700 §4.14.2).
    pub scope: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// A refresh token, stored by hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenRecord {
    pub token_hash: String,
    pub family_id: String,
    pub parent_hash: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// A refresh token with the state of everything above it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshTokenView {
    pub token: RefreshTokenRecord,
    pub family: FamilyRecord,
    pub grant: GrantRecord,
    /// The grant's upstream side, read with the token so that a refresh's vault check costs
    /// no statement of its own.
    pub upstream: UpstreamSession,
    /// The grant's user (`None` only if the row is missing, which its foreign key forbids).
    pub user: Option<UserRecord>,
}

/// An issued access token (the JWT itself is not stored; its `jti` is).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenRecord {
    pub jti: String,
    pub family_id: String,
    pub grant_id: String,
    pub client_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

/// An access token with the state of its family and grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessTokenView {
    pub token: AccessTokenRecord,
    pub family_revoked_at: Option<i64>,
    pub grant: GrantRecord,
}

/// Life cycle of a signing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Published in JWKS, not yet signing.
    Next,
    /// Signing now.
    Current,
    /// No longer signing; still published until tokens it signed have expired.
    Retired,
}

impl KeyState {
    /// The value stored in the `state` column.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Current => "current",
            Self::Retired => "retired",
        }
    }

    /// Parses the `state` column.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "next" => Some(Self::Next),
            "current" => Some(Self::Current),
            "retired" => Some(Self::Retired),
            _ => None,
        }
    }
}

/// A JWT signing key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    /// JOSE algorithm, e.g. `RS256`.
    pub alg: String,
    pub state: KeyState,
    /// Sealed PKCS#8 DER of the private key.
    pub private_sealed: String,
    /// Public JWK, JSON text.
    pub public_jwk: String,
    pub created_at: i64,
    pub retired_at: Option<i64>,
}

/// What dcr-bridge last learned about an upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamRecord {
    pub id: String,
    pub issuer: String,
    /// Discovered metadata, JSON text.
    pub metadata: Option<String>,
    /// `ok`, or the error text of the last failed check.
    pub status: String,
    pub checked_at: i64,
}

/// One security-relevant fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: String,
    pub at: i64,
    /// `registered`, `consented`, `login_failed`, `token_issued`, `refreshed`,
    /// `reuse_detected`, `revoked`, `client_updated`, `client_deleted`, `admin_*` …
    pub kind: String,
    /// Who did it: a user id, a client id, or `admin`.
    pub actor: Option<String>,
    pub client_id: Option<String>,
    /// The user the fact concerns (who signed in, consented, got or lost a token).
    pub user_id: Option<String>,
    pub grant_id: Option<String>,
    pub request_id: Option<String>,
    /// The address the request came from (as rate limiting sees it), if one did.
    pub ip: Option<String>,
    /// The request's `User-Agent`, cut to 256 characters.
    pub user_agent: Option<String>,
    /// Extra facts, JSON object text. Never a secret.
    pub detail: Option<String>,
}

impl AuditEvent {
    /// A new event with a fresh id.
    #[must_use]
    pub fn new(kind: &str, at: i64) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            at,
            kind: kind.to_owned(),
            actor: None,
            client_id: None,
            user_id: None,
            grant_id: None,
            request_id: None,
            ip: None,
            user_agent: None,
            detail: None,
        }
    }

    /// Sets the actor.
    #[must_use]
    pub fn actor(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }

    /// Sets the client.
    #[must_use]
    pub fn client(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// Sets the user the fact concerns.
    #[must_use]
    pub fn user(mut self, user_id: impl Into<String>) -> Self {
        self.user_id = Some(user_id.into());
        self
    }

    /// Sets the grant.
    #[must_use]
    pub fn grant(mut self, grant_id: impl Into<String>) -> Self {
        self.grant_id = Some(grant_id.into());
        self
    }

    /// Sets the request id.
    #[must_use]
    pub fn request(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }

    /// Sets the detail object.
    #[must_use]
    pub fn detail(mut self, detail: &serde_json::Value) -> Self {
        self.detail = Some(detail.to_string());
        self
    }
}

/// A bearer token of the admin API. The plain token is shown once at creation; only its hash
/// is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminTokenRecord {
    /// Opaque id (`adm_…`), stable across renames of nothing: the handle to revoke it by.
    pub id: String,
    /// Who or what holds the token; recorded as the actor of every action taken with it.
    pub name: String,
    /// SHA-256 hex of the token.
    pub token_hash: String,
    /// A read-only token may only read (GET); any write answers 403.
    pub read_only: bool,
    pub created_at: i64,
    /// Actor that created it (`cli`, or `admin:<name>` of the creating token).
    pub created_by: String,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// An RFC 7591 §3 initial access token (registration.mode = "initial_access_token"), by hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InitialAccessTokenRecord {
    /// Opaque id (`iat_…`), the handle to revoke it by.
    pub id: String,
    /// Who or what it was given to; in the audit event of every registration made with it.
    pub name: String,
    /// SHA-256 hex of the token.
    pub token_hash: String,
    /// Most registrations it allows; `None` is unlimited.
    pub max_uses: Option<i64>,
    /// Registrations made with it so far.
    pub uses: i64,
    /// When it stops working; `None` never.
    pub expires_at: Option<i64>,
    pub created_at: i64,
    /// Actor that created it (`cli`, or `admin:<name>`).
    pub created_by: String,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl InitialAccessTokenRecord {
    /// Why the token cannot register a client at `now`, if it cannot.
    #[must_use]
    pub fn unusable(&self, now: i64) -> Option<&'static str> {
        if self.revoked_at.is_some() {
            Some("revoked")
        } else if self.expires_at.is_some_and(|at| at <= now) {
            Some("expired")
        } else if self.max_uses.is_some_and(|max| self.uses >= max) {
            Some("used_up")
        } else {
            None
        }
    }
}

/// What presenting an initial access token did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitialTokenUse {
    /// One use was counted (the record shows it, `uses` included).
    Counted(InitialAccessTokenRecord),
    /// A known token that cannot be used now (revoked, expired or used up); nothing counted.
    Refused(InitialAccessTokenRecord),
    /// No token has this hash.
    Unknown,
}

/// Where a keyset page starts: after the row with this `(created_at, id)` in the list's
/// newest-first order. `None` is the first page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageAfter {
    pub created_at: i64,
    pub id: String,
}

/// One page of a list: rows after `after`, at most `limit` of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Option<PageAfter>,
    pub limit: i64,
}

/// Filters of the client list; `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientFilter {
    pub kind: Option<ClientKind>,
    pub disabled: Option<bool>,
}

/// Filters of the grant list; `None` means any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GrantFilter {
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub resource: Option<String>,
    /// `Some(true)`: only grants not revoked; `Some(false)`: only revoked ones.
    pub active: Option<bool>,
}

/// Filters of the audit event list; `None` means any. `from` is inclusive, `to` exclusive
/// (Unix seconds).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub kind: Option<String>,
    pub client_id: Option<String>,
    /// The event's actor: a user id for what a user did (`login`, `consented`, `token_issued`,
    /// `refreshed`), `admin:<name>` for the admin API.
    pub actor: Option<String>,
    /// The user the event concerns (`audit_events.user_id`).
    pub user_id: Option<String>,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

/// Where a page of audit events starts: after the event at `(at, seq)` in the newest-first
/// order (`seq` orders the events of one second).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditAfter {
    pub at: i64,
    pub seq: i64,
}

/// An audit event with its position in the trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Insertion order; with `event.at`, the key pages resume after.
    pub seq: i64,
    pub event: AuditEvent,
}

/// How many audit events of `kind` (and, for the kinds counted by detail, with this `detail`
/// text) a window holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCount {
    pub kind: String,
    /// The detail text, only for the kinds the caller asked to count by detail.
    pub detail: Option<String>,
    pub count: i64,
}

/// How many clients (by kind), users and active grants there are now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inventory {
    /// `(kind, count)`, by kind name; kinds without clients are absent.
    pub clients_by_kind: Vec<(String, i64)>,
    pub users: i64,
    pub active_grants: i64,
}
