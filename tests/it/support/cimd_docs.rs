//! A Client ID Metadata Document served over HTTPS on loopback, for the interop tests of real
//! clients that use CIMD (`tests/it/cimd.rs`, `tests/it/interop_inspector.rs`); dcr-bridge
//! fetches it under `cimd.allow_loopback_for_tests`.

use std::time::Duration;

use serde_json::{json, Value};

/// `cimd_doc_server.mjs` serving one Client ID Metadata Document over HTTPS with a throwaway
/// certificate (the SDKs accept only an `https` `clientMetadataUrl`). Needs the `openssl`
/// command. Stopped on drop.
pub struct HttpsDocServer {
    /// The document's URL, which is also its `client_id`.
    pub url: String,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

impl HttpsDocServer {
    /// Serves a public client's document named `client_name` with one `redirect_uri`.
    pub async fn start(client_name: &str, redirect_uri: &str) -> Self {
        use tokio::io::AsyncBufReadExt;
        let dir = tempfile::tempdir().unwrap();
        let (cert, key, doc) = (
            dir.path().join("cert.pem"),
            dir.path().join("key.pem"),
            dir.path().join("doc.json"),
        );
        let made = std::process::Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
            .args([
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("the CIMD interop test needs the openssl command to make a certificate");
        assert!(made.status.success(), "{made:?}");
        let document = json!({
            "client_id": "{{URL}}",
            "client_name": client_name,
            "redirect_uris": [redirect_uri],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
        });
        std::fs::write(&doc, document.to_string()).unwrap();
        let mut child = tokio::process::Command::new("node")
            .arg("cimd_doc_server.mjs")
            .arg("--cert")
            .arg(&cert)
            .arg("--key")
            .arg(&key)
            .arg("--doc")
            .arg(&doc)
            .current_dir(crate::support::node::interop_dir())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("cimd_doc_server.mjs did not start")
            .unwrap()
            .unwrap();
        let port = serde_json::from_str::<Value>(&line).unwrap()["port"]
            .as_u64()
            .unwrap();
        Self {
            url: format!("https://127.0.0.1:{port}/client.json"),
            _child: child,
            _dir: dir,
        }
    }
}
