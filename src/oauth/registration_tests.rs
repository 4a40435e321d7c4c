#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::json;

use super::*;
use crate::config::{RegistrationSettings, TokenSettings};

const ISSUER: &str = "https://auth.example.com";

fn settings() -> Settings {
    Settings {
        issuer: ISSUER.to_owned(),
        resources: vec![],
        tokens: TokenSettings::default(),
        registration: RegistrationSettings::default(),
        default_upstream: "okta".to_owned(),
        home_realms: Vec::new(),
        client_rules: Vec::new(),
        cimd: crate::config::CimdSettings::default(),
        machine: Default::default(),
        enterprise_idps: Vec::new(),
    }
}

fn req(v: Value) -> RegistrationRequest {
    RegistrationRequest::from_json(v).unwrap()
}

fn reg(v: Value) -> Result<NewClient, Error> {
    register(req(v), &settings(), 10, 1_700_000_000)
}

fn reg_err(v: Value) -> (String, String) {
    let e = reg(v).unwrap_err();
    (
        e.code().to_owned(),
        e.description().unwrap_or_default().to_owned(),
    )
}

fn inspector() -> Value {
    json!({"client_name":"MCP Inspector","client_uri":"https://github.com/modelcontextprotocol/inspector",
       "redirect_uris":["http://127.0.0.1:6276/oauth/callback"],"token_endpoint_auth_method":"none",
       "grant_types":["authorization_code","refresh_token"],"response_types":["code"],
       "scope":"mcp:read offline_access","application_type":"native"})
}

#[test]
fn inspector_registration_as_captured_on_the_wire() {
    let n = reg(inspector()).unwrap();
    let r = &n.record;
    assert!(r.client_id.starts_with(CLIENT_ID_PREFIX) && r.client_id.len() > 20);
    assert_eq!(r.kind, ClientKind::Dcr);
    assert_eq!(r.token_endpoint_auth_method, "none");
    assert!(n.client_secret.is_none() && r.secret_hash.is_none());
    assert!(n
        .registration_access_token
        .starts_with(REGISTRATION_TOKEN_PREFIX));
    assert_eq!(
        r.registration_token_hash.as_deref(),
        Some(crypto::hash(&n.registration_access_token).as_str())
    );
    assert_eq!(r.application_type, "native");
    assert_eq!(r.scope.as_deref(), Some("mcp:read offline_access"));
    // No `[[client_rules]]` upstream for it: unmapped.
    assert_eq!(r.upstream_id, "");
    assert_eq!(
        (r.created_at, r.updated_at, r.last_used_at, r.disabled),
        (1_700_000_000, 1_700_000_000, None, false)
    );
}

#[test]
fn claude_style_confidential_registration() {
    let n = reg(json!({"client_name":"Claude","redirect_uris":["https://claude.ai/api/mcp/auth_callback"],
        "token_endpoint_auth_method":"client_secret_post","grant_types":["authorization_code","refresh_token"]}))
    .unwrap();
    let secret = n.client_secret.as_deref().unwrap();
    assert!(secret.starts_with(CLIENT_SECRET_PREFIX));
    assert_eq!(
        n.record.secret_hash.as_deref(),
        Some(crypto::hash(secret).as_str())
    );
    assert_eq!(n.record.application_type, "web");
}

#[test]
fn minimal_body_gets_rfc7591_defaults() {
    let n = reg(json!({"redirect_uris":["https://app.example/cb"]})).unwrap();
    assert_eq!(n.record.token_endpoint_auth_method, "client_secret_basic");
    assert!(n.client_secret.is_some());
    assert_eq!(
        n.record.grant_types,
        ["authorization_code", "refresh_token"]
    );
    assert_eq!(n.record.response_types, ["code"]);
    assert_eq!(n.record.client_name, None);
    assert_eq!(n.record.scope, None);
}

