//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523 §2.1) carrying an Identity
//! Assertion JWT Authorization Grant (ID-JAG, draft-ietf-oauth-identity-assertion-authz-grant
//! §4.4; the MCP extension `io.modelcontextprotocol/enterprise-managed-authorization`): an
//! enterprise IdP we trust (`[[enterprise_idps]]`) vouches that its user may use this client
//! with one of our resources. Checked: the IdP's signature, `typ` `oauth-id-jag+jwt`, `aud` our
//! issuer, `client_id` the presenting client (one the IdP is allowed for), `exp`/`iat` against
//! the Clock, `jti` used once. The token is audience-restricted to the ID-JAG's `resource`, its
//! scope the intersection of the requested and the asserted scopes (and the resource's); the
//! user is keyed by (IdP issuer, `sub`). No consent page and no upstream sign-in: the
//! enterprise's IdP decided. No refresh token: the client asks its IdP for a new ID-JAG.

use serde_json::Value;

use crate::oauth::client_assertion::{verify_signature, LEEWAY, MAX_ASSERTION_BYTES, MAX_LIFETIME};
use crate::oauth::enterprise_idps::EnterpriseIdp;
use crate::oauth::resource::{self, normalise};
use crate::oauth::scope::ScopeSet;
use crate::oauth::tokens::{mint_access_scoped, TokenResponse, UserClaims};
use crate::oauth::{Core, Error, Result};
use crate::store::{AuditEvent, ClientRecord, GrantRecord, UserRecord};

/// RFC 7523 §2.1 grant type.
pub const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// JOSE `typ` of an ID-JAG.
pub const ID_JAG_TYP: &str = "oauth-id-jag+jwt";
/// `authorization_grant_profiles_supported` value (draft §7.2; MCP extension §6).
pub const GRANT_PROFILE: &str = "urn:ietf:params:oauth:grant-profile:id-jag";
/// Longest `jti` accepted.
const MAX_JTI_CHARS: usize = 256;

fn refused(description: impl Into<String>) -> Error {
    Error::InvalidGrant(description.into())
}

/// Exchanges an ID-JAG for our access token. `client` is already authenticated.
///
/// # Errors
/// `invalid_request` without `assertion`; `invalid_grant` for an ID-JAG that is malformed, from
/// an issuer we do not trust, badly signed, for another audience or client, expired, replayed
/// or without `sub`/`jti`; `unauthorized_client` for a client the IdP is not allowed for;
/// `invalid_target` for a resource that is not ours or differs from the requested one.
pub async fn exchange(
    core: &Core,
    client: &ClientRecord,
    assertion: Option<&str>,
    scope: Option<&str>,
    requested: &[String],
    request_id: Option<String>,
) -> Result<TokenResponse> {
    let assertion =
        assertion.ok_or_else(|| Error::InvalidRequest("assertion is required".to_owned()))?;
    if assertion.len() > MAX_ASSERTION_BYTES {
        return Err(refused("ID-JAG too long"));
    }
    let issuer = unverified_issuer(assertion)?;
    let idp = core
        .settings
        .enterprise_idps
        .iter()
        .find(|e| e.issuer == issuer)
        .ok_or_else(|| refused("the ID-JAG's issuer is not a trusted enterprise IdP"))?;
    if !idp.allowed_client_ids.contains(&client.client_id) {
        return Err(Error::UnauthorizedClient(
            "this client may not present this enterprise IdP's ID-JAGs".to_owned(),
        ));
    }
    let claims = verify(core, idp, client, assertion)?;
    let resource = resolve_resource(core, claims.get("resource"), requested)?;
    let scope = granted_scope(scope, claims.get("scope"), &resource.scopes)?;
    let sub = str_claim(&claims, "sub").ok_or_else(|| refused("the ID-JAG has no sub"))?;
    let jti = str_claim(&claims, "jti")
        .filter(|j| j.chars().count() <= MAX_JTI_CHARS)
        .ok_or_else(|| refused("the ID-JAG needs a jti (at most 256 characters)"))?;
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .unwrap_or_default();
    let now = core.now();
    // Draft §4.4.1 / RFC 7523 §3 item 7: single use, on every replica.
    let first = core
        .store
        .use_assertion_jti(&format!("id-jag:{}", idp.issuer), jti, exp + LEEWAY, now)
        .await?;
    if !first {
        return Err(refused("ID-JAG replayed: its jti was used before"));
    }

    let user_id = core
        .store
        .upsert_user(&UserRecord {
            id: uuid::Uuid::new_v4().to_string(),
            upstream_id: idp.id.clone(),
            issuer: idp.issuer.clone(),
            subject: sub.to_owned(),
            email: str_claim(&claims, "email").map(str::to_owned),
            name: str_claim(&claims, "name").map(str::to_owned),
            groups: Vec::new(),
            created_at: now,
            last_login_at: now,
        })
        .await?;
    let user = core
        .store
        .get_user(&user_id)
        .await?
        .ok_or_else(|| Error::server(anyhow::anyhow!("user {user_id} vanished")))?;
    let grant = GrantRecord {
        id: uuid::Uuid::new_v4().to_string(),
        user_id: user_id.clone(),
        client_id: client.client_id.clone(),
        resource: resource.uri.clone(),
        scope: scope.clone(),
        upstream_tokens: None,
        created_at: now,
        updated_at: now,
        revoked_at: None,
    };
    let ttl = core.settings.access_token_ttl(client);
    let claims = UserClaims::for_user(core, &user_id).await?;
    let (jwt, access) =
        mint_access_scoped(core, &grant, "", &client.client_id, &scope, ttl, &claims)?;
    let audit = AuditEvent::new("token_issued", now)
        .actor(user_id.clone())
        .user(user_id)
        .client(client.client_id.clone())
        .request(request_id)
        .detail(&serde_json::json!({
            "grant_type": "jwt-bearer",
            "enterprise_idp": idp.id,
            "assertion_jti": jti,
            "jti": access.jti,
            "refresh_token": false,
            "resource": resource.uri,
            "scope": scope,
        }));
    core.store
        .issue_direct_token(&user, &grant, &access, &audit)
        .await?;
    crate::metrics::token_issued("jwt-bearer");
    super::touch_client(core, &client.client_id, now).await;
    Ok(TokenResponse::new(jwt, ttl, None, scope))
}

