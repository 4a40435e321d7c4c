//! Issue 15 item 1 without a Docker engine: docker-compose.yml validates with
//! `docker-compose config`, and its topology (dev IdP, demo MCP server, dcr-bridge on Postgres)
//! runs as processes on loopback from the commands, environment and mounted files the compose
//! file itself names, with only ports, the database and container paths substituted; a real MCP
//! client (TypeScript SDK v2) signs in and calls a tool through the gateway.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};

use crate::support::db::TestDb;
use crate::support::deploy::{dockerfile_healthcheck, free_port, port_of, root, strings, BIN};
use crate::support::node::{node_or_skip, run_sdk_v2_flow};
use crate::support::process::{self, LogBuf};
use crate::support::yaml::{compose_config, docker_compose_or_skip};

/// A TOML file as JSON.
fn toml(path: &Path) -> Value {
    use figment::providers::Format as _;
    figment::Figment::from(figment::providers::Toml::file_exact(path))
        .extract()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
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