#[test]
fn refresh_token_grant_is_always_added() {
    // COMPAT C5: Claude expects refresh_token in grant_types.
    let n = reg(json!({"redirect_uris":["http://localhost/cb"],"grant_types":["authorization_code"],"token_endpoint_auth_method":"none"})).unwrap();
    assert_eq!(
        n.record.grant_types,
        ["authorization_code", "refresh_token"]
    );
    let n =
        reg(json!({"redirect_uris":["http://localhost/cb"],"grant_types":[],"response_types":[]}))
            .unwrap();
    assert_eq!(
        n.record.grant_types,
        ["authorization_code", "refresh_token"]
    );
}

#[test]
fn unsupported_grants_responses_and_methods_are_refused() {
    for body in [
        json!({"redirect_uris":["https://a.example/cb"],"grant_types":["authorization_code","implicit"]}),
        json!({"redirect_uris":["https://a.example/cb"],"grant_types":["password"]}),
        json!({"redirect_uris":["https://a.example/cb"],"grant_types":["client_credentials"]}),
        json!({"redirect_uris":["https://a.example/cb"],"response_types":["token"]}),
        json!({"redirect_uris":["https://a.example/cb"],"response_types":["code id_token"]}),
        json!({"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"private_key_jwt"}),
        json!({"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"client_secret_jwt"}),
        json!({"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"tls_client_auth"}),
        json!({"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"None"}),
        json!({"redirect_uris":["https://a.example/cb"],"jwks_uri":"https://a.example/jwks"}),
        json!({"redirect_uris":["https://a.example/cb"],"jwks":{"keys":[]}}),
        json!({"redirect_uris":["https://a.example/cb"],"application_type":"desktop"}),
    ] {
        let (code, d) = reg_err(body.clone());
        assert_eq!(code, "invalid_client_metadata", "{body}: {d}");
    }
}

#[test]
fn redirect_uris_are_required_bounded_and_validated() {
    assert_eq!(reg_err(json!({})).0, "invalid_redirect_uri");
    assert_eq!(
        reg_err(json!({"redirect_uris":[]})).0,
        "invalid_redirect_uri"
    );
    let eleven: Vec<String> = (0..11).map(|i| format!("http://127.0.0.1/cb{i}")).collect();
    assert!(reg_err(json!({"redirect_uris": eleven}))
        .1
        .contains("at most 10"));
    let (code, d) =
        reg_err(json!({"redirect_uris":["https://ok.example/cb","javascript:alert(1)"]}));
    assert_eq!(code, "invalid_redirect_uri");
    assert!(d.starts_with("redirect_uris[1]:"), "{d}");
    assert_eq!(
        reg_err(json!({"redirect_uris":["http://evil.com/cb"]})).0,
        "invalid_redirect_uri"
    );
    assert_eq!(
        reg_err(json!({"redirect_uris":["https://a.example/cb#x"]})).0,
        "invalid_redirect_uri"
    );
    let n = reg(json!({"redirect_uris":["http://localhost/cb","http://localhost/cb"]})).unwrap();
    assert_eq!(n.record.redirect_uris, ["http://localhost/cb"]);
}

#[test]
fn application_type_defaults_and_web_restrictions() {
    let app = |uris: Value, t: Option<&str>| {
        let mut body = json!({"redirect_uris": uris, "token_endpoint_auth_method": "none"});
        if let Some(t) = t {
            body["application_type"] = json!(t);
        }
        reg(body).map(|n| n.record.application_type)
    };
    assert_eq!(
        app(json!(["cursor://cb", "http://[::1]/cb"]), None).unwrap(),
        "native"
    );
    assert_eq!(
        app(json!(["cursor://cb", "https://a.example/cb"]), None).unwrap(),
        "web"
    );
    assert_eq!(
        app(json!(["https://a.example/cb"]), Some("native")).unwrap(),
        "native"
    );
    // Mislabelled loopback "web" clients are let through.
    assert_eq!(
        app(json!(["http://localhost:3000/cb"]), Some("web")).unwrap(),
        "web"
    );
    let e = app(json!(["vscode://cb"]), Some("web")).unwrap_err();
    assert_eq!(e.code(), "invalid_redirect_uri");
}

#[test]
fn displayed_text_is_cleaned_and_bounded() {
    let n = reg(
        json!({"redirect_uris":["cursor://cb"],"client_name":"  Cur\u{0}sor\u{202E}gpj.exe\n  ",
        "software_id":"\u{200B}","contacts":["a@example.com",""," "]}),
    )
    .unwrap();
    assert_eq!(n.record.client_name.as_deref(), Some("Cursorgpj.exe"));
    assert_eq!(n.record.software_id, None);
    assert_eq!(n.record.contacts, ["a@example.com"]);
    let unicode =
        reg(json!({"redirect_uris":["cursor://cb"],"client_name":"Клиент 客户端 🚀"})).unwrap();
    assert_eq!(
        unicode.record.client_name.as_deref(),
        Some("Клиент 客户端 🚀")
    );
    assert!(
        reg_err(json!({"redirect_uris":["cursor://cb"],"client_name":"x".repeat(201)}))
            .1
            .contains("client_name")
    );
    reg(json!({"redirect_uris":["cursor://cb"],"client_name":"é".repeat(200)})).unwrap();
    let eleven: Vec<String> = (0..11).map(|i| format!("{i}@example.com")).collect();
    assert!(
        reg_err(json!({"redirect_uris":["cursor://cb"],"contacts":eleven}))
            .1
            .contains("contacts")
    );
}

/// Every Default_Ignorable_Code_Point range (DerivedCoreProperties.txt), Zl/Zp and Cc, at both
/// ends of each range.
const INVISIBLE: [char; 46] = [
    '\u{0}',
    '\u{1F}',
    '\u{7F}',
    '\u{85}',
    '\u{9F}',
    '\u{2028}',
    '\u{2029}',
    '\u{00AD}',
    '\u{034F}',
    '\u{061C}',
    '\u{115F}',
    '\u{1160}',
    '\u{17B4}',
    '\u{17B5}',
    '\u{180B}',
    '\u{180E}',
    '\u{180F}',
    '\u{200B}',
    '\u{200F}',
    '\u{202A}',
    '\u{202E}',
    '\u{2060}',
    '\u{2061}',
    '\u{2064}',
    '\u{2065}',
    '\u{2066}',
    '\u{2069}',
    '\u{206F}',
    '\u{3164}',
    '\u{FE00}',
    '\u{FE0F}',
    '\u{FEFF}',
    '\u{FFA0}',
    '\u{FFF0}',
    '\u{FFF8}',
    '\u{1BCA0}',
    '\u{1BCA3}',
    '\u{1D173}',
    '\u{1D17A}',
    '\u{E0000}',
    '\u{E0001}',
    '\u{E0020}',
    '\u{E007F}',
    '\u{E0100}',
    '\u{E01EF}',
    '\u{E0FFF}',
];

#[test]
fn client_name_drops_every_invisible_and_bidi_character() {
    for c in INVISIBLE {
        let n = reg(json!({"redirect_uris":["cursor://cb"],"client_name":format!("Cla{c}ude")}))
            .unwrap();
        assert_eq!(
            n.record.client_name.as_deref(),
            Some("Claude"),
            "U+{:04X}",
            u32::from(c)
        );
    }
    // Neighbours of the ranges are visible and kept.
    for c in [
        '\u{00AE}', '\u{0350}', '\u{180A}', '\u{2027}', '\u{2070}', '\u{FFFD}',
    ] {
        let n =
            reg(json!({"redirect_uris":["cursor://cb"],"client_name":format!("a{c}b")})).unwrap();
        assert_eq!(
            n.record.client_name,
            Some(format!("a{c}b")),
            "U+{:04X}",
            u32::from(c)
        );
    }
}

#[test]
fn client_name_whitespace_is_collapsed_and_trimmed() {
    let name = "\u{3000}\u{00A0}My\u{2003}\u{2003} \u{202F}App\u{205F}\u{1680}2\u{3000} ";
    let n = reg(json!({"redirect_uris":["cursor://cb"],"client_name":name})).unwrap();
    assert_eq!(n.record.client_name.as_deref(), Some("My App 2"));
    // Whitespace with an invisible character in between is still one run.
    let n = reg(json!({"redirect_uris":["cursor://cb"],"client_name":"My \u{200B} \u{3164}App"}))
        .unwrap();
    assert_eq!(n.record.client_name.as_deref(), Some("My App"));
}

#[test]
fn client_name_of_only_invisible_characters_is_absent() {
    let blank: String = INVISIBLE
        .iter()
        .chain(&[' ', '\u{3000}', '\u{2003}'])
        .collect();
    let n = reg(json!({"redirect_uris":["cursor://cb"],"client_name":blank})).unwrap();
    assert_eq!(n.record.client_name, None);
    for name in [
        "\u{3164}",
        "\u{115F}\u{1160}",
        "\u{FFA0}\u{3000}",
        "\u{061C} \u{00AD}",
    ] {
        let n = reg(json!({"redirect_uris":["cursor://cb"],"client_name":name})).unwrap();
        assert_eq!(n.record.client_name, None, "{name:?}");
    }
    // The length bound applies to what is kept: invisible padding does not count.
    let padded = format!("{}{}", "x".repeat(200), "\u{200B}".repeat(50));
    let n = reg(json!({"redirect_uris":["cursor://cb"],"client_name":padded})).unwrap();
    assert_eq!(n.record.client_name, Some("x".repeat(200)));
}

#[test]
fn displayed_uris_must_be_https_or_loopback() {
    for (field, value) in [
        ("client_uri", "http://example.com"),
        ("logo_uri", "javascript:alert(1)"),
        ("logo_uri", "data:image/png;base64,AAAA"),
        ("tos_uri", "ftp://example.com/tos"),
        ("policy_uri", "https://user:pw@example.com/p"),
        ("client_uri", "https://exa mple.com"),
        ("client_uri", "not a url"),
    ] {
        let mut body = json!({"redirect_uris":["cursor://cb"]});
        body[field] = json!(value);
        let (code, d) = reg_err(body);
        assert_eq!(code, "invalid_client_metadata");
        assert!(d.starts_with(field), "{d}");
    }
    let long = format!("https://example.com/{}", "a".repeat(2000));
    assert_eq!(
        reg_err(json!({"redirect_uris":["cursor://cb"],"logo_uri":long})).0,
        "invalid_client_metadata"
    );
    let n = reg(json!({"redirect_uris":["cursor://cb"],"client_uri":"https://cursor.com","logo_uri":"http://127.0.0.1/l.png","tos_uri":""})).unwrap();
    assert_eq!(n.record.client_uri.as_deref(), Some("https://cursor.com"));
    assert_eq!(n.record.logo_uri.as_deref(), Some("http://127.0.0.1/l.png"));
}

#[test]
fn scope_is_validated_and_normalised() {
    let n = reg(json!({"redirect_uris":["cursor://cb"],"scope":"  b a  b "})).unwrap();
    assert_eq!(n.record.scope.as_deref(), Some("b a"));
    assert_eq!(
        reg(json!({"redirect_uris":["cursor://cb"],"scope":""}))
            .unwrap()
            .record
            .scope,
        None
    );
    assert_eq!(
        reg_err(json!({"redirect_uris":["cursor://cb"],"scope":"a\"b"})).0,
        "invalid_client_metadata"
    );
}

#[test]
fn from_json_names_the_field_with_the_wrong_type() {
    for (body, field) in [
        (
            json!({"redirect_uris":"https://a.example/cb"}),
            "redirect_uris",
        ),
        (json!({"redirect_uris":[1]}), "redirect_uris"),
        (json!({"redirect_uris":[null]}), "redirect_uris"),
        (json!({"client_name":5}), "client_name"),
        (json!({"grant_types":"authorization_code"}), "grant_types"),
        (json!({"contacts":{"a":1}}), "contacts"),
        (json!({"jwks":"x"}), "jwks"),
        (json!({"scope":["a"]}), "scope"),
    ] {
        let e = RegistrationRequest::from_json(body).unwrap_err();
        assert_eq!(e.code(), "invalid_client_metadata");
        assert!(e.description().unwrap().starts_with(field), "{e}");
    }
    for body in [json!([]), json!("x"), json!(null), json!(1)] {
        assert_eq!(
            RegistrationRequest::from_json(body).unwrap_err().code(),
            "invalid_client_metadata"
        );
    }
}

#[test]
fn from_json_ignores_unknown_fields_and_nulls() {
    let r = req(
        json!({"redirect_uris":["cursor://cb"],"client_name":null,"software_statement":"eyJ...","x-custom":{"a":[1]}}),
    );
    assert_eq!(r.client_name, None);
    assert_eq!(
        r.redirect_uris.as_deref(),
        Some(&["cursor://cb".to_owned()][..])
    );
}

#[test]
fn client_cannot_choose_its_id() {
    let n = reg(json!({"redirect_uris":["cursor://cb"],"client_id":"admin","client_secret":"x"}))
        .unwrap();
    assert_ne!(n.record.client_id, "admin");
    assert_ne!(
        reg(json!({"redirect_uris":["cursor://cb"]}))
            .unwrap()
            .record
            .client_id,
        n.record.client_id
    );
}

#[test]
fn response_echoes_metadata_and_never_null_or_empty() {
    let n = reg(inspector()).unwrap();
    let v = registration_response(&n.record, None, Some(&n.registration_access_token), ISSUER);
    assert_eq!(v["client_id"], json!(n.record.client_id));
    assert_eq!(v["client_id_issued_at"], json!(1_700_000_000));
    assert_eq!(v["token_endpoint_auth_method"], json!("none"));
    assert_eq!(
        v["grant_types"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(v["response_types"], json!(["code"]));
    assert_eq!(
        v["redirect_uris"],
        json!(["http://127.0.0.1:6276/oauth/callback"])
    );
    assert_eq!(v["scope"], json!("mcp:read offline_access"));
    assert_eq!(v["client_name"], json!("MCP Inspector"));
    assert_eq!(
        v["registration_client_uri"],
        json!(format!("{ISSUER}/register/{}", n.record.client_id))
    );
    assert!(v.get("client_secret").is_none() && v.get("client_secret_expires_at").is_none());
    assert!(
        v.get("contacts").is_none() && v.get("logo_uri").is_none() && v.get("issuer").is_none()
    );
    for (k, val) in v.as_object().unwrap() {
        assert!(
            !val.is_null() && val != &json!("") && val != &json!([]),
            "{k}"
        );
    }
}

#[test]
fn response_with_secret_and_without_token() {
    let n = reg(json!({"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"client_secret_basic"})).unwrap();
    let v = registration_response(
        &n.record,
        n.client_secret.as_deref(),
        None,
        "https://auth.example.com/",
    );
    assert_eq!(v["client_secret"], json!(n.client_secret.unwrap()));
    assert_eq!(v["client_secret_expires_at"], json!(0));
    assert!(
        v.get("registration_access_token").is_none() && v.get("registration_client_uri").is_none()
    );
    let v = registration_response(&n.record, Some(""), Some(""), ISSUER);
    assert!(v.get("client_secret").is_none() && v.get("registration_client_uri").is_none());
}

#[test]
fn update_replaces_metadata_and_keeps_identity() {
    let n = reg(inspector()).unwrap();
    let body = json!({"client_id": n.record.client_id, "redirect_uris":["http://localhost:9/cb"],"client_name":"Renamed"});
    let u = update(&n.record, req(body), &settings(), 10, 1_700_000_100).unwrap();
    assert_eq!(u.client_id, n.record.client_id);
    assert_eq!(u.redirect_uris, ["http://localhost:9/cb"]);
    assert_eq!(u.client_name.as_deref(), Some("Renamed"));
    assert_eq!(
        u.token_endpoint_auth_method, "none",
        "omitted method is kept"
    );
    assert_eq!(
        u.client_uri, None,
        "omitted fields are cleared (RFC 7592 §2.2)"
    );
    assert_eq!(u.registration_token_hash, n.record.registration_token_hash);
    assert_eq!((u.created_at, u.updated_at), (1_700_000_000, 1_700_000_100));
}

#[test]
fn update_checks_id_secret_and_public_confidential_switch() {
    let public = reg(inspector()).unwrap().record;
    let upd = |rec: &ClientRecord, body: Value| update(rec, req(body), &settings(), 10, 1);
    let e = upd(
        &public,
        json!({"client_id":"other","redirect_uris":["cursor://cb"]}),
    )
    .unwrap_err();
    assert_eq!(e.code(), "invalid_client_metadata");
    let e = upd(
        &public,
        json!({"redirect_uris":["cursor://cb"],"token_endpoint_auth_method":"client_secret_post"}),
    )
    .unwrap_err();
    assert!(e.description().unwrap().contains("cannot change"));
    let e = upd(
        &public,
        json!({"redirect_uris":["cursor://cb"],"client_secret":"x"}),
    )
    .unwrap_err();
    assert!(e.description().unwrap().contains("client_secret"));

    let conf = reg(json!({"redirect_uris":["https://a.example/cb"]})).unwrap();
    let secret = conf.client_secret.clone().unwrap();
    let u = upd(&conf.record, json!({"redirect_uris":["https://a.example/cb"],"client_secret":secret,"token_endpoint_auth_method":"client_secret_post"})).unwrap();
    assert_eq!(u.token_endpoint_auth_method, "client_secret_post");
    assert_eq!(u.secret_hash, conf.record.secret_hash);
    assert!(upd(
        &conf.record,
        json!({"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"none"})
    )
    .is_err());
    assert!(upd(
        &conf.record,
        json!({"redirect_uris":["https://a.example/cb"],"client_secret":"wrong"})
    )
    .is_err());
    assert_eq!(
        upd(&conf.record, json!({})).unwrap_err().code(),
        "invalid_redirect_uri"
    );
}

#[test]
fn debug_of_new_client_hides_secrets() {
    let n = reg(json!({"redirect_uris":["https://a.example/cb"]})).unwrap();
    let d = format!("{n:?}");
    assert!(
        !d.contains(n.client_secret.as_deref().unwrap())
            && !d.contains(&n.registration_access_token)
    );
    let r = req(json!({"client_secret":"hunter2"}));
    assert!(!format!("{r:?}").contains("hunter2"));
}

/// Issue 11, finding 3: ten 2000-byte redirect URIs (20 KB) were accepted; the URIs together
/// are now capped, and the error names the limit.
#[test]
fn redirect_uris_are_capped_in_total() {
    let uri = |i: usize| format!("https://app.example.com/{i}/{}", "a".repeat(1470));
    let two = json!({"redirect_uris": [uri(1), uri(2)], "token_endpoint_auth_method": "none"});
    reg(two).unwrap();
    let three =
        json!({"redirect_uris": [uri(1), uri(2), uri(3)], "token_endpoint_auth_method": "none"});
    let (code, d) = reg_err(three.clone());
    assert_eq!(code, "invalid_redirect_uri");
    assert!(d.contains(&MAX_REDIRECT_URI_BYTES.to_string()), "{d}");
    // An update cannot grow a client past the cap either.
    let c = reg(json!({"redirect_uris": [uri(1)], "token_endpoint_auth_method": "none"}))
        .unwrap()
        .record;
    let e = update(&c, req(three), &settings(), 10, 1_700_000_001).unwrap_err();
    assert_eq!(e.code(), "invalid_redirect_uri");
}

#[test]
fn kept_metadata_is_capped_in_total() {
    let contacts: Vec<String> = (0..10)
        .map(|i| format!("{i}{}@example.com", "c".repeat(290)))
        .collect();
    let long_uri = |p: &str| format!("https://app.example.com/{p}/{}", "u".repeat(1900));
    let big = json!({
        "redirect_uris": [format!("https://app.example.com/cb/{}", "r".repeat(1900))],
        "token_endpoint_auth_method": "none",
        "contacts": contacts,
        "client_uri": long_uri("home"),
        "logo_uri": long_uri("logo"),
        "client_name": "n".repeat(200),
    });
    let (code, d) = reg_err(big);
    assert_eq!(code, "invalid_client_metadata");
    assert!(d.contains(&MAX_METADATA_BYTES.to_string()), "{d}");
    // A real client is far below both limits.
    let n = reg(inspector()).unwrap();
    assert!(metadata_json(&n.record).len() < 1024);
}

/// The audit detail keeps counts, hosts and a hash, never the URIs themselves.
#[test]
fn audit_summary_is_small_and_hashes_the_metadata() {
    let uris: Vec<String> = (0..2)
        .map(|i| format!("https://app.example.com/{i}/{}", "a".repeat(1900)))
        .chain(["cursor://anysphere.cursor-retrieval/cb".to_owned()])
        .chain(["http://127.0.0.1:33418/callback".to_owned()])
        .collect();
    let n = reg(
        json!({"redirect_uris": uris, "token_endpoint_auth_method": "none", "client_name": "Big"}),
    )
    .unwrap();
    let summary = audit_summary(&n.record);
    let text = summary.to_string();
    assert!(text.len() < 600, "{text}");
    assert!(
        !text.contains("aaaa") && !text.contains("/callback"),
        "{text}"
    );
    assert_eq!(summary["redirect_uri_count"], 4);
    assert_eq!(
        summary["redirect_hosts"],
        json!(["app.example.com", "anysphere.cursor-retrieval", "127.0.0.1"])
    );
    assert_eq!(summary["client_name"], "Big");
    assert_eq!(
        summary["metadata_sha256"],
        crypto::hash(&metadata_json(&n.record))
    );
}

/// The client→upstream mapping is decided at registration by `[[client_rules]]` and kept by
/// an RFC 7592 update, whatever the update says.
#[test]
fn registration_maps_the_client_by_rule_and_updates_keep_it() {
    let mut s = settings();
    s.client_rules = vec![crate::config::ClientRuleConfig {
        matches: crate::config::ClientMatch {
            software_id: Some("entra-app".to_owned()),
            ..Default::default()
        },
        upstream: Some("entra".to_owned()),
        ..Default::default()
    }];
    let body = json!({"redirect_uris": ["http://127.0.0.1/cb"], "software_id": "entra-app",
        "token_endpoint_auth_method": "none"});
    let n = register(req(body), &s, 10, 1_700_000_000).unwrap();
    assert_eq!(n.record.mapped_upstream(), Some("entra"));
    // The mapping is part of the `registered` audit event's detail.
    assert_eq!(audit_summary(&n.record)["upstream_id"], "entra");
    let other = register(
        req(
            json!({"redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none"}),
        ),
        &s,
        10,
        1_700_000_000,
    )
    .unwrap();
    assert_eq!(other.record.mapped_upstream(), None);
    assert_eq!(audit_summary(&other.record)["upstream_id"], Value::Null);
    // The update drops software_id; the mapping stays.
    let updated = update(
        &n.record,
        req(
            json!({"redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "none"}),
        ),
        &s,
        10,
        1_700_000_100,
    )
    .unwrap();
    assert_eq!(updated.upstream_id, "entra");
}
