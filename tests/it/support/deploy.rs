//! Shared by the deployment tests (compose trial, Dockerfile, Kubernetes manifests, `dev`
//! beyond loopback): the binary, the repository root, free ports, the Dockerfile's HEALTHCHECK.

#![allow(dead_code)] // not every test uses every helper

use std::path::PathBuf;

use serde_json::Value;

pub const BIN: &str = env!("CARGO_BIN_EXE_dcr-bridge");

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_owned())
        .collect()
}

pub fn port_of(url: &str) -> u16 {
    url::Url::parse(url)
        .unwrap()
        .port_or_known_default()
        .unwrap()
}

/// The HEALTHCHECK of the Dockerfile, exec form: `["dcr-bridge", "healthcheck", …]`.
pub fn dockerfile_healthcheck() -> Vec<String> {
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
