//! The rows of a seeded data set, shaped like those a real registration, sign-in and token
//! exchange write (src/oauth/registration.rs, login.rs, grants/authorization_code.rs).
//!
//! Values that are hashes or random ids in production are random here: nobody knows a secret
//! behind them, so no seeded token can ever be presented. Timestamps are spread so that
//! housekeeping and the unused-client expiry meet them a few at a time, never all at once.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::Rng as _;
use secrecy::SecretString;

use crate::idp::UpstreamTokens;
use crate::oauth::crypto::{Cipher, CLIENT_ID_PREFIX};
use crate::oauth::login::upstream_tokens_aad;
use crate::store::seed::{Column, TableRows, SEED_EMAIL_DOMAIN, SEED_SOFTWARE_ID};

const DAY: i64 = 24 * 3600;
/// Clients, users and grants were created over the last 90 days (the default
/// `unused_client_ttl_days`, so that none looks expired on arrival).
const HISTORY: i64 = 90 * DAY;
/// Seeded refresh tokens outlive a benchmark run by at least this much.
const REFRESH_MIN_LEFT: i64 = 2 * 3600;

/// What the generated rows take from the configuration.
pub struct Shape {
    pub now: i64,
    pub access_token_ttl: i64,
    pub refresh_token_ttl: i64,
    /// (resource URI, space-separated scopes, upstream id, upstream issuer) per resource.
    pub resources: Vec<SeedResource>,
    pub cipher: Cipher,
}

/// One configured resource and the upstream its users sign in at.
pub struct SeedResource {
    pub uri: String,
    pub scope: String,
    pub upstream_id: String,
    pub issuer: String,
}

/// What registering clients look like: name, redirect URI (with `{port}` for a loopback port),
/// application type, software.
const APPS: [(&str, &str, &str); 5] = [
    ("Claude Code", "http://localhost:{port}/callback", "native"),
    ("Claude", "https://claude.ai/api/mcp/auth_callback", "web"),
    (
        "Cursor",
        "cursor://anysphere.cursor-retrieval/oauth/user-{port}/callback",
        "native",
    ),
    (
        "MCP Inspector",
        "http://localhost:6274/oauth/callback",
        "native",
    ),
    ("VS Code", "http://127.0.0.1:{port}/", "native"),
];

/// A column builder: one `Vec` per column, pushed row by row.
struct Table {
    table: &'static str,
    columns: Vec<(&'static str, Column)>,
}

impl Table {
    fn new(table: &'static str, text: &[&'static str], int: &[&'static str]) -> Self {
        let mut columns: Vec<(&'static str, Column)> = text
            .iter()
            .map(|c| (*c, Column::Text(Vec::new())))
            .collect();
        columns.extend(int.iter().map(|c| (*c, Column::Int(Vec::new()))));
        Self { table, columns }
    }

    fn with_bool(mut self, name: &'static str) -> Self {
        self.columns.push((name, Column::Bool(Vec::new())));
        self
    }

    /// Appends one row: `text` values for the text columns, then `int` for the integer ones,
    /// then `flags` for the boolean ones, in declaration order.
    fn push(&mut self, text: Vec<Option<String>>, int: &[Option<i64>], flags: &[bool]) {
        let (mut t, mut i, mut b) = (text.into_iter(), int.iter(), flags.iter());
        for (_, column) in &mut self.columns {
            match column {
                Column::Text(v) => v.push(t.next().flatten()),
                Column::Int(v) => v.push(i.next().copied().flatten()),
                Column::Bool(v) => v.push(b.next().copied().unwrap_or(false)),
            }
        }
    }

    fn done(self) -> TableRows {
        TableRows {
            table: self.table,
            columns: self.columns,
        }
    }
}

fn uuid(rng: &mut impl rand::Rng) -> String {
    uuid::Builder::from_random_bytes(rng.gen())
        .into_uuid()
        .to_string()
}

fn b64(rng: &mut impl rand::Rng) -> String {
    URL_SAFE_NO_PAD.encode(rng.gen::<[u8; 16]>())
}

fn hash(rng: &mut impl rand::Rng) -> String {
    hex::encode(rng.gen::<[u8; 32]>())
}

fn json(values: &[&str]) -> String {
    serde_json::to_string(values).unwrap_or_else(|_| "[]".to_owned())
}

/// `count` dynamic clients (numbered from `first` in their names) and their `registered` audit
/// events.
pub fn clients(shape: &Shape, first: u64, count: u64) -> Vec<TableRows> {
    let mut rng = rand::thread_rng();
    let mut clients = Table::new(
        "clients",
        &[
            "client_id",
            "kind",
            "token_endpoint_auth_method",
            "redirect_uris",
            "grant_types",
            "response_types",
            "application_type",
            "client_name",
            "contacts",
            "software_id",
            "software_version",
            "registration_token_hash",
            "upstream_id",
            "managed_by",
        ],
        &["created_at", "updated_at", "last_used_at"],
    )
    .with_bool("disabled");
    let mut audit = audit_table();
    for n in first..first + count {
        let (app, redirect, application_type) = APPS[rng.gen_range(0..APPS.len())];
        let redirect = redirect.replace("{port}", &rng.gen_range(49152..65535).to_string());
        let client_id = format!("{CLIENT_ID_PREFIX}{}", b64(&mut rng));
        let created = shape.now - rng.gen_range(0..HISTORY);
        let last_used = created + rng.gen_range(0..=shape.now - created);
        clients.push(
            vec![
                Some(client_id.clone()),
                Some("dcr".to_owned()),
                Some("none".to_owned()),
                Some(json(&[&redirect])),
                Some(json(&["authorization_code", "refresh_token"])),
                Some(json(&["code"])),
                Some(application_type.to_owned()),
                Some(format!("{app} (seed {n})")),
                Some("[]".to_owned()),
                Some(SEED_SOFTWARE_ID.to_owned()),
                Some(env!("CARGO_PKG_VERSION").to_owned()),
                Some(hash(&mut rng)),
                Some(String::new()),
                Some("client".to_owned()),
            ],
            &[Some(created), Some(created), Some(last_used)],
            &[false],
        );
        // The facts a real registration records (src/oauth/client_registration.rs).
        let host = url::Url::parse(&redirect)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned));
        let detail = serde_json::json!({
            "application_type": application_type,
            "client_name": format!("{app} (seed {n})"),
            "contacts_count": 0,
            "redirect_hosts": host.into_iter().collect::<Vec<_>>(),
            "redirect_uri_count": 1,
            "token_endpoint_auth_method": "none",
            "upstream_id": null,
        });
        push_audit(
            &mut audit,
            &mut rng,
            "registered",
            created,
            None,
            &client_id,
            None,
            &detail,
        );
    }
    vec![clients.done(), audit.done()]
}

