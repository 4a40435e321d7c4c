//! Issue 15 items 2 and 6, statically (no Docker engine, no cluster): the Dockerfile builds in
//! stages into a runtime image without a shell that runs as a non-root user owning `/data`, its
//! HEALTHCHECK is a real subcommand, and `.dockerignore` keeps the build context small; the
//! Kubernetes manifests probe paths dcr-bridge serves, on the port it listens on, and their
//! ConfigMap and Secret load as a valid configuration.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use tokio::process::Command;

use crate::support::app::TestApp;
use crate::support::deploy::{dockerfile_healthcheck, root, BIN};
use crate::support::yaml::{docker_compose_or_skip, file_documents};

#[tokio::test]
async fn dockerfile_runs_without_root_or_shell_and_the_build_context_is_small() {
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let instructions: Vec<(String, String)> = text
        .replace("\\\n", " ")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (op, rest) = l.split_once(' ').unwrap_or((l, ""));
            (op.to_ascii_uppercase(), rest.trim().to_owned())
        })
        .collect();
    let froms: Vec<usize> = instructions
        .iter()
        .enumerate()
        .filter(|(_, (op, _))| op == "FROM")
        .map(|(i, _)| i)
        .collect();
    assert!(froms.len() >= 2, "multi-stage build expected");
    let runtime = &instructions[*froms.last().unwrap()..];
    let image = &runtime[0].1;
    assert!(
        image.contains("distroless"),
        "runtime image with no shell expected: {image}"
    );
    let get = |op: &str| -> Vec<&str> {
        runtime
            .iter()
            .filter(|(o, _)| o == op)
            .map(|(_, r)| r.as_str())
            .collect()
    };
    let user = get("USER");
    assert_eq!(user.len(), 1, "{user:?}");
    let uid = user[0].split(':').next().unwrap();
    assert!(uid != "0" && uid != "root", "runs as root: {uid}");
    assert_eq!(get("WORKDIR"), ["/data"]);
    assert!(
        get("COPY")
            .iter()
            .any(|c| c.contains(&format!("--chown={}", user[0])) && c.ends_with(" /data")),
        "/data must be copied owned by the user that runs: {:?}",
        get("COPY")
    );
    // Exec forms only: there is no shell to run a string.
    for op in ["ENTRYPOINT", "CMD"] {
        for arg in get(op) {
            assert!(
                serde_json::from_str::<Vec<String>>(arg).is_ok(),
                "{op} {arg} needs a shell"
            );
        }
    }
    let healthcheck = dockerfile_healthcheck();
    assert_eq!(healthcheck[0], "dcr-bridge");
    let out = Command::new(BIN)
        .args(&healthcheck[1..])
        .arg("--help")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("readyz"),
        "HEALTHCHECK {healthcheck:?} is not a dcr-bridge subcommand"
    );
    // Dependencies build in their own cached layer before the sources are copied.
    let build = &instructions[froms[froms.len() - 2]..*froms.last().unwrap()];
    let cook = build
        .iter()
        .position(|(op, r)| op == "RUN" && r.contains("cargo chef cook"));
    let copy_all = build.iter().position(|(op, r)| op == "COPY" && r == ". .");
    assert!(
        matches!((cook, copy_all), (Some(c), Some(a)) if c < a),
        "dependency layer before COPY . .: {build:?}"
    );

    let ignore = std::fs::read_to_string(root().join(".dockerignore"))
        .expect("a .dockerignore keeps target/ out of the build context");
    let patterns: Vec<String> = ignore
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_start_matches('/').trim_end_matches('/').to_owned())
        .collect();
    for (what, any_of) in [
        ("target/", &["target"][..]),
        ("node_modules at any depth", &["**/node_modules"][..]),
        (".git", &[".git"][..]),
    ] {
        assert!(
            any_of.iter().any(|p| patterns.iter().any(|q| q == p)),
            ".dockerignore must exclude {what}: {patterns:?}"
        );
    }
    for needed in ["src", "migrations", "templates", "Cargo.toml", "Cargo.lock"] {
        assert!(
            !patterns.iter().any(|p| p == needed),
            ".dockerignore excludes {needed}, which the build needs"
        );
    }
}