fn str_claim<'a>(claims: &'a Value, name: &str) -> Option<&'a str> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The `iss` of a JWT, read without checking anything: only to find the IdP whose keys then
/// verify it.
fn unverified_issuer(token: &str) -> Result<String> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine as _;
    let malformed = || refused("malformed ID-JAG");
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| malformed())?;
    let claims: Value = serde_json::from_slice(&bytes).map_err(|_| malformed())?;
    str_claim(&claims, "iss")
        .map(str::to_owned)
        .ok_or_else(malformed)
}

/// Signature, `typ`, `aud`, `client_id` and times.
fn verify(core: &Core, idp: &EnterpriseIdp, client: &ClientRecord, token: &str) -> Result<Value> {
    let (header, claims) = verify_signature(&idp.keys, token)
        .map_err(|why| refused(format!("ID-JAG refused: {why}")))?;
    let typ_ok = header.typ.as_deref().is_some_and(|t| {
        t.eq_ignore_ascii_case(ID_JAG_TYP) || t.eq_ignore_ascii_case("application/oauth-id-jag+jwt")
    });
    if !typ_ok {
        return Err(refused("not an ID-JAG: typ must be oauth-id-jag+jwt"));
    }
    if str_claim(&claims, "iss") != Some(idp.issuer.as_str()) {
        return Err(refused(
            "the ID-JAG's issuer is not a trusted enterprise IdP",
        ));
    }
    let ours = |a: &str| a.trim_end_matches('/') == core.settings.issuer;
    let aud_ok = match claims.get("aud") {
        Some(Value::String(a)) => ours(a),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(ours),
        _ => false,
    };
    if !aud_ok {
        return Err(refused(
            "the ID-JAG's audience must be this server's issuer",
        ));
    }
    if str_claim(&claims, "client_id") != Some(client.client_id.as_str()) {
        return Err(refused("the ID-JAG was issued for another client"));
    }
    let now = core.now();
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or_else(|| refused("the ID-JAG has no exp"))?;
    if exp + LEEWAY <= now {
        return Err(refused("ID-JAG expired"));
    }
    if exp > now + MAX_LIFETIME + LEEWAY {
        return Err(refused(
            "the ID-JAG's exp is too far in the future (at most 1 hour)",
        ));
    }
    let future = |name: &str| {
        claims
            .get(name)
            .and_then(Value::as_i64)
            .is_some_and(|t| t > now + LEEWAY)
    };
    if future("iat") || future("nbf") {
        return Err(refused("ID-JAG not yet valid"));
    }
    Ok(claims)
}

/// The ID-JAG's `resource` (MCP extension §4.3: the MCP server's resource identifier), which
/// must be ours and, when the request names one too, the same; without the claim, the
/// request's `resource` or our only resource.
fn resolve_resource<'a>(
    core: &'a Core,
    claim: Option<&Value>,
    requested: &[String],
) -> Result<&'a crate::oauth::Resource> {
    let asserted = match claim {
        None | Some(Value::Null) => None,
        Some(Value::String(r)) => Some(r.clone()),
        Some(Value::Array(list)) if list.len() == 1 => list[0].as_str().map(str::to_owned),
        Some(_) => {
            return Err(Error::InvalidTarget(
                "the ID-JAG must name one resource".to_owned(),
            ))
        }
    };
    let Some(asserted) = asserted else {
        return resource::resolve_resource(requested, &core.settings);
    };
    let ours = resource::resolve_resource(std::slice::from_ref(&asserted), &core.settings)?;
    if requested.iter().any(|v| !v.trim().is_empty()) {
        let named = resource::resolve_resource(requested, &core.settings)?;
        if normalise(&named.uri).ok() != normalise(&ours.uri).ok() {
            return Err(Error::InvalidTarget(
                "resource differs from the ID-JAG's resource".to_owned(),
            ));
        }
    }
    Ok(ours)
}

/// MCP extension §7.2.1: the requested scopes (all asserted ones when none are requested)
/// intersected with the asserted ones, and with what the resource understands.
fn granted_scope(
    requested: Option<&str>,
    asserted: Option<&Value>,
    resource_scopes: &[String],
) -> Result<String> {
    let asserted = match asserted {
        None | Some(Value::Null) => ScopeSet::default(),
        Some(Value::String(s)) => {
            ScopeSet::parse(s).map_err(|_| refused("the ID-JAG's scope is malformed"))?
        }
        Some(_) => return Err(refused("the ID-JAG's scope must be a string")),
    };
    let requested = ScopeSet::parse(requested.unwrap_or_default())?;
    let wanted = if requested.is_empty() {
        &asserted
    } else {
        &requested
    };
    Ok(ScopeSet::from_tokens(
        wanted
            .iter()
            .filter(|s| asserted.contains(s) && resource_scopes.iter().any(|r| r == s)),
    )
    .to_string())
}
