//! `dcr-bridge dev`: everything on loopback for a first look. SQLite in the working directory,
//! a persisted random secret key, the built-in development identity provider as the upstream
//! (its users have the passwords the banner prints, so a wrong password can be tried), and one
//! resource at `/mcp`. It takes no configuration file. Never used by `serve`. It listens on
//! loopback unless `--listen` says otherwise (a container), and then warns loudly.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context as _;
use base64::Engine as _;
use secrecy::SecretString;

use crate::config::{Config, ResourceConfig, UpstreamConfig};
use crate::devidp::{DevIdpConfig, DevUser};

/// Options of `dcr-bridge dev`.
#[derive(Debug, clap::Args)]
pub struct DevArgs {
    /// Port for dcr-bridge on 127.0.0.1.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Address for dcr-bridge instead of 127.0.0.1:PORT, e.g. `0.0.0.0:8080` in a container;
    /// the development identity provider then listens on the same IP. Anything but loopback
    /// exposes an IdP that signs anyone in: it says so loudly.
    #[arg(long, conflicts_with = "port")]
    pub listen: Option<SocketAddr>,
    /// Host name in the URLs browsers use (dcr-bridge's and the IdP's) [default: 127.0.0.1, or
    /// `localhost` when --listen is not loopback, as for a container with published ports].
    #[arg(long)]
    pub public_host: Option<String>,
    /// Port for the development identity provider (on 127.0.0.1, or --listen's IP).
    #[arg(long, default_value_t = 8081)]
    pub idp_port: u16,
    /// Directory for the SQLite database and the generated secret key.
    #[arg(long, default_value = ".dcr-bridge-dev")]
    pub data_dir: PathBuf,
}

/// Runs the development stack until Ctrl-C.
///
/// # Errors
/// Ports in use, unwritable data directory.
pub async fn run(args: DevArgs) -> anyhow::Result<()> {
    crate::telemetry::init(crate::config::LogFormat::Text);
    let listen = args
        .listen
        .unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, args.port)));
    crate::devidp::standalone::warn_if_exposed("dcr-bridge dev", listen.ip());
    let host = match &args.public_host {
        Some(host) => host.clone(),
        None if listen.ip().is_loopback() => "127.0.0.1".to_owned(),
        None => "localhost".to_owned(),
    };
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let secret_key = load_or_create_key(&args.data_dir.join("secret.key"))?;
    let idp_addr = SocketAddr::new(listen.ip(), args.idp_port);
    let idp_listener = tokio::net::TcpListener::bind(idp_addr)
        .await
        .with_context(|| format!("binding the dev identity provider on {idp_addr}"))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding dcr-bridge on {listen}"))?;
    let public_url = format!("http://{host}:{}", listener.local_addr()?.port());
    let idp_issuer = format!("http://{host}:{}", idp_listener.local_addr()?.port());
    let client_secret = crate::oauth::crypto::random_b64(24);
    let users = dev_users();
    let idp = crate::devidp::spawn(
        idp_listener,
        DevIdpConfig {
            issuer: idp_issuer.clone(),
            client_id: "dcr-bridge-dev".into(),
            client_secret: client_secret.clone(),
            redirect_uris: vec![format!("{public_url}/oauth/callback")],
            users: users.clone(),
            auto_login: false,
        },
    )
    .await?;
    // The demo MCP server sits behind the gateway like any protected MCP server would.
    let demo_listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
        .await
        .context("binding the demo MCP server on 127.0.0.1")?;
    let (demo_url, _demo) = crate::http::demo_mcp::spawn(demo_listener)?;
    let db = args.data_dir.join("dcr-bridge.db");
    let config = Config {
        public_url: public_url.parse()?,
        listen: listener.local_addr()?,
        admin_listen: None,
        admin_token: None,
        database_url: format!("sqlite://{}", db.display()),
        database: Default::default(),
        secret_key,
        old_secret_keys: Vec::new(),
        allow_insecure_http: true,
        log_format: crate::config::LogFormat::Text,
        tokens: crate::config::TokenSettings::default(),
        registration: crate::config::RegistrationSettings::default(),
        rate_limit: crate::config::RateLimitSettings::default(),
        audit: crate::config::AuditSettings::default(),
        gateway: Default::default(),
        metrics: Default::default(),
        upstreams: vec![UpstreamConfig {
            id: "dev".into(),
            kind: crate::config::UpstreamKind::Oidc,
            issuer: Some(idp.issuer.parse()?),
            web_base: None,
            api_base: None,
            client_id: "dcr-bridge-dev".into(),
            client_secret: Some(SecretString::from(client_secret)),
            client_secret_file: None,
            scopes: ["openid", "email", "profile", "offline_access"]
                .map(str::to_owned)
                .to_vec(),
            client_auth: crate::config::UpstreamClientAuth::ClientSecretBasic,
            extra_authorize_params: std::collections::BTreeMap::new(),
            discovery_ttl_seconds: 3600,
            timeout_seconds: 15,
            private_key_file: None,
            private_key_pem: None,
            certificate_thumbprint: None,
            graph_groups: false,
            graph_base: None,
            domains: Vec::new(),
            policy: Default::default(),
            refresh: Default::default(),
        }],
        resources: vec![ResourceConfig {
            id: "mcp".into(),
            path: "/mcp".into(),
            scopes: vec!["mcp".into()],
            upstream: None,
            upstreams: Vec::new(),
            introspection_secret: None,
            upstream_url: Some(demo_url.parse()?),
            required_scopes: Vec::new(),
            identity_headers: crate::http::demo_mcp::identity_headers(),
            tool_scopes: Default::default(),
            filter_tools_list: None,
            policy: Default::default(),
            scope_grants: Vec::new(),
            token_exchange_client: None,
            upstream_token_header: None,
        }],
        clients: Vec::new(),
        client_rules: Vec::new(),
        cimd: crate::config::CimdSettings::default(),
        enterprise_idps: Vec::new(),
    };
    config.validate()?;
    let store = crate::store::connect(&config.database_url).await?;
    store.migrate().await?;
    let clock = std::sync::Arc::new(crate::clock::SystemClock);
    let state = crate::app::build_with(config, store, clock).await?;
    print_banner(&public_url, &idp_issuer, &users, &db);
    crate::app::serve(state, listener, crate::app::shutdown_signal()).await
}

