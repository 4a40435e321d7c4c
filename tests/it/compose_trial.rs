//! Issue 15 items 1, 2 and 6 without a Docker engine: docker-compose.yml validates with
//! `docker-compose config`; its topology (dev IdP, demo MCP server, dcr-bridge on Postgres) runs
//! as processes on loopback from the commands, environment and mounted files the compose file
//! itself names, with only ports, the database and container paths substituted, and a real MCP
//! client (TypeScript SDK v2) signs in and calls a tool through the gateway; the Dockerfile's
//! HEALTHCHECK is a real subcommand and `.dockerignore` keeps the build context small; the
//! Kubernetes manifests probe paths dcr-bridge serves, on the port it listens on, and their
//! ConfigMap and Secret load as a valid configuration.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};

use crate::support::app::TestApp;
use crate::support::db::TestDb;
use crate::support::node::{node_or_skip, run_sdk_v2_flow};
use crate::support::process::{self, LogBuf};
use crate::support::yaml::{compose_config, docker_compose_or_skip, file_documents};

const BIN: &str = env!("CARGO_BIN_EXE_dcr-bridge");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A TOML file as JSON.
fn toml(path: &Path) -> Value {
    use figment::providers::Format as _;
    figment::Figment::from(figment::providers::Toml::file_exact(path))
        .extract()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

/// The bind mounts of a compose service: container path → host path.
fn mounts(service: &Value) -> Vec<(String, String)> {
    service["volumes"]
        .as_array()
        .map(|vs| {
            vs.iter()
                .filter_map(|v| match v {
                    Value::String(s) => {
                        let mut parts = s.split(':');
                        let host = parts.next()?;
                        let container = parts.next()?;
                        host.starts_with('/')
                            .then(|| (container.to_owned(), host.to_owned()))
                    }
                    Value::Object(o) => Some((
                        o.get("target")?.as_str()?.to_owned(),
                        o.get("source")?.as_str()?.to_owned(),
                    )),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `value` with a container path under one of `service`'s bind mounts turned into the host path.
fn on_host(service: &Value, value: &str) -> String {
    for (container, host) in mounts(service) {
        if let Some(rest) = value.strip_prefix(&container) {
            if rest.is_empty() || rest.starts_with('/') {
                return format!("{host}{rest}");
            }
        }
    }
    value.to_owned()
}

/// The value after `flag` in `args`.
fn flag(args: &[String], flag: &str) -> String {
    let i = args
        .iter()
        .position(|a| a == flag)
        .unwrap_or_else(|| panic!("no {flag} in {args:?}"));
    args[i + 1].clone()
}

fn port_of(url: &str) -> u16 {
    url::Url::parse(url)
        .unwrap()
        .port_or_known_default()
        .unwrap()
}

/// One process of the topology, killed on drop, its output kept for failure messages.
struct Proc {
    name: &'static str,
    /// Held for `kill_on_drop`.
    _child: Child,
    logs: LogBuf,
}

impl Proc {
    fn spawn(name: &'static str, args: &[String], env: &BTreeMap<String, String>) -> Proc {
        let mut cmd = Command::new(BIN);
        cmd.args(args)
            .env_remove("DCR_BRIDGE_CONFIG")
            .envs(env)
            .env("DCR_BRIDGE_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().unwrap();
        let logs: LogBuf = Arc::default();
        let verbose = process::verbose("INTEROP_VERBOSE");
        let prefix = name;
        process::drain(
            child.stdout.take().unwrap(),
            prefix,
            logs.clone(),
            None,
            verbose,
        );
        process::drain(
            child.stderr.take().unwrap(),
            prefix,
            logs.clone(),
            None,
            verbose,
        );
        Proc {
            name,
            _child: child,
            logs,
        }
    }

    fn report(procs: &[&Proc]) -> String {
        procs
            .iter()
            .map(|p| format!("--- {} ---\n{}", p.name, process::joined(&p.logs)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Runs `dcr-bridge <args>` (a healthcheck) once: its exit status and output.
async fn run_once(args: &[String], env: &BTreeMap<String, String>) -> (bool, String) {
    let out = process::output(
        Command::new(BIN)
            .args(args)
            .env_remove("DCR_BRIDGE_CONFIG")
            .envs(env),
        Duration::from_secs(30),
        "dcr-bridge healthcheck",
    )
    .await
    .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Polls the healthcheck `args` until it exits 0 (60 s at most).
async fn until_healthy(args: &[String], env: &BTreeMap<String, String>, procs: &[&Proc]) {
    let mut last = String::new();
    for _ in 0..120 {
        let (ok, text) = run_once(args, env).await;
        if ok {
            return;
        }
        last = text;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!(
        "`dcr-bridge {}` never succeeded: {last}\n{}",
        args.join(" "),
        Proc::report(procs)
    );
}

/// The HEALTHCHECK of the Dockerfile, exec form: `["dcr-bridge", "healthcheck", …]`.
fn dockerfile_healthcheck() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let joined = text.replace("\\\n", " ");
    let line = joined
        .lines()
        .find(|l| l.trim_start().starts_with("HEALTHCHECK"))
        .expect("the Dockerfile has a HEALTHCHECK");
    let cmd = line
        .split_once(" CMD ")
        .unwrap_or_else(|| panic!("HEALTHCHECK without CMD: {line}"))
        .1;
    serde_json::from_str(cmd.trim()).unwrap_or_else(|e| {
        panic!("HEALTHCHECK CMD is not the exec (JSON) form, so it would need a shell: {cmd}: {e}")
    })
}

#[tokio::test]
async fn compose_file_validates_and_its_healthchecks_are_real_subcommands() {
    if !docker_compose_or_skip().await {
        return;
    }
    let file = root().join("docker-compose.yml");
    let out = Command::new("docker-compose")
        .arg("-f")
        .arg(&file)
        .args(["config", "-q"])
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "docker-compose config -q: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The validator does refuse a broken file (so the check above can fail).
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("docker-compose.yml");
    std::fs::write(
        &broken,
        "services:\n  x:\n    image: a\n    network_mode: [1]\n    no_such_key: 1\n",
    )
    .unwrap();
    let out = Command::new("docker-compose")
        .arg("-f")
        .arg(&broken)
        .args(["config", "-q"])
        .output()
        .await
        .unwrap();
    assert!(!out.status.success(), "a broken compose file validated");

    let model = compose_config(&file).await.unwrap();
    let services = model["services"].as_object().unwrap();
    for name in ["db", "dev-idp", "demo-mcp", "dcr-bridge"] {
        assert!(services.contains_key(name), "no service {name}");
    }
    for (name, service) in services {
        let test = &service["healthcheck"]["test"];
        if test.is_null() || test[0] == "NONE" {
            continue;
        }
        let test = strings(test);
        if test.get(1).map(String::as_str) != Some("dcr-bridge") {
            continue;
        }
        assert_eq!(test[0], "CMD", "{name}: exec form, no shell in the image");
        let out = Command::new(BIN)
            .args(&test[2..])
            .arg("--help")
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "{name}'s healthcheck {test:?} is not a dcr-bridge subcommand"
        );
    }
}

#[tokio::test]
async fn compose_topology_runs_as_processes_and_a_real_client_calls_a_tool_through_the_gateway() {
    if !docker_compose_or_skip().await || !node_or_skip().await {
        return;
    }
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let model = compose_config(&root().join("docker-compose.yml"))
        .await
        .unwrap();
    let (idp, demo, bridge) = (
        &model["services"]["dev-idp"],
        &model["services"]["demo-mcp"],
        &model["services"]["dcr-bridge"],
    );

    // --- What makes the trial work in Docker, checked on the files themselves -----------------
    // One network namespace: localhost inside is localhost on the host.
    assert_eq!(demo["network_mode"], "service:dev-idp");
    assert_eq!(bridge["network_mode"], "service:dev-idp");
    let published: Vec<(String, u16, u16)> = strings(&idp["ports"])
        .iter()
        .map(|p| {
            let p = p.trim_end_matches("/tcp");
            let parts: Vec<&str> = p.split(':').collect();
            assert_eq!(parts.len(), 3, "ip:host:container expected, got {p}");
            (
                parts[0].to_owned(),
                parts[1].parse().unwrap(),
                parts[2].parse().unwrap(),
            )
        })
        .collect();
    assert!(
        published.iter().all(|(ip, ..)| ip == "127.0.0.1"),
        "the dev IdP signs anyone in: publish on the host's loopback only: {published:?}"
    );
    let host_port_of = |container: u16| {
        published
            .iter()
            .find(|(_, _, c)| *c == container)
            .map(|(_, h, _)| *h)
            .unwrap_or_else(|| panic!("container port {container} not published: {published:?}"))
    };
    let env: BTreeMap<String, String> = bridge["environment"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), on_host(bridge, v.as_str().unwrap())))
        .collect();
    let bridge_toml = toml(Path::new(&env["DCR_BRIDGE_CONFIG"]));
    let idp_args: Vec<String> = strings(&idp["command"])
        .iter()
        .map(|a| on_host(idp, a))
        .collect();
    let idp_toml = toml(Path::new(&flag(&idp_args, "--file")));
    let demo_args = strings(&demo["command"]);
    let public_url = bridge_toml["public_url"].as_str().unwrap();
    let issuer = idp_toml["issuer"].as_str().unwrap();
    assert_eq!(bridge_toml["upstreams"][0]["issuer"], issuer);
    assert_eq!(
        bridge_toml["upstreams"][0]["client_id"],
        idp_toml["client_id"]
    );
    assert!(
        strings(&idp_toml["redirect_uris"]).contains(&format!("{public_url}/oauth/callback")),
        "the dev IdP must accept dcr-bridge's callback"
    );
    assert_eq!(
        on_host(idp, idp_toml["client_secret_file"].as_str().unwrap()),
        env["DCR_BRIDGE_UPSTREAMS__0__CLIENT_SECRET_FILE"],
        "dcr-bridge and the dev IdP read the same client secret file"
    );
    let listen: std::net::SocketAddr = bridge_toml["listen"].as_str().unwrap().parse().unwrap();
    let idp_listen: std::net::SocketAddr = idp_toml["listen"].as_str().unwrap().parse().unwrap();
    assert_eq!(host_port_of(listen.port()), port_of(public_url));
    assert_eq!(host_port_of(idp_listen.port()), port_of(issuer));
    let demo_listen = flag(&demo_args, "--listen");
    let upstream_url = bridge_toml["resources"][0]["upstream_url"]
        .as_str()
        .unwrap();
    assert_eq!(
        url::Url::parse(upstream_url).unwrap().authority(),
        demo_listen,
        "the gateway proxies to the demo MCP server"
    );
    let resource = format!(
        "{public_url}{}",
        bridge_toml["resources"][0]["path"].as_str().unwrap()
    );
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains(&resource),
        "the README gives {resource} to paste"
    );

    // --- The same topology as processes on loopback -------------------------------------------
    let (b, i, m) = (free_port(), free_port(), free_port());
    let base = format!("http://127.0.0.1:{b}");
    let idp_base = format!("http://127.0.0.1:{i}");
    let mut idp_run = idp_args.clone();
    idp_run.extend([
        "--listen".to_owned(),
        format!("127.0.0.1:{i}"),
        "--issuer".to_owned(),
        idp_base.clone(),
        "--redirect-uri".to_owned(),
        format!("{base}/oauth/callback"),
        "--client-secret-file".to_owned(),
        env["DCR_BRIDGE_UPSTREAMS__0__CLIENT_SECRET_FILE"].clone(),
    ]);
    let no_env = BTreeMap::new();
    let idp_proc = Proc::spawn("[dev-idp]", &idp_run, &no_env);
    let demo_run: Vec<String> = demo_args
        .iter()
        .map(|a| {
            if *a == demo_listen {
                format!("127.0.0.1:{m}")
            } else {
                a.clone()
            }
        })
        .collect();
    let demo_proc = Proc::spawn("[demo-mcp]", &demo_run, &no_env);
    let mut bridge_env = env.clone();
    bridge_env.extend([
        ("DCR_BRIDGE_LISTEN".to_owned(), format!("127.0.0.1:{b}")),
        ("DCR_BRIDGE_PUBLIC_URL".to_owned(), base.clone()),
        ("DCR_BRIDGE_DATABASE_URL".to_owned(), db.url.clone()),
        (
            "DCR_BRIDGE_UPSTREAMS__0__ISSUER".to_owned(),
            idp_base.clone(),
        ),
        (
            "DCR_BRIDGE_RESOURCES__0__UPSTREAM_URL".to_owned(),
            format!("http://127.0.0.1:{m}/mcp"),
        ),
    ]);
    // The image's HEALTHCHECK, with dcr-bridge's environment: fails while nothing listens.
    let healthcheck = dockerfile_healthcheck();
    assert_eq!(healthcheck[0], "dcr-bridge");
    let healthcheck = healthcheck[1..].to_vec();
    let (ok, text) = run_once(&healthcheck, &bridge_env).await;
    assert!(!ok, "healthcheck passed with no server: {text}");
    // The dev IdP's compose healthcheck, on its substituted port.
    let idp_check: Vec<String> = strings(&idp["healthcheck"]["test"])[2..]
        .iter()
        .map(|a| {
            a.replace(
                &format!("127.0.0.1:{}", idp_listen.port()),
                &format!("127.0.0.1:{i}"),
            )
        })
        .collect();
    until_healthy(&idp_check, &no_env, &[&idp_proc]).await;
    let bridge_proc = Proc::spawn("[dcr-bridge]", &strings(&bridge["command"]), &bridge_env);
    let procs = [&idp_proc, &demo_proc, &bridge_proc];
    until_healthy(&healthcheck, &bridge_env, &procs).await;
    // A non-200 answer is unhealthy too.
    let (ok, text) = run_once(
        &[
            "healthcheck".to_owned(),
            "--url".to_owned(),
            format!("{idp_base}/no-such-path"),
        ],
        &no_env,
    )
    .await;
    assert!(!ok && text.contains("404"), "{text}");

    // --- A real MCP client: register, consent, sign in at the dev IdP, call whoami -------------
    let flow = run_sdk_v2_flow(
        &format!("{base}/mcp"),
        &["--login", "dev-alice", "--password", "alice-dev-password"],
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}\n{}", Proc::report(&procs)));
    let tools = strings(&flow["tools"]);
    assert!(tools.contains(&"whoami".to_owned()), "{tools:?}");
    for key in ["whoami", "whoami_after_refresh"] {
        let text = flow[key].as_str().unwrap_or_default();
        assert!(
            text.contains("alice@example.com"),
            "{key}: the demo MCP server sees the signed-in user through the gateway: {text}"
        );
    }
    assert!(flow["authorization_request_url"]
        .as_str()
        .unwrap()
        .starts_with(&base));

    // The dev IdP refuses a wrong password (the trial's IdP is not an open door on loopback).
    let refused = run_sdk_v2_flow(
        &format!("{base}/mcp"),
        &["--login", "dev-alice", "--password", "wrong"],
    )
    .await
    .expect_err("a wrong password signed in");
    let refused = format!("{refused:#}");
    assert!(
        refused.contains("401") && refused.contains("Wrong password: sign-in refused"),
        "{refused}"
    );
}

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

/// `dev --listen 0.0.0.0:…` (a container) serves beyond loopback, with localhost URLs, and
/// warns loudly that the dev IdP signs anyone in; the trial helpers refuse a dcr-bridge config.
#[tokio::test]
async fn dev_listens_beyond_loopback_only_with_a_loud_warning() {
    use tokio::io::AsyncBufReadExt as _;
    let dir = tempfile::tempdir().unwrap();
    let idp_port = free_port();
    let mut child = Command::new(BIN)
        .args(["dev", "--listen", "0.0.0.0:0", "--idp-port"])
        .arg(idp_port.to_string())
        .arg("--data-dir")
        .arg(dir.path())
        .env_remove("DCR_BRIDGE_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stderr_logs: LogBuf = Arc::default();
    process::drain(
        child.stderr.take().unwrap(),
        "[dev]",
        stderr_logs.clone(),
        None,
        false,
    );
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let mut banner = String::new();
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            banner.push_str(&line);
            banner.push('\n');
            if line.contains("Press Ctrl-C to stop.") {
                return;
            }
        }
        panic!("dev exited:\n{banner}\n{}", process::joined(&stderr_logs));
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("no banner within 60 s");
    let warning = process::joined(&stderr_logs);
    assert!(
        warning.contains("WARNING") && warning.contains("signs in ANYONE"),
        "{warning}"
    );
    let public = banner
        .lines()
        .find_map(|l| l.trim().strip_prefix("Authorization server:"))
        .unwrap()
        .trim()
        .to_owned();
    assert!(public.starts_with("http://localhost:"), "{public}");
    let port = port_of(&public);
    let ready = reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let discovery: Value = reqwest::get(format!(
        "http://127.0.0.1:{idp_port}/.well-known/openid-configuration"
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(discovery["issuer"], format!("http://localhost:{idp_port}"));
    child.kill().await.unwrap();

    // The trial helpers read no dcr-bridge configuration, and say so rather than ignore one.
    for command in ["dev-idp", "demo-mcp"] {
        let out = Command::new(BIN)
            .args([command, "--config", "dcr-bridge.toml"])
            .env_remove("DCR_BRIDGE_CONFIG")
            .output()
            .await
            .unwrap();
        assert!(!out.status.success());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "{command} does not read the dcr-bridge configuration"
            )),
            "{stderr}"
        );
    }
}
