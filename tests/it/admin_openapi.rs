//! The OpenAPI document of the admin API against its router.

use reqwest::Method;
use serde_json::{json, Value};

use crate::admin::{admin_app, assert_problem, call, BOOT};
use crate::support::app::Db;

#[tokio::test]
async fn admin_openapi_document_matches_the_router() {
    let app = admin_app(Db::Sqlite).await.unwrap();
    // Served without a token.
    let res = app.get("/admin/v1/openapi.json").await;
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(
        doc["components"]["securitySchemes"]["admin_token"]["scheme"],
        "bearer"
    );
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    // Every answer of the second landing is a typed schema, and the audit list offers CSV.
    for schema in [
        "AuditEventView",
        "Stats",
        "FlowCounts",
        "SigningKeyView",
        "KeyStateView",
        "Rotated",
        "UpstreamView",
        "CheckStatus",
        "RegistrationPolicyView",
        "InitialTokenView",
        "CreatedInitialToken",
    ] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
    let audit = &doc["paths"]["/admin/v1/audit-events"]["get"]["responses"]["200"]["content"];
    assert!(audit["application/json"]["schema"].is_object(), "{audit}");
    assert!(audit["text/csv"]["schema"].is_object(), "{audit}");
    assert_eq!(
        doc["components"]["schemas"]["KeyStateView"]["enum"],
        json!(["next", "active", "retired"])
    );
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 9, "{:?}", paths.keys());
    let methods = ["get", "post", "put", "patch", "delete"];
    let mut operations = 0;
    for (path, item) in paths {
        assert!(path.starts_with("/admin/v1/"), "{path}");
        let concrete = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { "x" } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for m in methods {
            let method = Method::from_bytes(m.to_ascii_uppercase().as_bytes()).unwrap();
            if let Some(op) = item.get(m) {
                let (s, h, b) = call(&app, method, &concrete, None, None).await;
                operations += 1;
                // In the document → routed, behind the token check.
                assert_problem(s, &h, &b, 401, "unauthorized");
                let responses = op["responses"].as_object().unwrap();
                assert!(responses.contains_key("401"), "{m} {path}");
                // The throttle and a database outage can answer any operation.
                for status in ["429", "503"] {
                    let r = &responses[status]["content"]["application/problem+json"];
                    assert!(
                        r["schema"].is_object(),
                        "{status} of {m} {path}: {responses:?}"
                    );
                }
                assert!(op["tags"].is_array(), "{m} {path}");
            } else {
                // Not in the document → not routed for this method (the token is checked
                // first, so it is sent here).
                let (s, h, b) = call(&app, method, &concrete, Some(BOOT), None).await;
                assert_problem(s, &h, &b, 405, "method_not_allowed");
            }
        }
    }
    // 21 + creating a client + the registration policy and the three initial-access-token operations.
    assert_eq!(operations, 26);
    // Operation ids are unique, as OpenAPI requires (client generators name methods by them).
    let mut ids: Vec<_> = paths
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| op.get("operationId").and_then(Value::as_str))
        .collect();
    assert_eq!(ids.len(), 26);
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 26, "duplicate operationId");
    // The routes are registered with the document (utoipa-axum): a path outside it is not one.
    for stray in [
        "/admin/v1/clients/x/y",
        "/admin/v1/tokens",
        "/admin/v1/signing-keys/x/y",
    ] {
        let (s, h, b) = call(&app, Method::GET, stray, None, None).await;
        assert_problem(s, &h, &b, 404, "not_found");
    }
}
