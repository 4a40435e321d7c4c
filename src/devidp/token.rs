//! The dev IdP's token endpoint (authorization_code with PKCE, refresh_token with rotation;
//! RFC 6749 §4.1.3, §6; RFC 7636 §4.6) and userinfo (OIDC Core §5.3).

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::keys::{random_token, s256};
use super::{lock, DevState, Grant};

/// Access and ID token lifetime.
const TOKEN_TTL: i64 = 3600;

/// An OAuth error answer (RFC 6749 §5.2).
#[derive(Debug)]
pub(crate) struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
    challenge: Option<&'static str>,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            error,
            description: description.into(),
            challenge: None,
        }
    }

    fn invalid_client(description: &str, challenge: Option<&'static str>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            challenge,
            ..Self::new("invalid_client", description)
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            [(header::CACHE_CONTROL, "no-store")],
            Json(serde_json::json!({ "error": self.error, "error_description": self.description })),
        )
            .into_response();
        if let Some(c) = self.challenge {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static(c),
            );
        }
        response
    }
}

pub(crate) async fn token(
    State(st): State<Arc<DevState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match token_inner(&st, &headers, &body) {
        Ok(json) => (
            StatusCode::OK,
            [(header::CACHE_CONTROL, "no-store")],
            Json(json),
        )
            .into_response(),
        Err(e) => e.into_response(),
    }
}

fn token_inner(
    st: &DevState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<serde_json::Value, OAuthError> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).map_err(|_| {
        OAuthError::new(
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        )
    })?;
    let mut form = HashMap::new();
    for (k, v) in pairs {
        if form.insert(k.clone(), v).is_some() {
            return Err(OAuthError::new(
                "invalid_request",
                format!("repeated parameter {k}"),
            ));
        }
    }
    let client_id = authenticate(st, headers, &form)?;
    match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => authorization_code(st, &client_id, &form),
        Some("refresh_token") => refresh_token(st, &client_id, &form),
        Some(_) => Err(OAuthError::new(
            "unsupported_grant_type",
            "use authorization_code or refresh_token",
        )),
        None => Err(OAuthError::new("invalid_request", "grant_type is required")),
    }
}

/// client_secret_basic or client_secret_post, never both (RFC 6749 §2.3).
fn authenticate(
    st: &DevState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<String, OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| strip_scheme(v, "basic "));
    let (id, secret, challenge) = match (basic, form.get("client_secret")) {
        (Some(_), Some(_)) => {
            return Err(OAuthError::new(
                "invalid_request",
                "use one client authentication method",
            ))
        }
        (Some(b), None) => {
            let (id, secret) = decode_basic(b).ok_or_else(|| {
                OAuthError::invalid_client("malformed Basic credentials", Some("Basic"))
            })?;
            if form.get("client_id").is_some_and(|c| *c != id) {
                return Err(OAuthError::new(
                    "invalid_request",
                    "client_id differs from the Basic credentials",
                ));
            }
            (id, secret, Some("Basic"))
        }
        (None, Some(secret)) => {
            let id = form
                .get("client_id")
                .ok_or_else(|| OAuthError::new("invalid_request", "client_id is required"))?;
            (id.clone(), secret.clone(), None)
        }
        (None, None) => {
            return Err(OAuthError::invalid_client(
                "client authentication is required",
                Some("Basic"),
            ))
        }
    };
    let secret_ok: bool =
        subtle::ConstantTimeEq::ct_eq(secret.as_bytes(), st.config.client_secret.as_bytes()).into();
    if id != st.config.client_id || !secret_ok {
        return Err(OAuthError::invalid_client(
            "unknown client or wrong secret",
            challenge,
        ));
    }
    Ok(id)
}

/// The credentials after an auth scheme (case-insensitive, RFC 9110 §11.1).
fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let head = value.get(..scheme.len())?;
    head.eq_ignore_ascii_case(scheme)
        .then(|| value.get(scheme.len()..))
        .flatten()
        .map(str::trim)
}