/// The default dev users, each with the password `<name>-dev-password` (printed in the banner).
/// Fixed rather than random so that the docs and a restarted `dev` agree.
#[must_use]
pub fn dev_users() -> Vec<DevUser> {
    DevUser::with_passwords()
}

fn load_or_create_key(path: &std::path::Path) -> anyhow::Result<SecretString> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        return Ok(SecretString::from(existing.trim().to_owned()));
    }
    let mut key = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut key);
    let encoded = base64::engine::general_purpose::STANDARD.encode(key);
    write_private(path, &encoded).with_context(|| format!("writing {}", path.display()))?;
    Ok(SecretString::from(encoded))
}

/// Writes a file only its owner can read (the key unlocks every sealed value).
fn write_private(path: &std::path::Path, content: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(content.as_bytes())
}

fn print_banner(public_url: &str, idp: &str, users: &[DevUser], db: &std::path::Path) {
    let mut lines = vec![
        String::new(),
        "dcr-bridge dev is running (NOT for production)".to_owned(),
        String::new(),
        format!("  MCP server URL (resource):  {public_url}/mcp"),
        format!("  Authorization server:       {public_url}"),
        format!(
            "  Metadata:                   {public_url}/.well-known/oauth-authorization-server"
        ),
        format!("  Dev identity provider:      {idp}"),
        format!("  Database:                   {}", db.display()),
        "  Dev users (user / password, a wrong password is refused):".to_owned(),
    ];
    for u in users {
        lines.push(format!(
            "    {} <{}>  /  {}",
            u.sub,
            u.email,
            u.password.as_deref().unwrap_or("(no password)")
        ));
    }
    lines.extend([
        String::new(),
        "Next steps:".to_owned(),
        format!("  1. Point an MCP client at {public_url}/mcp, for example"),
        format!(
            "       npx -y mcp-remote {public_url}/mcp          (stdio bridge; opens a browser)"
        ),
        format!("       claude mcp add --transport http dev {public_url}/mcp"),
        "       npx @modelcontextprotocol/inspector   (its OAuth support needs Node >= 22.19;"
            .to_owned(),
        "         without a terminal also set MCP_AUTO_OPEN_ENABLED=true)".to_owned(),
        "     or the official MCP SDKs (TypeScript, Python) with their OAuth client provider."
            .to_owned(),
        "     It registers itself; approve it on the consent page and sign in as a dev user."
            .to_owned(),
        "     The built-in demo MCP server (behind the gateway at /mcp) then answers tools/list"
            .to_owned(),
        "     and the `whoami` tool.".to_owned(),
        "  2. For a real identity provider, write dcr-bridge.toml (docs/configuration.md), then"
            .to_owned(),
        "       dcr-bridge check-config --config dcr-bridge.toml".to_owned(),
        "       dcr-bridge serve --config dcr-bridge.toml".to_owned(),
        String::new(),
        "Press Ctrl-C to stop.".to_owned(),
    ]);
    println!("{}", lines.join("\n"));
}
