//! `POST /admin/v1/clients` (a static client, its secret shown once) and `PATCH
//! /admin/v1/clients/{client_id}` (disabled, name, redirect URIs, upstream binding).
//!
//! Who may change what follows who manages the client's metadata: a dynamic client's name and
//! redirect URIs (and upstream) may be changed here; a static client created here may change
//! everything; a `[[clients]]` entry only `disabled` (the file would undo the rest at the next
//! start); a CIMD client only `disabled` (its metadata document decides the rest).

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::auth::AdminCaller;
use super::clients::{no_client, ClientId, ClientView};
use super::error::{AdminError, AdminJson, AdminPath};
use super::responses::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType,
};
use crate::app::AppState;
use crate::config::StaticClientConfig;
use crate::oauth::{crypto, registration, static_clients, Core};
use crate::store::{ClientKind, ClientRecord, ManagedBy};

/// Prefix of the client ids generated for static clients created without one.
pub const STATIC_CLIENT_ID_PREFIX: &str = "dcrb_s_";

/// How a created static client authenticates at /token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// A public client: PKCE only, no secret.
    #[default]
    None,
    /// A confidential client sending its secret in the form body.
    ClientSecretPost,
    /// A confidential client sending its secret with HTTP Basic.
    ClientSecretBasic,
}

impl AuthMethod {
    fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::ClientSecretPost => "client_secret_post",
            Self::ClientSecretBasic => "client_secret_basic",
        }
    }
}

/// A static client to create.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "client_id": "build-agent", "client_name": "Build agent",
    "redirect_uris": ["http://127.0.0.1/callback"],
    "token_endpoint_auth_method": "client_secret_basic", "upstream_id": "corp"
}))]
pub struct ClientCreate {
    /// 1 to 128 printable ASCII characters, not starting with `dcrb_c_` or `http`; generated
    /// (`dcrb_s_…`) when left out.
    pub client_id: Option<String>,
    /// Name shown on the consent page.
    pub client_name: Option<String>,
    /// Exact redirect URIs, checked like a registration's (loopback ones match any port).
    pub redirect_uris: Vec<String>,
    /// `none` (default, public) or a secret method: then a secret is generated and returned
    /// once.
    #[serde(default)]
    pub token_endpoint_auth_method: AuthMethod,
    /// The configured upstream its users sign in at; default: the one a `[[client_rules]]`
    /// rule maps it to, else the first one.
    pub upstream_id: Option<String>,
}

/// The created client and, for a confidential one, its secret: shown this once, stored only
/// as a hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientCreated {
    pub client: ClientView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

/// A change to a client; fields left out stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({ "disabled": true }))]
pub struct ClientPatch {
    /// Disable or enable the client (any kind).
    pub disabled: Option<bool>,
    /// New display name (dynamic clients and static ones created here); an empty string
    /// removes it.
    pub client_name: Option<String>,
    /// New redirect URIs (dynamic clients and static ones created here), checked like a
    /// registration's.
    pub redirect_uris: Option<Vec<String>>,
    /// Map the client to another configured upstream, or unmap it with `""` (its users then
    /// sign in at the resource's upstream, or choose among the resource's upstreams); dynamic
    /// clients and static ones created here.
    pub upstream_id: Option<String>,
}

/// Create a static client. A confidential one gets a generated secret, returned once.
#[utoipa::path(post, path = "/admin/v1/clients", operation_id = "create_client", tag = "clients",
    request_body = ClientCreate,
    responses(
        (status = 201, description = "Created; the secret is shown only here", body = ClientCreated),
        BadRequest, Unauthorized, Forbidden, Conflict, PayloadTooLarge, UnsupportedMediaType,
    ))]
pub async fn create(
    State(state): State<AppState>,
    Extension(caller): Extension<AdminCaller>,
    AdminJson(req): AdminJson<ClientCreate>,
) -> Result<(StatusCode, Json<ClientCreated>), AdminError> {
    let core = &state.core;
    let now = core.now();
    let client_id = match req.client_id {
        Some(id) => {
            check_client_id(&id)?;
            if state.config.clients.iter().any(|c| c.client_id == id) {
                return Err(AdminError::Conflict(
                    "a [[clients]] entry of the configuration has this client id".to_owned(),
                ));
            }
            if core.upstreams.is_upstream_client_id(&id) {
                return Err(AdminError::BadRequest(
                    "this is an upstream's client id, which belongs to the IdP".to_owned(),
                ));
            }
            id
        }
        None => format!("{STATIC_CLIENT_ID_PREFIX}{}", crypto::random_b64(16)),
    };
    let upstream = req
        .upstream_id
        .as_deref()
        .map(|u| check_upstream(core, u))
        .transpose()?;
    let secret = (req.token_endpoint_auth_method != AuthMethod::None)
        .then(|| crypto::new_secret(crypto::CLIENT_SECRET_PREFIX));
    if req.redirect_uris.is_empty() {
        return Err(AdminError::BadRequest(
            "redirect_uris needs at least one URI".to_owned(),
        ));
    }
    let config = StaticClientConfig {
        client_id: client_id.clone(),
        client_name: None,
        redirect_uris: req.redirect_uris.clone(),
        token_endpoint_auth_method: req.token_endpoint_auth_method.as_str().to_owned(),
        client_secret: secret.clone().map(SecretString::from),
        client_secret_file: None,
        upstream,
        jwks: None,
        service_account: None,
    };
    // The same record as a `[[clients]]` entry (secret hashed the same way), then the
    // registration checks of name and redirect URIs.
    let base = static_clients::record(&config, &core.settings, now).map_err(bad_metadata)?;
    let mut record = registration::admin_update(
        &base,
        req.client_name.as_deref(),
        Some(&req.redirect_uris),
        &core.settings,
        now,
    )
    .map_err(bad_metadata)?;
    record.managed_by = ManagedBy::Admin;
    let audit = caller
        .audit(
            "admin_client_created",
            now,
            json!({
                "kind": "static",
                "token_endpoint_auth_method": record.token_endpoint_auth_method,
                "upstream_id": record.upstream_id,
            }),
        )
        .client(client_id);
    core.store.insert_client(&record, &audit).await?;
    Ok((
        StatusCode::CREATED,
        Json(ClientCreated {
            client: record.into(),
            client_secret: secret,
        }),
    ))
}