fn audit_table() -> Table {
    Table::new(
        "audit_events",
        &[
            "id",
            "kind",
            "actor",
            "client_id",
            "user_id",
            "grant_id",
            "request_id",
            "ip",
            "user_agent",
            "detail",
        ],
        &["at"],
    )
}

#[allow(clippy::too_many_arguments)]
fn push_audit(
    audit: &mut Table,
    rng: &mut impl rand::Rng,
    kind: &str,
    at: i64,
    user_id: Option<&str>,
    client_id: &str,
    grant_id: Option<&str>,
    detail: &serde_json::Value,
) {
    // TEST-NET-3 (RFC 5737): addresses that belong to nobody.
    let ip = format!("203.0.113.{}", rng.gen_range(1..255));
    audit.push(
        vec![
            Some(uuid(rng)),
            Some(kind.to_owned()),
            Some(user_id.unwrap_or(client_id).to_owned()),
            Some(client_id.to_owned()),
            user_id.map(str::to_owned),
            grant_id.map(str::to_owned),
            Some(uuid(rng)),
            Some(ip),
            Some("node".to_owned()),
            Some(detail.to_string()),
        ],
        &[Some(at)],
        &[],
    );
}

/// Grants `first_grant..first_grant + count` over `client_ids` (grant i goes to client
/// i mod |clients|), for new users numbered from `first_user`, `per_user` grants each (a user's
/// grants go to distinct clients, as the active-grant key (user, client, resource) requires).
/// Each grant comes with its user (once), consent, token family, one live refresh token, one
/// access token and a `token_issued` audit event.
pub fn grants(
    shape: &Shape,
    client_ids: &[String],
    first_grant: u64,
    first_user: u64,
    per_user: u64,
    count: u64,
) -> Result<Vec<TableRows>, crate::oauth::crypto::CryptoError> {
    let mut rng = rand::thread_rng();
    let mut users = Table::new(
        "users",
        &[
            "id",
            "upstream_id",
            "issuer",
            "subject",
            "email",
            "name",
            "groups",
        ],
        &["created_at", "last_login_at"],
    );
    let mut consents = Table::new(
        "consents",
        &["user_id", "client_id", "scope", "resource"],
        &["created_at"],
    );
    let mut grants = Table::new(
        "grants",
        &[
            "id",
            "user_id",
            "client_id",
            "resource",
            "scope",
            "upstream_tokens",
            "upstream_id",
        ],
        &[
            "created_at",
            "updated_at",
            "last_used_at",
            "upstream_checked_at",
        ],
    );
    let mut families = Table::new(
        "token_families",
        &["id", "grant_id", "client_id", "scope"],
        &["created_at"],
    );
    let mut refresh = Table::new(
        "refresh_tokens",
        &["token_hash", "family_id"],
        &["created_at", "expires_at"],
    );
    let mut access = Table::new(
        "access_tokens",
        &["jti", "family_id", "grant_id", "client_id"],
        &["created_at", "expires_at"],
    );
    let mut audit = audit_table();
    let clients = u64::try_from(client_ids.len()).unwrap_or(u64::MAX).max(1);
    let resources = u64::try_from(shape.resources.len())
        .unwrap_or(u64::MAX)
        .max(1);
    let mut user: Option<(String, String, i64)> = None;
    for j in 0..count {
        let i = first_grant + j;
        let index = |n: u64, of: u64| usize::try_from(n % of).unwrap_or(0);
        let client_id = &client_ids[index(i, clients)];
        let resource = &shape.resources[index(i, resources)];
        if j % per_user == 0 {
            let n = first_user + j / per_user;
            let (id, subject) = (uuid(&mut rng), format!("seed-{n}"));
            let created = shape.now - rng.gen_range(0..HISTORY);
            let last_login = created + rng.gen_range(0..=shape.now - created);
            let groups = if n % 4 == 0 {
                json(&["engineering"])
            } else {
                json(&[])
            };
            users.push(
                vec![
                    Some(id.clone()),
                    Some(resource.upstream_id.clone()),
                    Some(resource.issuer.clone()),
                    Some(subject.clone()),
                    Some(format!("{subject}@{SEED_EMAIL_DOMAIN}")),
                    Some(format!("Seed User {n}")),
                    Some(groups),
                ],
                &[Some(created), Some(last_login)],
                &[],
            );
            user = Some((id, subject, created));
        }
        let Some((user_id, subject, user_created)) = &user else {
            continue;
        };
        let grant_id = uuid(&mut rng);
        let created = user_created + rng.gen_range(0..=shape.now - user_created);
        // The refresh token in use was issued by the last refresh, within the last week (or
        // half its lifetime), and has at least REFRESH_MIN_LEFT to go.
        let refresh_age = rng.gen_range(0..=(shape.refresh_token_ttl / 2).clamp(0, 7 * DAY));
        let refreshed = (shape.now - refresh_age).max(created);
        let refresh_expires =
            (refreshed + shape.refresh_token_ttl).max(shape.now + REFRESH_MIN_LEFT);
        let access_created =
            (shape.now - rng.gen_range(0..shape.access_token_ttl.max(1))).max(created);
        let sealed = sealed_upstream_tokens(shape, &mut rng, resource, subject, client_id)?;
        consents.push(
            vec![
                Some(user_id.clone()),
                Some(client_id.clone()),
                Some(resource.scope.clone()),
                Some(resource.uri.clone()),
            ],
            &[Some(created)],
            &[],
        );
        grants.push(
            vec![
                Some(grant_id.clone()),
                Some(user_id.clone()),
                Some(client_id.clone()),
                Some(resource.uri.clone()),
                Some(resource.scope.clone()),
                Some(sealed),
                Some(resource.upstream_id.clone()),
            ],
            &[
                Some(created),
                Some(created),
                Some(refreshed),
                Some(refreshed),
            ],
            &[],
        );
        let family_id = uuid(&mut rng);
        families.push(
            vec![
                Some(family_id.clone()),
                Some(grant_id.clone()),
                Some(client_id.clone()),
                Some(resource.scope.clone()),
            ],
            &[Some(created)],
            &[],
        );
        refresh.push(
            vec![Some(hash(&mut rng)), Some(family_id.clone())],
            &[Some(refreshed), Some(refresh_expires)],
            &[],
        );
        let jti = b64(&mut rng);
        access.push(
            vec![
                Some(jti.clone()),
                Some(family_id.clone()),
                Some(grant_id.clone()),
                Some(client_id.clone()),
            ],
            &[
                Some(access_created),
                Some(access_created + shape.access_token_ttl),
            ],
            &[],
        );
        let detail = serde_json::json!({
            "grant_type": "authorization_code",
            "family_id": family_id,
            "jti": jti,
            "refresh_token": true,
            "resource": resource.uri,
        });
        push_audit(
            &mut audit,
            &mut rng,
            "token_issued",
            created,
            Some(user_id),
            client_id,
            Some(&grant_id),
            &detail,
        );
    }
    Ok([users, consents, grants, families, refresh, access, audit]
        .into_iter()
        .map(Table::done)
        .collect())
}

/// A sealed upstream token set as the callback stores it: same JSON, same key, same binding
/// (aad), so the grant rows are as large as real ones.
fn sealed_upstream_tokens(
    shape: &Shape,
    rng: &mut impl rand::Rng,
    resource: &SeedResource,
    subject: &str,
    client_id: &str,
) -> Result<String, crate::oauth::crypto::CryptoError> {
    let tokens = UpstreamTokens {
        access_token: SecretString::from(hash(rng)),
        refresh_token: Some(SecretString::from(hash(rng))),
        id_token: None,
        expires_at: Some(shape.now + 3600),
        scope: Some("openid profile email offline_access".to_owned()),
    };
    let aad = upstream_tokens_aad(&resource.upstream_id, subject, client_id, &resource.uri);
    shape.cipher.seal(tokens.to_json().as_bytes(), &aad)
}
