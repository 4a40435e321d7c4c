//! `/admin/v1/signing-keys`: the JWT signing keys (never their private half), and rotation, the
//! same steps as `dcr-bridge rotate-keys` ([`KeyRing::stage_next`], [`KeyRing::promote_next`]),
//! audited as `admin_signing_key_rotated`.
//!
//! This replica's key ring is reloaded at once; the others pick the change up at once on
//! Postgres (LISTEN/NOTIFY) and at their next reload (`tokens.signing_key_reload_seconds`)
//! in any case. A key signs only once it has been published for two reload intervals, so even
//! `both` never signs a token some replica cannot verify; `stage` first gives resource servers
//! that cache JWKS longer the time they need before `promote`.

use axum::extract::State;
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::auth::AdminCaller;
use super::error::{AdminError, AdminQuery};
use super::responses::{BadRequest, Forbidden, Unauthorized};
use crate::app::AppState;
use crate::oauth::keys::KeyRing;
use crate::store::{KeyState, SigningKeyRecord};

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyStateView {
    /// Published in JWKS, not signing yet.
    Next,
    /// Signing now (the store and `rotate-keys` call it current).
    Active,
    /// No longer signing; published until the tokens it signed have expired.
    Retired,
}

impl From<KeyState> for KeyStateView {
    fn from(s: KeyState) -> Self {
        match s {
            KeyState::Next => Self::Next,
            KeyState::Current => Self::Active,
            KeyState::Retired => Self::Retired,
        }
    }
}

/// A signing key: its public identity only. Times are Unix seconds.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "kid": "p3V9c2Xk0aQ", "alg": "RS256", "state": "active", "created_at": 1_765_000_000
}))]
pub struct SigningKeyView {
    /// The JWS `kid` of tokens it signs.
    pub kid: String,
    pub alg: String,
    pub state: KeyStateView,
    pub created_at: i64,
    /// When it stopped signing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retired_at: Option<i64>,
}

impl From<SigningKeyRecord> for SigningKeyView {
    fn from(k: SigningKeyRecord) -> Self {
        Self {
            kid: k.kid,
            alg: k.alg,
            state: k.state.into(),
            created_at: k.created_at,
            retired_at: k.retired_at,
        }
    }
}

/// Every signing key still stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct SigningKeyList {
    /// Newest first.
    pub items: Vec<SigningKeyView>,
}

/// Which part of a rotation to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RotateStep {
    /// Publish a next key (or keep the one already staged) and make it active: both at once.
    Both,
    /// Only publish a next key (`rotate-keys --stage`).
    Stage,
    /// Only make the staged next key active (`rotate-keys --promote`).
    Promote,
}

/// Query of a rotation.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RotateQuery {
    /// `both` (default), `stage` or `promote`.
    pub step: Option<RotateStep>,
}

/// What a rotation did, and the keys after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct Rotated {
    /// The kid published as next (absent for `promote`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub staged: Option<String>,
    /// The kid made active; absent when nothing was staged to promote, or for `stage`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub activated: Option<String>,
    pub keys: Vec<SigningKeyView>,
}

/// List the signing keys.
#[utoipa::path(get, path = "/admin/v1/signing-keys", operation_id = "list_signing_keys", tag = "signing-keys",
    responses(
        (status = 200, description = "Every stored signing key", body = SigningKeyList),
        Unauthorized,
    ))]
pub async fn list(State(state): State<AppState>) -> Result<Json<SigningKeyList>, AdminError> {
    Ok(Json(SigningKeyList {
        items: keys(&state).await?,
    }))
}

/// Rotate the signing key, as `dcr-bridge rotate-keys` does.
#[utoipa::path(post, path = "/admin/v1/signing-keys/rotate", operation_id = "rotate_signing_keys", tag = "signing-keys",
    params(RotateQuery),
    responses(
        (status = 200, description = "Rotated; the keys after it", body = Rotated),
        BadRequest, Unauthorized, Forbidden,
    ))]
pub async fn rotate(
    State(state): State<AppState>,
    Extension(caller): Extension<AdminCaller>,
    AdminQuery(q): AdminQuery<RotateQuery>,
) -> Result<Json<Rotated>, AdminError> {
    let step = q.step.unwrap_or(RotateStep::Both);
    let core = &state.core;
    let store = core.store.as_ref();
    let now = core.now();
    let failed = |e: crate::oauth::Error| AdminError::Internal(anyhow::anyhow!("rotation: {e}"));
    let (staged, activated) = KeyRing::rotate_audited(
        store,
        &core.cipher,
        core.clock.as_ref(),
        state.config.tokens.signing_algorithm,
        step != RotateStep::Promote,
        step != RotateStep::Stage,
        |staged, activated| {
            caller.audit(
                "admin_signing_key_rotated",
                now,
                json!({ "step": step, "staged_kid": staged, "activated_kid": activated }),
            )
        },
    )
    .await
    .map_err(failed)?;
    if let Err(e) = core.keys.reload(store, &core.cipher, core.now()).await {
        tracing::warn!(error = %e, "reloading signing keys after a rotation failed");
    }
    Ok(Json(Rotated {
        staged,
        activated,
        keys: keys(&state).await?,
    }))
}

async fn keys(state: &AppState) -> Result<Vec<SigningKeyView>, AdminError> {
    let keys = state.core.store.list_signing_keys().await?;
    Ok(keys.into_iter().map(Into::into).collect())
}
