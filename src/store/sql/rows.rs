//! Row decoding shared by both backends: column lists for joined queries and row → record.
//!
//! Joined queries alias every column with a table prefix (`g_`, `f_`, `r_`, `a_`) so one decoder
//! serves both the plain and the joined select; single-table selects decode by plain column name.

use super::exec::SqlRow;
use crate::store::{
    AccessTokenRecord, AuditEvent, AuthCodeRecord, AuthRequestRecord, ClientError, ClientKind,
    ClientRecord, FamilyRecord, GrantRecord, KeyState, ManagedBy, RefreshTokenRecord,
    SigningKeyRecord, StoreError, UpstreamLeg, UpstreamRecord, UpstreamSession, UserRecord,
};

/// Columns of `grants g`, aliased `g_*`.
macro_rules! grant_cols {
    () => {
        "g.id AS g_id, g.user_id AS g_user_id, g.client_id AS g_client_id, \
         g.resource AS g_resource, g.scope AS g_scope, g.upstream_tokens AS g_upstream_tokens, \
         g.created_at AS g_created_at, g.updated_at AS g_updated_at, g.revoked_at AS g_revoked_at"
    };
}
pub(crate) use grant_cols;

/// Columns of `token_families f`, aliased `f_*`.
macro_rules! family_cols {
    () => {
        "f.id AS f_id, f.grant_id AS f_grant_id, f.client_id AS f_client_id, f.scope AS f_scope, \
         f.created_at AS f_created_at, f.revoked_at AS f_revoked_at"
    };
}
pub(crate) use family_cols;

/// Columns of `refresh_tokens r`, aliased `r_*` (without the replay blob).
macro_rules! refresh_cols {
    () => {
        "r.token_hash AS r_token_hash, r.family_id AS r_family_id, r.parent_hash AS r_parent_hash, \
         r.created_at AS r_created_at, r.expires_at AS r_expires_at, r.used_at AS r_used_at"
    };
}
pub(crate) use refresh_cols;

/// The vault columns of `grants g` beyond [`grant_cols`], aliased `g_*`.
macro_rules! grant_upstream_cols {
    () => {
        "g.upstream_id AS g_upstream_id, g.upstream_checked_at AS g_upstream_checked_at, \
         g.upstream_retry_at AS g_upstream_retry_at, g.upstream_lease_until AS g_upstream_lease_until"
    };
}
pub(crate) use grant_upstream_cols;

/// Columns of `users u` (possibly outer-joined), aliased `u_*`.
macro_rules! user_cols {
    () => {
        "u.id AS u_id, u.upstream_id AS u_upstream_id, u.issuer AS u_issuer, \
         u.subject AS u_subject, u.email AS u_email, u.name AS u_name, u.groups AS u_groups, \
         u.created_at AS u_created_at, u.last_login_at AS u_last_login_at"
    };
}
pub(crate) use user_cols;

/// Columns of `access_tokens a`, aliased `a_*`.
macro_rules! access_cols {
    () => {
        "a.jti AS a_jti, a.family_id AS a_family_id, a.grant_id AS a_grant_id, \
         a.client_id AS a_client_id, a.created_at AS a_created_at, a.expires_at AS a_expires_at, \
         a.revoked_at AS a_revoked_at"
    };
}
pub(crate) use access_cols;

/// Encodes a list field as JSON text.
pub(super) fn json_list(values: &[String]) -> Result<String, StoreError> {
    serde_json::to_string(values).map_err(|e| StoreError::Corrupt(format!("list: {e}")))
}

fn list(row: &dyn SqlRow, col: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(&row.text(col)?)
        .map_err(|e| StoreError::Corrupt(format!("column {col}: {e}")))
}

