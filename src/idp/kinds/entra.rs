//! `kind = "entra"`: Microsoft Entra ID, v2.0 endpoint, single- and multi-tenant (UPSTREAMS §2,
//! COMPAT U2). Issuers are `https://login.microsoftonline.com/{tenant}/v2.0` (or a sovereign
//! cloud's host); `{tenant}` is a tenant id, `organizations` or `common`.

use super::{
    generic_refresh_failure, generic_refusal, standard_identity, IdpError, Quirks, RefreshFailure,
    TokenClaims, UpstreamRefusal,
};
use crate::config::{is_tenant_id, UpstreamConfig, UpstreamKind};
use crate::idp::UpstreamIdentity;

/// The placeholder of Entra's multi-tenant issuer template.
const TENANT_PLACEHOLDER: &str = "{tenantid}";

/// Entra ID.
#[derive(Debug, Clone)]
pub struct Entra {
    /// For `organizations` / `common`: the issuer with the tenant segment replaced by
    /// `{tenantid}`, which is what the discovery document names and every `iss` must fit.
    template: Option<String>,
    /// Multi-tenant with no `allowed_tenants`: every Entra tenant's users may sign in.
    any_tenant: bool,
}

impl Entra {
    /// Reads the tenant segment of the issuer.
    ///
    /// # Errors
    /// `IdpError::Config` for an issuer that is not a v2.0 issuer (`…/{tenant}/v2.0`): v1
    /// (`sts.windows.net`) tokens carry other claims, and a missing `/v2.0` makes discovery
    /// fail with "unexpected issuer URI".
    pub fn new(config: &UpstreamConfig) -> Result<Self, IdpError> {
        let configured = super::issuer(config)?;
        let issuer = configured.as_str().trim_end_matches('/');
        let segments: Vec<&str> = configured.path().split('/').skip(1).collect();
        let tenant = match segments.as_slice() {
            [tenant, "v2.0"] | [tenant, "v2.0", ""] if !tenant.is_empty() => *tenant,
            _ => {
                return Err(IdpError::Config(format!(
                    "upstream {}: an Entra issuer is https://login.microsoftonline.com/{{tenant}}/v2.0 with a tenant id, organizations or common, not {}",
                    config.id, configured
                )))
            }
        };
        let template = matches!(tenant, "organizations" | "common").then(|| {
            issuer.replacen(
                &format!("/{tenant}/v2.0"),
                &format!("/{TENANT_PLACEHOLDER}/v2.0"),
                1,
            )
        });
        let any_tenant = template.is_some() && config.policy.allowed_tenants.is_empty();
        if any_tenant && !config.policy.allowed_email_domains.is_empty() {
            // Entra sends no email_verified, and in a multi-tenant application every tenant's
            // admin sets any address for their users: an email domain restricts nothing there.
            return Err(IdpError::Config(format!(
                "upstream {}: policy.allowed_email_domains cannot restrict a multi-tenant Entra \
                 upstream (any tenant can give its users any email address); set \
                 policy.allowed_tenants to the tenant ids you trust",
                config.id
            )));
        }
        Ok(Self {
            template,
            any_tenant,
        })
    }

    /// The issuer a user of tenant `tid` gets in a multi-tenant application.
    fn tenant_issuer(template: &str, tid: &str) -> String {
        template.replacen(TENANT_PLACEHOLDER, tid, 1)
    }
}

impl Quirks for Entra {
    fn kind(&self) -> UpstreamKind {
        UpstreamKind::Entra
    }

