//! A client ID metadata document served over HTTPS on loopback for the SDKs' CIMD tests
//! (`tests/interop/cimd_doc_server.mjs`); dcr-bridge fetches it under
//! `[cimd] allow_loopback_for_tests`. Needs the `openssl` command for the certificate.

#![allow(dead_code)] // not every test uses every helper

use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;

/// The redirect URI of the SDK scripts' documents: port-less loopback, since each script uses
/// its own port and a port-less loopback URI matches any (COMPAT C19).
pub const SDK_REDIRECT: &str = "http://127.0.0.1/callback";

/// `cimd_doc_server.mjs` over HTTPS with a throwaway certificate (the SDKs accept only an
/// `https` `clientMetadataUrl`), publishing one document for a public native client.
pub struct HttpsDocServer {
    /// `https://127.0.0.1:{port}/client.json`, the document's own `client_id`.
    pub url: String,
    /// The document's `client_name`.
    pub client_name: String,
    _child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

impl HttpsDocServer {
    /// Serves the document of `client_name` with [`SDK_REDIRECT`].
    pub async fn start(client_name: &str) -> Self {
        Self::start_with_redirect(client_name, SDK_REDIRECT).await
    }

    /// Serves the document of `client_name` with the one `redirect_uri`.
    pub async fn start_with_redirect(client_name: &str, redirect_uri: &str) -> Self {
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
            .expect("the CIMD interop tests need the openssl command to make a certificate");
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
            .current_dir(super::node::interop_dir())
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
            client_name: client_name.to_owned(),
            _child: child,
            _dir: dir,
        }
    }
}

impl HttpsDocServer {
    /// The SDK scripts' arguments that make them use this document: `--client-metadata-url`,
    /// and `--client-name` (what they look for on the consent page).
    pub fn script_args(&self) -> [&str; 4] {
        [
            "--client-metadata-url",
            &self.url,
            "--client-name",
            &self.client_name,
        ]
    }
}
