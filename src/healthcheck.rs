//! `dcr-bridge healthcheck`: one GET of a readiness URL, exit status 0 for a 200 and 1 for
//! anything else, so that a container image without a shell or curl (distroless) can still
//! declare a `HEALTHCHECK`. Without `--url` it reads the configuration as `serve` does and
//! probes `/readyz` on the `listen` port over loopback.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;

/// Options of `healthcheck`.
#[derive(Debug, clap::Args)]
pub struct HealthcheckArgs {
    /// URL to GET instead of `http://<listen on loopback>/readyz`, e.g. for `dev-idp`
    /// (`http://127.0.0.1:9000/.well-known/openid-configuration`).
    #[arg(long)]
    pub url: Option<url::Url>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 5)]
    pub timeout_seconds: u64,
}

/// The URL probed for a server listening on `listen`: an unspecified address (`0.0.0.0`, `::`)
/// is reached over the loopback address of its family.
#[must_use]
pub fn readyz_url(listen: SocketAddr) -> String {
    let ip = match listen.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    };
    format!("http://{}/readyz", SocketAddr::new(ip, listen.port()))
}

/// Probes once; `Ok` only for a 200.
///
/// # Errors
/// Configuration that does not load (without `--url`), no answer in time, or a status other
/// than 200 (the body is included: `/readyz` says what is not ready).
pub async fn run(config: Option<PathBuf>, args: &HealthcheckArgs) -> anyhow::Result<()> {
    let url = match &args.url {
        Some(url) => url.to_string(),
        None => readyz_url(
            crate::cli::load(config)
                .context("healthcheck without --url reads the configuration to find `listen`")?
                .listen,
        ),
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(args.timeout_seconds))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("building the HTTP client")?;
    let res = client
        .get(&url)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = res.status();
    if status == reqwest::StatusCode::OK {
        println!("{url}: 200");
        return Ok(());
    }
    let body: String = res
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(500)
        .collect();
    anyhow::bail!("{url}: {status} {body}")
}

#[cfg(test)]
#[path = "healthcheck_tests.rs"]
mod tests;
