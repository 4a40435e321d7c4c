//! The dev IdP's authorization endpoint: request checks (RFC 6749 §4.1.1, RFC 7636), the login
//! form, and the redirect back with `code`, `state` and `iss` (RFC 9207).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::keys::random_token;
use super::{lock, CodeGrant, DevState, DevUser, Grant};

/// Authorization codes live this long.
const CODE_TTL: i64 = 60;

/// Query (GET) or form (POST) parameters. Duplicates are refused by the parser (RFC 6749 §3.1).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AuthorizeParams {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    login_hint: Option<String>,
    // Form only.
    login: Option<String>,
    deny: Option<String>,
    password: Option<String>,
}

/// A request whose client and redirect URI are known good.
struct Valid {
    redirect_uri: String,
    state: Option<String>,
    scope: String,
    nonce: Option<String>,
    code_challenge: String,
}

pub(crate) async fn show(State(st): State<Arc<DevState>>, RawQuery(query): RawQuery) -> Response {
    let params: AuthorizeParams = match serde_urlencoded::from_str(query.as_deref().unwrap_or("")) {
        Ok(p) => p,
        Err(_) => return fatal(&st, "Malformed or repeated authorization parameters."),
    };
    let valid = match validate(&st, &params) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    if st.config.auto_login {
        if let Some(user) = params.login_hint.as_deref().and_then(|s| st.user(s)) {
            return issue_code(&st, &valid, user);
        }
    }
    form(&st, &params, StatusCode::OK, None)
}

pub(crate) async fn submit(State(st): State<Arc<DevState>>, body: Bytes) -> Response {
    let params: AuthorizeParams = match serde_urlencoded::from_bytes(&body) {
        Ok(p) => p,
        Err(_) => return fatal(&st, "Malformed or repeated authorization parameters."),
    };
    let valid = match validate(&st, &params) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    if params.deny.is_some() {
        return redirect_error(
            &st,
            &valid.redirect_uri,
            valid.state.as_deref(),
            "access_denied",
            "the user denied the request",
        );
    }
    let Some(user) = params.login.as_deref().and_then(|s| st.user(s)) else {
        return form(
            &st,
            &params,
            StatusCode::BAD_REQUEST,
            Some("Choose a user."),
        );
    };
    if let Some(expected) = &user.password {
        let given = params.password.as_deref().unwrap_or("");
        let same: bool =
            subtle::ConstantTimeEq::ct_eq(given.as_bytes(), expected.as_bytes()).into();
        if !same {
            return form(
                &st,
                &params,
                StatusCode::UNAUTHORIZED,
                Some("Wrong password: sign-in refused. `dcr-bridge dev` and `dev-idp` print each user's password at start."),
            );
        }
    }
    issue_code(&st, &valid, user)
}

/// Client and redirect URI first: until both are known good, errors go to a page, never to the
/// redirect URI (RFC 6749 §4.1.2.1).
fn validate(st: &DevState, p: &AuthorizeParams) -> Result<Valid, Box<Response>> {
    if p.client_id.as_deref() != Some(st.config.client_id.as_str()) {
        return Err(Box::new(fatal(st, "Unknown or missing client_id.")));
    }
    let redirect_uri = match p.redirect_uri.as_deref() {
        Some(r) if st.config.redirect_uris.iter().any(|u| u == r) => r.to_owned(),
        _ => {
            return Err(Box::new(fatal(
                st,
                "Missing redirect_uri, or not registered for this client.",
            )))
        }
    };
    let state = p.state.clone();
    let fail = |code: &str, desc: &str| {
        Box::new(redirect_error(
            st,
            &redirect_uri,
            state.as_deref(),
            code,
            desc,
        ))
    };
    if p.response_type.as_deref() != Some("code") {
        return Err(fail(
            "unsupported_response_type",
            "only response_type=code is supported",
        ));
    }
    // RFC 7636 §4.3: an absent method means plain, which we refuse.
    if p.code_challenge_method.as_deref() != Some("S256") {
        return Err(fail(
            "invalid_request",
            "PKCE with code_challenge_method=S256 is required",
        ));
    }
    let code_challenge = match p.code_challenge.as_deref() {
        Some(c)
            if c.len() == 43
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            c.to_owned()
        }
        _ => {
            return Err(fail(
                "invalid_request",
                "code_challenge must be 43 base64url characters",
            ))
        }
    };
    let scope = p.scope.clone().unwrap_or_default();
    if !scope.split(' ').any(|s| s == "openid") {
        return Err(fail("invalid_scope", "the openid scope is required"));
    }
    Ok(Valid {
        redirect_uri,
        state,
        scope,
        nonce: p.nonce.clone(),
        code_challenge,
    })
}

