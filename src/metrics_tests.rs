//! The metric names follow Prometheus conventions, and the Grafana dashboard queries only
//! metrics that exist.

use std::collections::BTreeSet;

use super::{Kind, ALL};

const DASHBOARD: &str = include_str!("../docs/grafana/dcr-bridge.json");

#[test]
fn names_follow_prometheus_conventions() {
    let mut seen = BTreeSet::new();
    for (name, kind, help) in ALL {
        assert!(name.starts_with("dcr_bridge_"), "{name}");
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
            "{name}"
        );
        assert!(seen.insert(*name), "{name} twice");
        assert!(!help.is_empty(), "{name}");
        match kind {
            Kind::Counter => assert!(name.ends_with("_total"), "{name}"),
            Kind::Histogram => assert!(name.ends_with("_seconds"), "{name}"),
            Kind::Gauge => assert!(!name.ends_with("_total"), "{name}"),
        }
    }
}

/// Every `dcr_bridge_…` name in `expr`, as written.
fn names_in(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("dcr_bridge_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    out
}

/// The metric a queried series belongs to: histograms are queried through their
/// `_bucket`, `_count` and `_sum` series.
fn registered(series: &str) -> bool {
    ALL.iter().any(|(name, kind, _)| match kind {
        Kind::Histogram => ["_bucket", "_count", "_sum"]
            .iter()
            .any(|s| series == format!("{name}{s}")),
        _ => series == *name,
    })
}

fn exprs(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr", serde_json::Value::String(s)) => out.push(s.clone()),
                    _ => exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| exprs(v, out)),
        _ => {}
    }
}

#[test]
fn the_dashboard_queries_only_registered_metrics() {
    let dashboard: serde_json::Value = serde_json::from_str(DASHBOARD).unwrap();
    let mut all = Vec::new();
    exprs(&dashboard, &mut all);
    assert!(all.len() >= 10, "{} queries", all.len());
    // The variables' queries name metrics too.
    for v in dashboard["templating"]["list"].as_array().unwrap() {
        if let Some(q) = v["definition"]
            .as_str()
            .filter(|q| q.contains("dcr_bridge_"))
        {
            all.push(q.to_owned());
        }
    }
    let mut used = BTreeSet::new();
    for expr in &all {
        let names = names_in(expr);
        assert!(!names.is_empty(), "a query of no dcr-bridge metric: {expr}");
        for n in names {
            assert!(registered(&n), "{n} (in {expr}) is not a registered metric");
            used.insert(n);
        }
    }
    // Every metric is on the dashboard somewhere.
    for (name, _, _) in ALL {
        assert!(
            used.iter().any(|u| u.starts_with(name)),
            "{name} is on no panel"
        );
    }
}

#[test]
fn the_dashboard_is_importable() {
    let d: serde_json::Value = serde_json::from_str(DASHBOARD).unwrap();
    assert!(d["title"].is_string() && d["uid"].is_string());
    assert!(d["schemaVersion"].as_u64().is_some_and(|v| v >= 30));
    assert!(
        d.get("id").is_none_or(serde_json::Value::is_null),
        "no instance id"
    );
    let vars = d["templating"]["list"].as_array().unwrap();
    assert!(
        vars.iter().any(|v| v["type"] == "datasource"
            && v["name"] == "datasource"
            && v["query"] == "prometheus"),
        "a Prometheus datasource variable"
    );
    let panels = d["panels"].as_array().unwrap();
    let mut ids = BTreeSet::new();
    for p in panels {
        assert!(ids.insert(p["id"].as_u64().unwrap()), "panel ids unique");
        if p["type"] == "row" {
            continue;
        }
        assert_eq!(p["datasource"]["uid"], "${datasource}", "{}", p["title"]);
        assert!(p["gridPos"]["w"].as_u64().is_some(), "{}", p["title"]);
        for t in p["targets"].as_array().unwrap() {
            assert_eq!(t["datasource"]["uid"], "${datasource}", "{}", p["title"]);
        }
    }
}

#[test]
fn a_misspelt_metric_would_be_caught() {
    assert!(!registered("dcr_bridge_tokens_issued"));
    assert!(!registered("dcr_bridge_gateway_requests_total_bucket"));
    assert!(registered(
        "dcr_bridge_gateway_request_duration_seconds_bucket"
    ));
    assert_eq!(
        names_in("sum(rate(dcr_bridge_a_total[5m])) / dcr_bridge_b"),
        ["dcr_bridge_a_total", "dcr_bridge_b"]
    );
}
