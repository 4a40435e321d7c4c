#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The kinds' hooks, without network: what each sends, accepts and maps.

use super::*;
use crate::idp::IssuerCheck;

const TID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const OTHER_TID: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

fn config(kind: UpstreamKind, issuer: &str) -> UpstreamConfig {
    serde_json::from_value(serde_json::json!({
        "id": "up", "kind": kind.as_str(), "issuer": issuer,
        "client_id": "c", "client_secret": "s",
    }))
    .unwrap()
}

fn quirks(kind: UpstreamKind, issuer: &str) -> Box<dyn Quirks> {
    for_config(&config(kind, issuer)).unwrap()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

fn claims<'a>(issuer: &'a str, extra: &'a ExtraClaims) -> TokenClaims<'a> {
    TokenClaims {
        issuer,
        subject: "pairwise-sub",
        email: Some("alice@example.com"),
        email_verified: None,
        name: Some("Alice"),
        extra,
    }
}

fn entra_claims(tid: Option<&str>, oid: Option<&str>) -> ExtraClaims {
    ExtraClaims {
        tid: tid.map(str::to_owned),
        oid: oid.map(str::to_owned),
        ..ExtraClaims::default()
    }
}

#[test]
fn generic_keeps_everything_as_configured_and_the_issuer_exact() {
    let q = quirks(UpstreamKind::Oidc, "https://idp.example.com");
    let scopes = strings(&["openid", "email", "offline_access"]);
    assert_eq!(
        q.authorize_scopes(&scopes, Some(&strings(&["groups"]))),
        scopes
    );
    assert!(q.authorize_params().is_empty());
    assert!(q.forbidden_params().is_empty());
    assert_eq!(q.discovery_issuer("https://idp.example.com"), None);
    let extra = ExtraClaims::default();
    let iss = "https://idp.example.com";
    assert!(q.check_issuer(iss, &claims(iss, &extra)).is_ok());
    assert!(q
        .check_issuer(iss, &claims("https://idp.example.com/", &extra))
        .is_err());
    let id = q.identity(&claims(iss, &extra)).unwrap();
    assert_eq!((id.subject.as_str(), id.tenant), ("pairwise-sub", None));
}

#[test]
fn generic_error_mapping_is_the_one_the_callback_had() {
    let q = Generic;
    let r = q.classify_error("access_denied", Some("AADSTS50105: whatever"));
    assert_eq!(
        r.message,
        "sign-in was cancelled or refused at the identity provider"
    );
    assert!(!r.transient);
    for code in ["temporarily_unavailable", "server_error"] {
        assert!(q.classify_error(code, None).transient, "{code}");
    }
    assert_eq!(
        q.classify_error("login_required", None).message,
        "the identity provider refused the sign-in (login_required)"
    );
    // Not code-shaped: never echoed (it would be upstream-controlled text on our page).
    for odd in ["<script>", "Bad Code", "", &"x".repeat(65)] {
        assert_eq!(
            q.classify_error(odd, None).message,
            "the identity provider refused the sign-in",
            "{odd}"
        );
    }
}

#[test]
fn google_sends_offline_access_as_parameters_never_as_scope() {
    let q = quirks(UpstreamKind::Google, "https://accounts.google.com");
    let scopes = q.authorize_scopes(
        &strings(&["openid", "email", "profile", "offline_access"]),
        None,
    );
    assert_eq!(scopes, strings(&["openid", "email", "profile"]));
    assert_eq!(
        q.authorize_params(),
        &[("access_type", "offline"), ("prompt", "consent")]
    );
}

#[test]
fn google_maps_the_hd_claim_to_the_hosted_domain_and_other_kinds_do_not() {
    let iss = "https://accounts.google.com";
    let google = quirks(UpstreamKind::Google, iss);
    let hd = |v: Option<&str>| ExtraClaims {
        hd: v.map(str::to_owned),
        ..ExtraClaims::default()
    };
    let id = |q: &dyn Quirks, extra: &ExtraClaims| q.identity(&claims(iss, extra)).unwrap();
    assert_eq!(
        id(google.as_ref(), &hd(Some("Acme.COM")))
            .hosted_domain
            .as_deref(),
        Some("acme.com")
    );
    // A consumer account has none; an empty one counts as none.
    assert_eq!(id(google.as_ref(), &hd(None)).hosted_domain, None);
    assert_eq!(id(google.as_ref(), &hd(Some(""))).hosted_domain, None);
    // A non-string `hd` is read as absent when the token is parsed.
    let odd: ExtraClaims = serde_json::from_value(serde_json::json!({"hd": ["acme.com"]})).unwrap();
    assert_eq!(id(google.as_ref(), &odd).hosted_domain, None);
    // Only the google kind reads it.
    let generic = quirks(UpstreamKind::Oidc, iss);
    assert_eq!(
        id(generic.as_ref(), &hd(Some("acme.com"))).hosted_domain,
        None
    );
    // No hint without exactly one allowed domain.
    assert!(google.authorize_hints().is_empty());
}

#[test]
fn google_accepts_its_legacy_issuer_without_scheme_and_nothing_else() {
    let q = quirks(UpstreamKind::Google, "accounts.google.com");
    let extra = ExtraClaims::default();
    let iss = "https://accounts.google.com";
    assert!(q.check_issuer(iss, &claims(iss, &extra)).is_ok());
    assert!(q
        .check_issuer(iss, &claims("accounts.google.com", &extra))
        .is_ok());
    for bad in [
        "http://accounts.google.com",
        "accounts.google.com.evil",
        "evil.com",
        "https://accounts.google.com/",
    ] {
        assert!(q.check_issuer(iss, &claims(bad, &extra)).is_err(), "{bad}");
    }
    let r = q.classify_error("admin_policy_enforced", None);
    assert!(r.message.contains("Workspace administrator"), "{r:?}");
    assert_eq!(
        q.classify_error("access_denied", None),
        generic_refusal("access_denied", None)
    );
}

#[test]
fn okta_takes_org_and_custom_authorization_server_issuers_only() {
    for ok in [
        "https://corp.okta.com",
        "https://corp.okta.com/",
        "https://corp.okta.com/oauth2/default",
        "https://login.corp.com/oauth2/aus1a2b3c4",
    ] {
        assert!(for_config(&config(UpstreamKind::Okta, ok)).is_ok(), "{ok}");
    }
    for bad in [
        "https://corp.okta.com/oauth2",
        "https://corp.okta.com/oauth2/v1",
        "https://corp.okta.com/oauth2/default/v1",
        "https://corp.okta.com/oauth2/default/.well-known/openid-configuration",
    ] {
        let err = for_config(&config(UpstreamKind::Okta, bad))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/oauth2/{authServerId}"), "{bad}: {err}");
    }
}

#[test]
fn okta_asks_for_groups_where_the_authorization_server_offers_them() {
    let q = quirks(UpstreamKind::Okta, "https://corp.okta.com/oauth2/default");
    let configured = strings(&["openid", "email"]);
    assert_eq!(q.authorize_scopes(&configured, None), configured);
    assert_eq!(
        q.authorize_scopes(&configured, Some(&strings(&["openid", "email"]))),
        configured
    );
    assert_eq!(
        q.authorize_scopes(&configured, Some(&strings(&["openid", "groups"]))),
        strings(&["openid", "email", "groups"])
    );
    let with = strings(&["openid", "groups"]);
    assert_eq!(q.authorize_scopes(&with, Some(&with)), with, "not twice");
    let r = q.classify_error(
        "access_denied",
        Some("User is not assigned to the client application."),
    );
    assert!(r.message.contains("not assigned"), "{r:?}");
    assert_eq!(
        q.classify_error("access_denied", Some("cancelled")),
        generic_refusal("access_denied", None)
    );
}

#[test]
fn entra_issuers_single_and_multi_tenant() {
    let single = format!("https://login.microsoftonline.com/{TID}/v2.0");
    assert_eq!(
        quirks(UpstreamKind::Entra, &single).discovery_issuer(&single),
        None
    );
    for tenant in ["organizations", "common"] {
        let issuer = format!("https://login.microsoftonline.com/{tenant}/v2.0");
        assert_eq!(
            quirks(UpstreamKind::Entra, &issuer)
                .discovery_issuer(&issuer)
                .as_deref(),
            Some("https://login.microsoftonline.com/{tenantid}/v2.0")
        );
    }
    for bad in [
        "https://login.microsoftonline.com/common",
        "https://sts.windows.net/72f988bf-86f1-41af-91ab-2d7cd011db47/",
        "https://login.microsoftonline.com/v2.0",
        "https://login.microsoftonline.com/common/oauth2/v2.0",
    ] {
        let err = for_config(&config(UpstreamKind::Entra, bad))
            .unwrap_err()
            .to_string();
        assert!(err.contains("{tenant}/v2.0"), "{bad}: {err}");
    }
}

#[test]
fn entra_multi_tenant_iss_must_be_the_template_filled_with_tid() {
    let q = quirks(
        UpstreamKind::Entra,
        "https://login.microsoftonline.com/organizations/v2.0",
    );
    let template = "https://login.microsoftonline.com/{tenantid}/v2.0";
    let iss = format!("https://login.microsoftonline.com/{TID}/v2.0");
    let good = entra_claims(Some(TID), Some("oid-1"));
    assert!(q.check_issuer(template, &claims(&iss, &good)).is_ok());
    let cases = [
        (
            entra_claims(None, Some("oid-1")),
            iss.clone(),
            "without tid",
        ),
        (
            entra_claims(Some(OTHER_TID), Some("oid-1")),
            iss.clone(),
            "tid of another tenant",
        ),
        (
            entra_claims(Some("common"), Some("oid-1")),
            "https://login.microsoftonline.com/common/v2.0".to_owned(),
            "tid not a GUID",
        ),
        (
            entra_claims(Some(TID), Some("oid-1")),
            format!("https://evil.example/{TID}/v2.0"),
            "other host",
        ),
        (
            entra_claims(Some(TID), Some("oid-1")),
            template.to_owned(),
            "the template itself",
        ),
    ];
    for (extra, iss, what) in cases {
        assert!(
            q.check_issuer(template, &claims(&iss, &extra)).is_err(),
            "{what}"
        );
    }
}

#[test]
fn entra_single_tenant_iss_is_exact() {
    let single = format!("https://login.microsoftonline.com/{TID}/v2.0");
    let q = quirks(UpstreamKind::Entra, &single);
    let extra = entra_claims(Some(TID), Some("oid-1"));
    assert!(q.check_issuer(&single, &claims(&single, &extra)).is_ok());
    let other = format!("https://login.microsoftonline.com/{OTHER_TID}/v2.0");
    assert!(q
        .check_issuer(
            &single,
            &claims(&other, &entra_claims(Some(OTHER_TID), None))
        )
        .is_err());
}

#[test]
fn entra_users_are_keyed_by_tid_and_oid_never_sub_or_email() {
    let q = quirks(
        UpstreamKind::Entra,
        "https://login.microsoftonline.com/common/v2.0",
    );
    let iss = format!("https://login.microsoftonline.com/{TID}/v2.0");
    let extra = entra_claims(Some(TID), Some("00000000-0000-0000-0000-0000000000a1"));
    let id = q.identity(&claims(&iss, &extra)).unwrap();
    assert_eq!(
        id.subject,
        format!("{TID}/00000000-0000-0000-0000-0000000000a1")
    );
    assert_eq!(id.tenant.as_deref(), Some(TID));
    assert_eq!(id.email_verified, None);
    for extra in [
        entra_claims(Some(TID), None),
        entra_claims(None, Some("oid")),
    ] {
        let err = q.identity(&claims(&iss, &extra)).unwrap_err().to_string();
        assert!(err.contains("profile"), "{err}");
    }
}

#[test]
fn entra_groups_overage_marks_the_groups_incomplete() {
    let q = quirks(
        UpstreamKind::Entra,
        "https://login.microsoftonline.com/common/v2.0",
    );
    let iss = format!("https://login.microsoftonline.com/{TID}/v2.0");
    let token = serde_json::json!({
        "tid": TID, "oid": "o1",
        "_claim_names": {"groups": "src1"},
        "_claim_sources": {"src1": {"endpoint": "https://graph.microsoft.com/v1.0/users/o1/getMemberObjects"}},
    });
    let extra: ExtraClaims = serde_json::from_value(token).unwrap();
    assert!(q.identity(&claims(&iss, &extra)).unwrap().groups_incomplete);
    let odd: ExtraClaims =
        serde_json::from_value(serde_json::json!({"tid": TID, "oid": "o1", "_claim_names": "x"}))
            .unwrap();
    assert!(!q.identity(&claims(&iss, &odd)).unwrap().groups_incomplete);
    let listed = entra_claims(Some(TID), Some("o1"));
    assert!(
        !q.identity(&claims(&iss, &listed))
            .unwrap()
            .groups_incomplete
    );
}

#[test]
fn entra_never_sends_resource_nor_offline_access_alone() {
    let q = quirks(
        UpstreamKind::Entra,
        "https://login.microsoftonline.com/common/v2.0",
    );
    assert!(q.forbidden_params().contains(&"resource"));
    assert_eq!(
        q.authorize_scopes(&strings(&["offline_access"]), None),
        strings(&["openid", "offline_access"])
    );
    let usual = strings(&["openid", "profile", "email", "offline_access"]);
    assert_eq!(q.authorize_scopes(&usual, None), usual);
    let mut c = config(
        UpstreamKind::Entra,
        "https://login.microsoftonline.com/common/v2.0",
    );
    c.extra_authorize_params.insert(
        "resource".to_owned(),
        "https://graph.microsoft.com".to_owned(),
    );
    let clock = std::sync::Arc::new(crate::clock::ManualClock::new(0));
    let err =
        crate::idp::OidcUpstream::new(&c, "https://b.example/oauth/callback", clock).unwrap_err();
    assert!(err.to_string().contains("resource"), "{err}");
}

#[test]
fn entra_errors_are_told_by_their_aadsts_number() {
    let q = quirks(
        UpstreamKind::Entra,
        "https://login.microsoftonline.com/common/v2.0",
    );
    let said = |d: &str| q.classify_error("access_denied", Some(d)).message;
    assert!(
        said("AADSTS50105: The signed in user 'x' is not assigned to a role")
            .contains("not assigned")
    );
    assert!(said("AADSTS65001: The user or administrator has not consented").contains("consent"));
    assert!(
        said("AADSTS50020: User account from identity provider does not exist in tenant")
            .contains("organisation")
    );
    assert!(q
        .classify_error(
            "invalid_request",
            Some("AADSTS901002: The 'resource' request parameter is not supported.")
        )
        .message
        .contains("scopes"));
    assert_eq!(
        said("AADSTS99999: new"),
        generic_refusal("access_denied", None).message
    );
    assert_eq!(
        said("no number"),
        generic_refusal("access_denied", None).message
    );
    // The upstream's words are never echoed.
    assert!(!said("AADSTS50105: <b>hi</b>").contains("<b>"));
}

#[test]
fn response_iss_fits_a_tenant_template_only_with_a_tenant_id() {
    let check = IssuerCheck {
        issuer: "https://login.microsoftonline.com/{tenantid}/v2.0".to_owned(),
        iss_required: false,
    };
    assert!(check.accepts(&format!("https://login.microsoftonline.com/{TID}/v2.0")));
    for bad in [
        "https://login.microsoftonline.com/common/v2.0".to_owned(),
        format!("https://login.microsoftonline.com/{TID}/x/v2.0"),
        format!("https://evil.example/{TID}/v2.0"),
        "https://login.microsoftonline.com//v2.0".to_owned(),
    ] {
        assert!(!check.accepts(&bad), "{bad}");
    }
    let plain = IssuerCheck {
        issuer: "https://idp.example.com/".to_owned(),
        iss_required: true,
    };
    assert!(plain.accepts("https://idp.example.com/") && plain.accepts("https://idp.example.com"));
    assert!(!plain.accepts("https://idp.example.com//"));
}

#[test]
fn entra_multi_tenant_email_domains_need_allowed_tenants() {
    let with_policy = |issuer: &str, tenants: &[&str]| {
        let mut c = config(UpstreamKind::Entra, issuer);
        c.policy.allowed_email_domains = strings(&["example.com"]);
        c.policy.allowed_tenants = strings(tenants);
        for_config(&c)
    };
    for tenant in ["organizations", "common"] {
        let issuer = format!("https://login.microsoftonline.com/{tenant}/v2.0");
        let err = with_policy(&issuer, &[]).unwrap_err().to_string();
        assert!(err.contains("policy.allowed_tenants"), "{err}");
        assert!(with_policy(&issuer, &[TID]).is_ok());
    }
    // One tenant: its admins own the addresses, the domain check means something.
    let single = format!("https://login.microsoftonline.com/{TID}/v2.0");
    assert!(with_policy(&single, &[]).is_ok());
}

#[test]
fn refresh_errors_that_end_the_users_grant_and_those_that_do_not() {
    let generic = quirks(UpstreamKind::Oidc, "https://idp.example");
    for code in [
        "invalid_grant",
        "interaction_required",
        "login_required",
        "consent_required",
    ] {
        assert_eq!(
            generic.classify_refresh_error(code, None),
            RefreshFailure::Revoked,
            "{code}"
        );
    }
    // Our registration's trouble or the upstream's, never a reason to drop every grant.
    for code in [
        "invalid_client",
        "unauthorized_client",
        "invalid_scope",
        "server_error",
        "temporarily_unavailable",
        "whatever",
    ] {
        assert_eq!(
            generic.classify_refresh_error(code, None),
            RefreshFailure::Transient,
            "{code}"
        );
    }
    let google = quirks(UpstreamKind::Google, "https://accounts.google.com");
    assert_eq!(
        google.classify_refresh_error("admin_policy_enforced", None),
        RefreshFailure::Revoked
    );
    let entra = quirks(
        UpstreamKind::Entra,
        "https://login.microsoftonline.com/common/v2.0",
    );
    let disabled = "AADSTS50057: The user account is disabled.";
    assert_eq!(
        entra.classify_refresh_error("invalid_grant", Some(disabled)),
        RefreshFailure::Revoked
    );
    let looping = "AADSTS50196: The server terminated an operation because it encountered a client request loop.";
    assert_eq!(
        entra.classify_refresh_error("invalid_grant", Some(looping)),
        RefreshFailure::Transient
    );
}

#[test]
fn only_entra_sends_scopes_on_refresh_and_never_offline_access_with_default() {
    let usual = strings(&["openid", "profile", "email", "offline_access"]);
    for kind in [UpstreamKind::Oidc, UpstreamKind::Google] {
        let issuer = "https://accounts.google.com";
        assert_eq!(quirks(kind, issuer).refresh_scopes(&usual), None);
    }
    let okta = quirks(UpstreamKind::Okta, "https://acme.okta.com/oauth2/default");
    assert_eq!(okta.refresh_scopes(&usual), None);
    let entra = quirks(
        UpstreamKind::Entra,
        "https://login.microsoftonline.com/common/v2.0",
    );
    assert_eq!(entra.refresh_scopes(&usual), Some(usual.clone()));
    let graph = strings(&[
        "openid",
        "offline_access",
        "https://graph.microsoft.com/.default",
    ]);
    assert_eq!(
        entra.refresh_scopes(&graph),
        Some(strings(&["openid", "https://graph.microsoft.com/.default"]))
    );
    assert_eq!(
        entra.refresh_scopes(&strings(&["offline_access"])),
        Some(strings(&["openid", "offline_access"]))
    );
}