fn issue_code(st: &DevState, valid: &Valid, user: &DevUser) -> Response {
    let code = random_token(32);
    let now = st.now();
    {
        let mut codes = lock(&st.codes);
        codes.retain(|_, c| c.expires > now);
        codes.insert(
            code.clone(),
            CodeGrant {
                grant: Grant {
                    client_id: st.config.client_id.clone(),
                    sub: user.sub.clone(),
                    scope: valid.scope.clone(),
                    nonce: valid.nonce.clone(),
                },
                redirect_uri: valid.redirect_uri.clone(),
                code_challenge: valid.code_challenge.clone(),
                expires: now + CODE_TTL,
            },
        );
    }
    redirect(
        st,
        &valid.redirect_uri,
        valid.state.as_deref(),
        &[("code", &code)],
    )
}

fn redirect_error(
    st: &DevState,
    uri: &str,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> Response {
    redirect(
        st,
        uri,
        state,
        &[("error", error), ("error_description", description)],
    )
}

fn redirect(st: &DevState, uri: &str, state: Option<&str>, pairs: &[(&str, &str)]) -> Response {
    let Ok(mut target) = url::Url::parse(uri) else {
        return fatal(st, "The registered redirect_uri is not a URL.");
    };
    {
        let mut q = target.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
        if let Some(s) = state {
            q.append_pair("state", s);
        }
        q.append_pair("iss", &st.config.issuer);
    }
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, target.to_string()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response()
}

/// The protocol parameters the form carries through the POST.
fn carried(p: &AuthorizeParams) -> Vec<serde_json::Value> {
    [
        ("client_id", &p.client_id),
        ("redirect_uri", &p.redirect_uri),
        ("response_type", &p.response_type),
        ("scope", &p.scope),
        ("state", &p.state),
        ("nonce", &p.nonce),
        ("code_challenge", &p.code_challenge),
        ("code_challenge_method", &p.code_challenge_method),
        ("login_hint", &p.login_hint),
    ]
    .into_iter()
    .filter_map(|(name, v)| {
        v.as_ref()
            .map(|v| serde_json::json!({ "name": name, "value": v }))
    })
    .collect()
}

fn form(st: &DevState, p: &AuthorizeParams, status: StatusCode, error: Option<&str>) -> Response {
    let users: Vec<_> = st
        .config
        .users
        .iter()
        .map(|u| serde_json::json!({ "sub": u.sub, "email": u.email, "name": u.name, "groups": u.groups }))
        .collect();
    render(
        st,
        status,
        minijinja::context! {
            client_id => p.client_id,
            action => format!("{}/authorize", st.base()),
            params => carried(p),
            users => users,
            any_password => st.config.users.iter().any(|u| u.password.is_some()),
            error => error,
        },
    )
}

fn fatal(st: &DevState, message: &str) -> Response {
    render(
        st,
        StatusCode::BAD_REQUEST,
        minijinja::context! { fatal => message },
    )
}

fn render(st: &DevState, status: StatusCode, ctx: minijinja::Value) -> Response {
    let page = st
        .pages
        .get_template("devidp_login.html")
        .and_then(|t| t.render(ctx));
    match page {
        Ok(html) => (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "dev IdP template failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    }
}