/// Change a client: disable or enable it; rename it, replace its redirect URIs or bind it to
/// another upstream (dynamic clients and static clients created here: a `[[clients]]` entry's
/// metadata comes from the file, a CIMD client's from its document).
#[utoipa::path(patch, path = "/admin/v1/clients/{client_id}", operation_id = "update_client", tag = "clients",
    params(ClientId),
    request_body = ClientPatch,
    responses(
        (status = 200, description = "The changed client", body = ClientView),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, UnsupportedMediaType,
    ))]
pub async fn patch(
    State(state): State<AppState>,
    Extension(caller): Extension<AdminCaller>,
    AdminPath(id): AdminPath<String>,
    AdminJson(change): AdminJson<ClientPatch>,
) -> Result<Json<ClientView>, AdminError> {
    let core = &state.core;
    let now = core.now();
    let upstream = change
        .upstream_id
        .as_deref()
        .map(|u| match u {
            "" => Ok(String::new()),
            u => check_upstream(core, u),
        })
        .transpose()?;
    let mut tx = core.store.begin().await?;
    let existing = tx.get_client(&id).await?.ok_or_else(no_client)?;
    let metadata =
        change.client_name.is_some() || change.redirect_uris.is_some() || upstream.is_some();
    if metadata {
        metadata_editable(&existing)?;
    }
    let mut base = existing.clone();
    if let (Some(uris), ClientKind::Static) = (&change.redirect_uris, existing.kind) {
        // A static client's type follows its redirect URIs, as for a `[[clients]]` entry.
        base.application_type = static_clients::application_type_for(uris, &core.settings)
            .map_err(bad_metadata)?
            .to_owned();
    }
    let mut updated = registration::admin_update(
        &base,
        change.client_name.as_deref(),
        change.redirect_uris.as_deref(),
        &core.settings,
        now,
    )
    .map_err(bad_metadata)?;
    if let Some(disabled) = change.disabled {
        updated.disabled = disabled;
    }
    if let Some(upstream) = upstream {
        updated.upstream_id = upstream;
    }
    let changed: Vec<&str> = [
        ("disabled", existing.disabled != updated.disabled),
        ("client_name", existing.client_name != updated.client_name),
        (
            "redirect_uris",
            existing.redirect_uris != updated.redirect_uris,
        ),
        ("upstream_id", existing.upstream_id != updated.upstream_id),
    ]
    .into_iter()
    .filter_map(|(field, differs)| differs.then_some(field))
    .collect();
    if changed.is_empty() {
        return Ok(Json(existing.into()));
    }
    let audit = caller
        .audit(
            "admin_client_updated",
            now,
            json!({
                "changed": changed,
                "disabled": updated.disabled,
                "upstream_id": updated.mapped_upstream(),
            }),
        )
        .client(id.clone());
    tx.update_client(&updated, &audit).await?;
    tx.commit().await?;
    Ok(Json(updated.into()))
}

/// Whether the admin API may change this client's name, redirect URIs and upstream.
fn metadata_editable(client: &ClientRecord) -> Result<(), AdminError> {
    let why = match (client.kind, client.managed_by) {
        (ClientKind::Dcr, _) | (ClientKind::Static, ManagedBy::Admin) => return Ok(()),
        (ClientKind::Static, _) => "edit its [[clients]] entry in the configuration",
        (ClientKind::Cimd, _) => "they come from its metadata document",
    };
    Err(AdminError::Conflict(format!(
        "the name, redirect URIs and upstream of a {} client are not changed here ({why})",
        client.kind.as_str()
    )))
}

/// A client id as `[[clients]]` accepts one.
fn check_client_id(id: &str) -> Result<(), AdminError> {
    let ok = (1..=128).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_graphic())
        && !id.starts_with(crypto::CLIENT_ID_PREFIX)
        && !id.starts_with("http");
    if ok {
        Ok(())
    } else {
        Err(AdminError::BadRequest(
            "client_id is 1 to 128 printable ASCII characters, not starting with dcrb_c_ \
             (dynamic clients) or http (client ID metadata documents)"
                .to_owned(),
        ))
    }
}

/// The configured upstream named.
fn check_upstream(core: &Core, id: &str) -> Result<String, AdminError> {
    if core.upstreams.get(id).is_some() {
        Ok(id.to_owned())
    } else {
        Err(AdminError::BadRequest(
            "upstream_id names no configured upstream".to_owned(),
        ))
    }
}

fn bad_metadata(e: crate::oauth::Error) -> AdminError {
    AdminError::BadRequest(e.description().unwrap_or(e.code()).to_owned())
}