    /// `resource` is the v1 endpoint's parameter; on v2.0 together with scopes Entra answers
    /// AADSTS901002 ("the 'resource' request parameter is not supported") or AADSTS9010010
    /// ("the resource parameter provided in the request doesn't match with the requested
    /// scopes"). MCP clients send RFC 8707 `resource` for OUR resources; it never goes upstream,
    /// and configuration may not add it either.
    fn forbidden_params(&self) -> &'static [&'static str] {
        &["resource"]
    }

    /// `offline_access` alone is no valid request: Entra answers AADSTS70011 ("The provided
    /// value for the input parameter 'scope' is not valid") when no other scope (not even
    /// `openid`) comes with it. `openid` is always sent, so this only guards a configuration
    /// that lists nothing else. Refreshes: [`Quirks::refresh_scopes`] below.
    fn authorize_scopes(
        &self,
        configured: &[String],
        _supported: Option<&[String]>,
    ) -> Vec<String> {
        if configured.iter().all(|s| s == "offline_access") {
            return vec!["openid".to_owned(), "offline_access".to_owned()];
        }
        configured.to_vec()
    }

    fn warnings(&self) -> Vec<String> {
        if self.any_tenant {
            vec!["multi-tenant issuer without policy.allowed_tenants: users of every Entra tenant can sign in".to_owned()]
        } else {
            Vec::new()
        }
    }

    fn discovery_issuer(&self, _configured: &str) -> Option<String> {
        self.template.clone()
    }

    /// Multi-tenant: the discovery `issuer` is the template `…/{tenantid}/v2.0`, which never
    /// equals `iss` (openidconnect: "Invalid issuer: expected …/{tenantid}/v2.0"). The `common`
    /// keys sign tokens of every tenant, so the signature alone proves nothing about the tenant:
    /// `tid` must be a tenant id and `iss` exactly the template filled with it
    /// (MicrosoftDocs/azure-docs#38427). Which tenants may sign in is the access policy's
    /// `allowed_tenants`.
    fn check_issuer(&self, discovered: &str, claims: &TokenClaims<'_>) -> Result<(), IdpError> {
        let Some(template) = &self.template else {
            return super::Generic.check_issuer(discovered, claims);
        };
        let tid = claims.extra.tid.as_deref().ok_or_else(|| {
            IdpError::InvalidIdToken("a multi-tenant Entra ID token without tid".to_owned())
        })?;
        if !is_tenant_id(tid) {
            return Err(IdpError::InvalidIdToken(
                "the tid claim is not a tenant id".to_owned(),
            ));
        }
        if claims.issuer != Self::tenant_issuer(template, tid) {
            return Err(IdpError::InvalidIdToken(format!(
                "iss {:?} does not fit the issuer template {template:?} with its tid",
                claims.issuer
            )));
        }
        Ok(())
    }

    /// Users are keyed by `tid` + `oid`: `sub` is pairwise per application and `email` is
    /// unverified and mutable at Entra (no `email_verified`; the "nOAuth" takeovers keyed by
    /// email). `oid` needs the `profile` scope.
    fn identity(&self, claims: &TokenClaims<'_>) -> Result<UpstreamIdentity, IdpError> {
        let (Some(tid), Some(oid)) = (claims.extra.tid.as_deref(), claims.extra.oid.as_deref())
        else {
            return Err(IdpError::InvalidIdToken(
                "the Entra ID token lacks tid or oid (request the profile scope)".to_owned(),
            ));
        };
        let mut identity = standard_identity(claims, format!("{tid}/{oid}"));
        identity.tenant = Some(tid.to_owned());
        // Above 200 groups Entra leaves `groups` out and points `_claim_names` at Microsoft
        // Graph: the list is unknown, not empty (`graph_groups` resolves it: idp/entra_graph.rs).
        identity.groups_incomplete =
            claims.extra.groups_elsewhere && claims.extra.groups.is_empty();
        Ok(identity)
    }

    /// Entra's token endpoint documents `scope` as required on refresh (a request without it
    /// risks AADSTS900144, "The request body must contain the following parameter: 'scope'"),
    /// and within what was granted: the authorization scopes are sent again. A `.default`
    /// scope (all of a resource's configured permissions) is never sent together with
    /// `offline_access` on refresh: Entra refuses the mix with AADSTS70011 ("The provided value
    /// for the input parameter 'scope' is not valid"), and it issues a new refresh token
    /// without it anyway.
    fn refresh_scopes(&self, configured: &[String]) -> Option<Vec<String>> {
        let mut scopes = self.authorize_scopes(configured, None);
        if scopes
            .iter()
            .any(|s| s == ".default" || s.ends_with("/.default"))
        {
            scopes.retain(|s| s != "offline_access");
        }
        Some(scopes)
    }

    /// AADSTS50196 (Entra detected a request loop and throttles the client) comes as
    /// `invalid_grant` but says nothing about the user: retry later. Every other
    /// `invalid_grant` (AADSTS50173 grant revoked, AADSTS700082 expired by inactivity,
    /// AADSTS50057 user disabled, AADSTS50076 MFA required…) ends the grant.
    fn classify_refresh_error(&self, error: &str, description: Option<&str>) -> RefreshFailure {
        if description.is_some_and(|d| d.starts_with("AADSTS50196")) {
            return RefreshFailure::Transient;
        }
        generic_refresh_failure(error, description)
    }

    /// Entra puts its AADSTS number at the start of `error_description`; the ones a user meets
    /// get our own words, anything else the generic text.
    fn classify_error(&self, error: &str, description: Option<&str>) -> UpstreamRefusal {
        let aadsts = description
            .and_then(|d| d.strip_prefix("AADSTS"))
            .map(|d| d.split(|c: char| !c.is_ascii_digit()).next().unwrap_or(""));
        let message = match aadsts {
            Some("50105") => "your account is not assigned to this application in Microsoft Entra ID; ask your administrator to assign you",
            Some("65001" | "90094" | "90095") => "this application needs an administrator's consent in your Microsoft Entra tenant",
            Some("50020") => "accounts of your organisation cannot sign in to this application",
            Some("700016") => "this application is not registered in your Microsoft Entra tenant",
            Some("70011" | "901002" | "9010010") => "Microsoft Entra ID refused the request dcr-bridge made; the administrator should check the upstream's scopes",
            _ => return generic_refusal(error, description),
        };
        UpstreamRefusal::refused(message)
    }
}