/// RFC 6749 §2.3.1: id and secret are form-urlencoded before base64.
fn decode_basic(b64: &str) -> Option<(String, String)> {
    let raw = String::from_utf8(STANDARD.decode(b64.trim()).ok()?).ok()?;
    let (id, secret) = raw.split_once(':')?;
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("v={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((decode(id)?, decode(secret)?))
}

fn authorization_code(
    st: &DevState,
    client_id: &str,
    form: &HashMap<String, String>,
) -> Result<serde_json::Value, OAuthError> {
    let code = form
        .get("code")
        .ok_or_else(|| OAuthError::new("invalid_request", "code is required"))?;
    // Removed before any check: a code is single use even when the attempt fails.
    let pending = lock(&st.codes)
        .remove(code)
        .ok_or_else(|| OAuthError::new("invalid_grant", "unknown, expired or used code"))?;
    if pending.expires <= st.now() {
        return Err(OAuthError::new(
            "invalid_grant",
            "unknown, expired or used code",
        ));
    }
    if pending.grant.client_id != client_id {
        return Err(OAuthError::new(
            "invalid_grant",
            "the code was issued to another client",
        ));
    }
    if form.get("redirect_uri") != Some(&pending.redirect_uri) {
        return Err(OAuthError::new(
            "invalid_grant",
            "redirect_uri does not match the authorization request",
        ));
    }
    let verifier = form
        .get("code_verifier")
        .ok_or_else(|| OAuthError::new("invalid_grant", "code_verifier is required (PKCE)"))?;
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let matches: bool =
        subtle::ConstantTimeEq::ct_eq(s256(verifier).as_bytes(), pending.code_challenge.as_bytes())
            .into();
    if !well_formed || !matches {
        return Err(OAuthError::new(
            "invalid_grant",
            "code_verifier does not match code_challenge",
        ));
    }
    issue(st, &pending.grant, &pending.grant.scope)
}

fn refresh_token(
    st: &DevState,
    client_id: &str,
    form: &HashMap<String, String>,
) -> Result<serde_json::Value, OAuthError> {
    let old = form
        .get("refresh_token")
        .ok_or_else(|| OAuthError::new("invalid_request", "refresh_token is required"))?;
    let (grant, scope) = {
        let mut tokens = lock(&st.refresh_tokens);
        let grant = match tokens.get(old) {
            Some(g) if g.client_id == client_id => g.clone(),
            _ => {
                return Err(OAuthError::new(
                    "invalid_grant",
                    "unknown or used refresh token",
                ))
            }
        };
        // RFC 6749 §6: a narrower scope applies to the access token; the refresh token keeps
        // the original one.
        let scope = match form.get("scope") {
            Some(requested) => {
                let granted: Vec<&str> = grant.scope.split(' ').collect();
                if !requested.split(' ').all(|s| granted.contains(&s)) {
                    let msg = "a refresh may only narrow the scope";
                    return Err(OAuthError::new("invalid_scope", msg));
                }
                requested.clone()
            }
            None => grant.scope.clone(),
        };
        // Rotation: the old token is gone once used.
        tokens.remove(old);
        (grant, scope)
    };
    issue(st, &grant, &scope)
}

fn issue(st: &DevState, grant: &Grant, scope: &str) -> Result<serde_json::Value, OAuthError> {
    let user = st
        .user(&grant.sub)
        .ok_or_else(|| OAuthError::new("invalid_grant", "the user no longer exists"))?;
    let now = st.now();
    let mut claims = serde_json::json!({
        "iss": st.config.issuer,
        "sub": user.sub,
        "aud": grant.client_id,
        "iat": now,
        "exp": now + TOKEN_TTL,
        "email": user.email,
        "email_verified": true,
        "name": user.name,
        "groups": user.groups,
    });
    // Refreshed ID tokens carry the original nonce, as oidc-provider does (OIDC Core §12.2).
    if let (Some(nonce), Some(obj)) = (&grant.nonce, claims.as_object_mut()) {
        obj.insert("nonce".to_owned(), nonce.clone().into());
    }
    let id_token = st.key().sign(&claims).map_err(|e| {
        tracing::error!(error = %e, "dev IdP could not sign an ID token");
        OAuthError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            ..OAuthError::new("server_error", "signing failed")
        }
    })?;
    let access_token = random_token(32);
    {
        let now = st.now();
        let mut tokens = lock(&st.access_tokens);
        tokens.retain(|_, (_, expires)| *expires > now);
        tokens.insert(access_token.clone(), (grant.clone(), now + TOKEN_TTL));
    }
    let mut answer = serde_json::json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": TOKEN_TTL,
        "id_token": id_token,
        "scope": scope,
    });
    if grant.scope.split(' ').any(|s| s == "offline_access") {
        let refresh = random_token(32);
        lock(&st.refresh_tokens).insert(refresh.clone(), grant.clone());
        if let Some(obj) = answer.as_object_mut() {
            obj.insert("refresh_token".to_owned(), refresh.into());
        }
    }
    Ok(answer)
}

pub(crate) async fn userinfo(State(st): State<Arc<DevState>>, headers: HeaderMap) -> Response {
    let invalid = || {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")],
            Json(serde_json::json!({ "error": "invalid_token" })),
        )
            .into_response()
    };
    let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| strip_scheme(v, "bearer "))
    else {
        return invalid();
    };
    let grant = {
        let tokens = lock(&st.access_tokens);
        match tokens.get(token) {
            Some((g, expires)) if *expires > st.now() => g.clone(),
            _ => return invalid(),
        }
    };
    let Some(user) = st.user(&grant.sub) else {
        return invalid();
    };
    Json(serde_json::json!({
        "sub": user.sub,
        "email": user.email,
        "email_verified": true,
        "name": user.name,
        "groups": user.groups,
    }))
    .into_response()
}