pub(super) fn client(r: &dyn SqlRow) -> Result<ClientRecord, StoreError> {
    let kind = r.text("kind")?;
    let managed_by = r.text("managed_by")?;
    Ok(ClientRecord {
        client_id: r.text("client_id")?,
        kind: ClientKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("client kind {kind}")))?,
        secret_hash: r.opt_text("secret_hash")?,
        token_endpoint_auth_method: r.text("token_endpoint_auth_method")?,
        redirect_uris: list(r, "redirect_uris")?,
        grant_types: list(r, "grant_types")?,
        response_types: list(r, "response_types")?,
        application_type: r.text("application_type")?,
        client_name: r.opt_text("client_name")?,
        client_uri: r.opt_text("client_uri")?,
        logo_uri: r.opt_text("logo_uri")?,
        scope: r.opt_text("scope")?,
        contacts: list(r, "contacts")?,
        software_id: r.opt_text("software_id")?,
        software_version: r.opt_text("software_version")?,
        registration_token_hash: r.opt_text("registration_token_hash")?,
        upstream_id: r.text("upstream_id")?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
        last_used_at: r.opt_int("last_used_at")?,
        disabled: r.flag("disabled")?,
        managed_by: ManagedBy::parse(&managed_by)
            .ok_or_else(|| StoreError::Corrupt(format!("client managed_by {managed_by}")))?,
        last_error: match (r.opt_int("last_error_at")?, r.opt_text("last_error")?) {
            (Some(at), Some(reason)) => Some(ClientError { at, reason }),
            _ => None,
        },
    })
}

pub(super) fn auth_request(r: &dyn SqlRow) -> Result<AuthRequestRecord, StoreError> {
    let expires_at = r.int("expires_at")?;
    let upstream = match (r.opt_text("state_hash")?, r.opt_text("upstream_sealed")?) {
        (Some(state_hash), Some(sealed)) => Some(UpstreamLeg {
            state_hash,
            sealed,
            expires_at,
            upstream_id: r.text("upstream_id")?,
        }),
        _ => None,
    };
    Ok(AuthRequestRecord {
        id_hash: r.text("id_hash")?,
        client_id: r.text("client_id")?,
        redirect_uri: r.text("redirect_uri")?,
        redirect_uri_sent: r.flag("redirect_uri_sent")?,
        client_state: r.opt_text("client_state")?,
        code_challenge: r.text("code_challenge")?,
        scope: r.text("scope")?,
        resource: r.text("resource")?,
        upstream_id: r.text("upstream_id")?,
        browser_hash: r.text("browser_hash")?,
        csrf_hash: r.text("csrf_hash")?,
        extra: r.opt_text("extra")?,
        created_at: r.int("created_at")?,
        expires_at,
        upstream,
    })
}

pub(super) fn user(r: &dyn SqlRow) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        id: r.text("id")?,
        upstream_id: r.text("upstream_id")?,
        issuer: r.text("issuer")?,
        subject: r.text("subject")?,
        email: r.opt_text("email")?,
        name: r.opt_text("name")?,
        groups: list(r, "groups")?,
        created_at: r.int("created_at")?,
        last_login_at: r.int("last_login_at")?,
    })
}

/// Decodes [`user_cols`]; `None` when the outer join found no user.
pub(super) fn user_aliased(r: &dyn SqlRow) -> Result<Option<UserRecord>, StoreError> {
    let Some(id) = r.opt_text("u_id")? else {
        return Ok(None);
    };
    Ok(Some(UserRecord {
        id,
        upstream_id: r.text("u_upstream_id")?,
        issuer: r.text("u_issuer")?,
        subject: r.text("u_subject")?,
        email: r.opt_text("u_email")?,
        name: r.opt_text("u_name")?,
        groups: list(r, "u_groups")?,
        created_at: r.int("u_created_at")?,
        last_login_at: r.int("u_last_login_at")?,
    }))
}

/// Decodes [`grant_cols`] and [`grant_upstream_cols`] as the grant's vault state.
pub(super) fn upstream_session(r: &dyn SqlRow) -> Result<UpstreamSession, StoreError> {
    Ok(UpstreamSession {
        grant_id: r.text("g_id")?,
        user_id: r.text("g_user_id")?,
        upstream_id: r.opt_text("g_upstream_id")?,
        sealed_tokens: r.opt_text("g_upstream_tokens")?,
        checked_at: r.opt_int("g_upstream_checked_at")?,
        retry_at: r.opt_int("g_upstream_retry_at")?,
        lease_until: r.opt_int("g_upstream_lease_until")?,
        revoked_at: r.opt_int("g_revoked_at")?,
    })
}

/// Decodes [`grant_cols`].
pub(super) fn grant(r: &dyn SqlRow) -> Result<GrantRecord, StoreError> {
    Ok(GrantRecord {
        id: r.text("g_id")?,
        user_id: r.text("g_user_id")?,
        client_id: r.text("g_client_id")?,
        resource: r.text("g_resource")?,
        scope: r.text("g_scope")?,
        upstream_tokens: r.opt_text("g_upstream_tokens")?,
        created_at: r.int("g_created_at")?,
        updated_at: r.int("g_updated_at")?,
        revoked_at: r.opt_int("g_revoked_at")?,
    })
}