#[tokio::test]
async fn kubernetes_manifests_probe_served_paths_and_load_as_a_valid_configuration() {
    if !docker_compose_or_skip().await {
        return;
    }
    let dir = root().join("deploy/kubernetes");
    let mut by_kind: BTreeMap<String, Value> = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("yaml") {
            continue;
        }
        for doc in file_documents(&path).await.unwrap() {
            let kind = doc["kind"].as_str().unwrap().to_owned();
            assert!(by_kind.insert(kind.clone(), doc).is_none(), "two {kind}s");
        }
    }
    let [deployment, service, pdb, config_map, secret] = [
        "Deployment",
        "Service",
        "PodDisruptionBudget",
        "ConfigMap",
        "Secret",
    ]
    .map(|k| by_kind.get(k).unwrap_or_else(|| panic!("no {k}")).clone());
    assert_eq!(deployment["spec"]["replicas"], 3);
    let pod = &deployment["spec"]["template"];
    let labels = pod["metadata"]["labels"].as_object().unwrap();
    let selects_pods = |selector: &Value, what: &str| {
        let selector = selector.as_object().unwrap();
        assert!(!selector.is_empty(), "{what}: empty selector");
        for (k, v) in selector {
            assert_eq!(labels.get(k), Some(v), "{what} does not select the pods");
        }
    };
    selects_pods(&deployment["spec"]["selector"]["matchLabels"], "Deployment");
    selects_pods(&service["spec"]["selector"], "Service");
    selects_pods(
        &pdb["spec"]["selector"]["matchLabels"],
        "PodDisruptionBudget",
    );
    assert!(
        pdb["spec"]["maxUnavailable"] == 1 || pdb["spec"]["minAvailable"].is_number(),
        "{pdb}"
    );

    let spec = &pod["spec"];
    assert_eq!(spec["securityContext"]["runAsNonRoot"], true);
    let c = &spec["containers"][0];
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    let container_port = |port: &Value| -> u64 {
        match port {
            Value::Number(n) => n.as_u64().unwrap(),
            Value::String(name) => c["ports"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["name"] == name.as_str())
                .unwrap_or_else(|| panic!("no container port named {name}"))["containerPort"]
                .as_u64()
                .unwrap(),
            other => panic!("port {other}"),
        }
    };
    let ready = &c["readinessProbe"]["httpGet"];
    let live = &c["livenessProbe"]["httpGet"];
    assert_eq!(ready["path"], "/readyz");
    assert_eq!(live["path"], "/healthz");
    let port = container_port(&ready["port"]);
    assert_eq!(container_port(&live["port"]), port);
    assert_eq!(
        container_port(&service["spec"]["ports"][0]["targetPort"]),
        port
    );
    // The probe paths are what dcr-bridge serves.
    let app = TestApp::start().await;
    for path in ["/readyz", "/healthz"] {
        let status = reqwest::get(format!("{}{path}", app.base))
            .await
            .unwrap()
            .status();
        assert_eq!(status, 200, "{path}");
    }

    // Mounts: where the ConfigMap and the Secret land in the container.
    let mount_of = |pick: &dyn Fn(&Value) -> bool| -> String {
        let volume = spec["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| pick(v))
            .unwrap_or_else(|| panic!("volume not found in {}", spec["volumes"]));
        c["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == volume["name"])
            .unwrap()["mountPath"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let secret_name = secret["metadata"]["name"].clone();
    let secrets_at = mount_of(&|v| v["secret"]["secretName"] == secret_name);
    let cm_name = config_map["metadata"]["name"].clone();
    let config_at = mount_of(&|v| v["configMap"]["name"] == cm_name);

    // Build the container's filesystem view in a temp dir and load the configuration from it.
    let tmp = tempfile::tempdir().unwrap();
    let local = |container_path: &str| -> PathBuf {
        for (at, dir) in [(&config_at, "config"), (&secrets_at, "secrets")] {
            if let Some(rest) = container_path.strip_prefix(at.as_str()) {
                return tmp.path().join(dir).join(rest.trim_start_matches('/'));
            }
        }
        panic!("{container_path} is not under a mounted ConfigMap or Secret");
    };
    std::fs::create_dir_all(tmp.path().join("config")).unwrap();
    std::fs::create_dir_all(tmp.path().join("secrets")).unwrap();
    for (key, text) in config_map["data"].as_object().unwrap() {
        std::fs::write(tmp.path().join("config").join(key), text.as_str().unwrap()).unwrap();
    }
    let secret_data = secret["stringData"].as_object().unwrap();
    for (key, text) in secret_data {
        // The placeholder is not 32 bytes of base64; a real key takes its place.
        let text = if key == "secret-key" {
            "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
        } else {
            text.as_str().unwrap()
        };
        std::fs::write(tmp.path().join("secrets").join(key), text).unwrap();
    }
    let mut env = Vec::new();
    let mut config_file = None;
    for var in c["env"].as_array().unwrap() {
        let name = var["name"].as_str().unwrap().to_owned();
        let value = var["value"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: secrets come as files, not valueFrom"));
        if name == "DCR_BRIDGE_CONFIG" {
            config_file = Some(local(value));
        } else if name.ends_with("_FILE") {
            let key = value
                .strip_prefix(&format!("{secrets_at}/"))
                .unwrap_or_else(|| {
                    panic!("{name} = {value} is not a file of the mounted Secret ({secrets_at})")
                });
            assert!(secret_data.contains_key(key), "{name}: Secret has no {key}");
            env.push((name, local(value).display().to_string()));
        } else {
            env.push((name, value.to_owned()));
        }
    }
    let config_file = config_file.expect("DCR_BRIDGE_CONFIG points at the ConfigMap");
    let config = dcr_bridge::config::Config::load_from(Some(config_file.as_path()), env)
        .unwrap_or_else(|e| panic!("the manifests' configuration does not load: {e}"));
    assert_eq!(
        u64::from(config.listen.port()),
        port,
        "probes and listen agree"
    );
    assert!(
        config.database_url.starts_with("postgres://"),
        "replicas need Postgres"
    );
    assert!(config.upstreams.iter().all(|u| u.client_secret.is_some()));
}