/// Decodes [`family_cols`].
pub(super) fn family(r: &dyn SqlRow) -> Result<FamilyRecord, StoreError> {
    Ok(FamilyRecord {
        id: r.text("f_id")?,
        grant_id: r.text("f_grant_id")?,
        client_id: r.text("f_client_id")?,
        scope: r.text("f_scope")?,
        created_at: r.int("f_created_at")?,
        revoked_at: r.opt_int("f_revoked_at")?,
    })
}

/// Decodes [`refresh_cols`].
pub(super) fn refresh(r: &dyn SqlRow) -> Result<RefreshTokenRecord, StoreError> {
    Ok(RefreshTokenRecord {
        token_hash: r.text("r_token_hash")?,
        family_id: r.text("r_family_id")?,
        parent_hash: r.opt_text("r_parent_hash")?,
        created_at: r.int("r_created_at")?,
        expires_at: r.int("r_expires_at")?,
        used_at: r.opt_int("r_used_at")?,
    })
}

/// Decodes [`access_cols`].
pub(super) fn access(r: &dyn SqlRow) -> Result<AccessTokenRecord, StoreError> {
    Ok(AccessTokenRecord {
        jti: r.text("a_jti")?,
        family_id: r.text("a_family_id")?,
        grant_id: r.text("a_grant_id")?,
        client_id: r.text("a_client_id")?,
        created_at: r.int("a_created_at")?,
        expires_at: r.int("a_expires_at")?,
        revoked_at: r.opt_int("a_revoked_at")?,
    })
}

pub(super) fn auth_code(r: &dyn SqlRow) -> Result<AuthCodeRecord, StoreError> {
    Ok(AuthCodeRecord {
        code_hash: r.text("code_hash")?,
        grant_id: r.text("grant_id")?,
        client_id: r.text("client_id")?,
        user_id: r.text("user_id")?,
        redirect_uri: r.text("redirect_uri")?,
        redirect_uri_sent: r.flag("redirect_uri_sent")?,
        code_challenge: r.text("code_challenge")?,
        scope: r.text("scope")?,
        resource: r.text("resource")?,
        created_at: r.int("created_at")?,
        expires_at: r.int("expires_at")?,
        used_at: r.opt_int("used_at")?,
        family_id: r.opt_text("family_id")?,
    })
}

pub(super) fn signing_key(r: &dyn SqlRow) -> Result<SigningKeyRecord, StoreError> {
    let state = r.text("state")?;
    Ok(SigningKeyRecord {
        kid: r.text("kid")?,
        alg: r.text("alg")?,
        state: KeyState::parse(&state)
            .ok_or_else(|| StoreError::Corrupt(format!("key state {state}")))?,
        private_sealed: r.text("private_sealed")?,
        public_jwk: r.text("public_jwk")?,
        created_at: r.int("created_at")?,
        retired_at: r.opt_int("retired_at")?,
    })
}

pub(super) fn upstream(r: &dyn SqlRow) -> Result<UpstreamRecord, StoreError> {
    Ok(UpstreamRecord {
        id: r.text("id")?,
        issuer: r.text("issuer")?,
        metadata: r.opt_text("metadata")?,
        status: r.text("status")?,
        checked_at: r.int("checked_at")?,
    })
}

pub(super) fn audit_event(r: &dyn SqlRow) -> Result<AuditEvent, StoreError> {
    Ok(AuditEvent {
        id: r.text("id")?,
        at: r.int("at")?,
        kind: r.text("kind")?,
        actor: r.opt_text("actor")?,
        client_id: r.opt_text("client_id")?,
        user_id: r.opt_text("user_id")?,
        grant_id: r.opt_text("grant_id")?,
        request_id: r.opt_text("request_id")?,
        ip: r.opt_text("ip")?,
        user_agent: r.opt_text("user_agent")?,
        detail: r.opt_text("detail")?,
    })
}

/// Decodes every row with `decode`.
pub(super) fn all<T>(
    rows: &[super::exec::BoxRow],
    decode: fn(&dyn SqlRow) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    rows.iter().map(|r| decode(r.as_ref())).collect()
}

/// Decodes the row, if any, with `decode`.
pub(super) fn opt<T>(
    row: Option<super::exec::BoxRow>,
    decode: fn(&dyn SqlRow) -> Result<T, StoreError>,
) -> Result<Option<T>, StoreError> {
    row.map(|r| decode(r.as_ref())).transpose()
}
