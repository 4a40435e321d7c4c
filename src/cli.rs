//! The command line: `serve` (default), `migrate`, `check-config`, `healthcheck`, `dev`,
//! `dev-idp`, `demo-mcp`, `rotate-keys`, `admin-token`, `initial-access-token`, `seed`.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::config::Config;

/// dcr-bridge: OAuth 2.1 for MCP clients in front of an enterprise identity provider.
#[derive(Debug, Parser)]
#[command(name = "dcr-bridge", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file (TOML). Environment variables `DCR_BRIDGE_*` override it.
    #[arg(long, short, global = true, env = "DCR_BRIDGE_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the authorization server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Load and validate the configuration, reach the database and every upstream, and print
    /// what was found (including the callback URL to register upstream).
    CheckConfig,
    /// GET the running server's `/readyz` and exit 0 when it answers 200, else 1: a container
    /// HEALTHCHECK that needs no shell or curl. Without --url it probes the `listen` port of the
    /// configuration (file and environment, as `serve` reads them) on loopback.
    Healthcheck(crate::healthcheck::HealthcheckArgs),
    /// Start everything on loopback with SQLite and a built-in development identity provider
    /// (takes no configuration file).
    Dev(crate::dev::DevArgs),
    /// Run only the built-in development identity provider (for a trial of `serve`, e.g. the
    /// docker-compose one). It signs in anyone who reaches it: never in production.
    DevIdp(crate::devidp::standalone::DevIdpArgs),
    /// Run only the demo MCP server (`whoami`), to put behind the gateway in a trial. It trusts
    /// the identity headers of whoever calls it: keep it on loopback or a private network.
    DemoMcp(DemoMcpArgs),
    /// Rotate the JWT signing key: publish a new key (`--stage`), make it sign (`--promote`),
    /// or both (default). Running servers pick the change up within a minute; the old key stays
    /// in JWKS as retired so tokens it signed keep verifying.
    RotateKeys(RotateArgs),
    /// Admin API tokens: `create --name N [--read-only]` prints a new token once, `list`,
    /// `revoke <name-or-id>`.
    #[command(subcommand)]
    AdminToken(crate::admin::cli::AdminTokenCommand),
    /// RFC 7591 initial access tokens for `registration.mode = "initial_access_token"`:
    /// `create --name N [--max-uses K] [--expires-in 30d]` prints a new token once, `list`,
    /// `revoke <name-or-id>`.
    #[command(subcommand)]
    InitialAccessToken(crate::admin::initial_tokens_cli::InitialTokenCommand),
    /// Fill the configured database with a realistic benchmark data set: dynamic clients and
    /// grants (with users, consents, token families, tokens and audit rows), topped up to
    /// `--clients` / `--grants` seeded rows; `--remove` deletes every seeded row.
    Seed(crate::seed::SeedArgs),
}

/// Options of `rotate-keys`.
#[derive(Debug, clap::Args)]
pub struct RotateArgs {
    /// Only publish the next key in JWKS (let resource servers refresh their caches first).
    #[arg(long, conflicts_with = "promote")]
    pub stage: bool,
    /// Only promote the already published next key.
    #[arg(long)]
    pub promote: bool,
    /// Algorithm of the new key: `ES256`, `EdDSA` or `RS256`. Default: `[tokens]
    /// signing_algorithm`, or when unset the current key's algorithm.
    #[arg(long, conflicts_with = "promote")]
    pub algorithm: Option<crate::oauth::signing_alg::SigningAlgorithm>,
}

/// Options of `demo-mcp`.
#[derive(Debug, clap::Args)]
pub struct DemoMcpArgs {
    /// Address to listen on; it serves `/mcp`.
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
}

/// Runs the parsed command line.
///
/// # Errors
/// Any failure, with context, for `main` to print.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cli.config).await,
        Command::Migrate => migrate(cli.config).await,
        Command::CheckConfig => check_config(cli.config).await,
        Command::Dev(args) => {
            // `dev` builds its own loopback setup; silently ignoring a file would let a user
            // believe their configuration was tried.
            if let Some(path) = cli.config {
                anyhow::bail!(
                    "dev does not read a configuration file (it runs its own loopback setup with the development identity provider), but {} was given with --config or DCR_BRIDGE_CONFIG; to run that file use `dcr-bridge serve --config {}`, or for dev drop --config and unset DCR_BRIDGE_CONFIG",
                    path.display(),
                    path.display()
                );
            }
            crate::dev::run(args).await
        }
        Command::Healthcheck(args) => crate::healthcheck::run(cli.config, &args).await,
        Command::DevIdp(args) => {
            refuse_config("dev-idp", cli.config.as_deref())?;
            crate::devidp::standalone::run(args).await
        }
        Command::DemoMcp(args) => {
            refuse_config("demo-mcp", cli.config.as_deref())?;
            demo_mcp(&args).await
        }
        Command::RotateKeys(args) => rotate_keys(cli.config, &args).await,
        Command::AdminToken(command) => admin_token(cli.config, command).await,
        Command::InitialAccessToken(command) => initial_access_token(cli.config, command).await,
        Command::Seed(args) => crate::seed::run(load(cli.config)?, &args).await,
    }
}

/// The trial helpers read no dcr-bridge configuration; ignoring one silently would let a user
/// believe it was used.
fn refuse_config(command: &str, path: Option<&std::path::Path>) -> anyhow::Result<()> {
    match path {
        Some(path) => anyhow::bail!(
            "{command} does not read the dcr-bridge configuration, but {} was given with --config \
             or DCR_BRIDGE_CONFIG; drop --config and unset DCR_BRIDGE_CONFIG for {command} \
             (see `dcr-bridge {command} --help` for its own options)",
            path.display()
        ),
        None => Ok(()),
    }
}

/// `demo-mcp`: the demo MCP server of `dev` on its own, until Ctrl-C or SIGTERM.
async fn demo_mcp(args: &DemoMcpArgs) -> anyhow::Result<()> {
    crate::telemetry::init(crate::config::LogFormat::Text);
    if !args.listen.ip().is_loopback() {
        eprintln!(
            "WARNING: demo-mcp listens on {}, beyond loopback. It believes the identity headers \
             of any caller: let only dcr-bridge's gateway reach it.",
            args.listen
        );
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("binding demo-mcp on {}", args.listen))?;
    let (url, task) = crate::http::demo_mcp::spawn(listener)?;
    println!("dcr-bridge demo-mcp (demo MCP server, tool `whoami`) listening at {url}");
    tokio::select! {
        joined = task => {
            joined.context("demo MCP server task")?;
            anyhow::bail!("the demo MCP server stopped (see the log above)")
        }
        () = crate::app::shutdown_signal() => Ok(()),
    }
}

pub(crate) fn load(path: Option<PathBuf>) -> anyhow::Result<Config> {
    let path = path.or_else(|| {
        let default = PathBuf::from("dcr-bridge.toml");
        default.exists().then_some(default)
    });
    Config::load(path.as_deref()).context("loading configuration")
}

async fn serve(path: Option<PathBuf>) -> anyhow::Result<()> {
    let config = load(path)?;
    crate::telemetry::init(config.log_format);
    let listen: SocketAddr = config.listen;
    tracing::info!(issuer = %config.issuer(), callback = %config.callback_url(), "register this callback URL at every upstream");
    let state = crate::app::build(config).await?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    tracing::info!(%listen, "dcr-bridge listening");
    let admin_listener = match state.config.admin_listen {
        Some(admin) => {
            let bound = tokio::net::TcpListener::bind(admin)
                .await
                .with_context(|| format!("binding admin_listen {admin}"))?;
            tracing::info!(%admin, "admin API listening");
            Some(bound)
        }
        None => None,
    };
    crate::app::serve_all(
        state,
        listener,
        admin_listener,
        crate::app::shutdown_signal(),
    )
    .await
}

async fn migrate(path: Option<PathBuf>) -> anyhow::Result<()> {
    let config = load(path)?;
    crate::telemetry::init(config.log_format);
    let store = crate::store::connect(&config.database_url).await?;
    store.migrate().await?;
    println!("migrations applied ({})", store.backend());
    Ok(())
}

async fn check_config(path: Option<PathBuf>) -> anyhow::Result<()> {
    let config = load(path)?;
    println!("configuration: ok");
    println!("  issuer (public_url): {}", config.issuer());
    println!(
        "  callback to register at each upstream: {}",
        config.callback_url()
    );
    let store = crate::store::connect(&config.database_url)
        .await
        .context("connecting to the database")?;
    store.ping().await.context("database ping")?;
    println!("database: ok ({})", store.backend());
    let clock: std::sync::Arc<dyn crate::clock::Clock> =
        std::sync::Arc::new(crate::clock::SystemClock);
    let mut failed = false;
    for up in &config.upstreams {
        let idp = crate::idp::build(
            &config.upstream_for_idp(up),
            &config.callback_url(),
            clock.clone(),
        )?;
        match idp.check().await {
            Ok(found) => println!(
                "upstream {}: ok\n{}",
                up.id,
                indent(&serde_json::to_string_pretty(&found)?)
            ),
            Err(e) => {
                failed = true;
                println!("upstream {}: FAILED: {e}", up.id);
            }
        }
    }
    for r in &config.resources {
        println!(
            "resource {}: {}{} scopes={:?} metadata={}/.well-known/oauth-protected-resource{}",
            r.id,
            config.issuer(),
            r.path,
            r.scopes,
            config.issuer(),
            r.path
        );
    }
    if failed {
        anyhow::bail!("one or more upstreams failed their check");
    }
    Ok(())
}

async fn rotate_keys(path: Option<PathBuf>, args: &RotateArgs) -> anyhow::Result<()> {
    use crate::clock::Clock as _;
    use crate::oauth::keys::KeyRing;
    let config = load(path)?;
    let store = crate::store::connect(&config.database_url).await?;
    store.migrate().await?;
    let cipher = crate::oauth::crypto::Cipher::new(
        &config.secret_key_bytes()?,
        &config.old_secret_key_bytes()?,
    );
    let now = crate::clock::SystemClock.now();
    let fail = |e: crate::oauth::Error| anyhow::anyhow!("key rotation failed: {e}");
    let (staged, activated) = KeyRing::rotate_audited(
        store.as_ref(),
        &cipher,
        &crate::clock::SystemClock,
        args.algorithm.or(config.tokens.signing_algorithm),
        !args.promote,
        !args.stage,
        |staged, activated| {
            crate::store::AuditEvent::new("signing_key_rotated", now)
                .actor("cli")
                .detail(&serde_json::json!({ "staged_kid": staged, "activated_kid": activated }))
        },
    )
    .await
    .map_err(fail)?;
    if let Some(kid) = staged {
        println!("next signing key published in JWKS: {kid}");
    }
    if !args.stage {
        match activated {
            Some(kid) => {
                println!("signing key now current: {kid} (previous key retired, still published)")
            }
            None => println!("no staged key to promote"),
        }
    }
    Ok(())
}

async fn admin_token(
    path: Option<PathBuf>,
    command: crate::admin::cli::AdminTokenCommand,
) -> anyhow::Result<()> {
    use crate::clock::Clock as _;
    let store = migrated_store(path).await?;
    crate::admin::cli::run(store.as_ref(), command, crate::clock::SystemClock.now()).await
}

async fn initial_access_token(
    path: Option<PathBuf>,
    command: crate::admin::initial_tokens_cli::InitialTokenCommand,
) -> anyhow::Result<()> {
    use crate::clock::Clock as _;
    let store = migrated_store(path).await?;
    crate::admin::initial_tokens_cli::run(store.as_ref(), command, crate::clock::SystemClock.now())
        .await
}

/// The configured database, connected and migrated (for the token commands).
async fn migrated_store(
    path: Option<PathBuf>,
) -> anyhow::Result<std::sync::Arc<dyn crate::store::Store>> {
    let config = load(path)?;
    let store = crate::store::connect(&config.database_url)
        .await
        .context("connecting to the database")?;
    store.migrate().await.context("applying migrations")?;
    Ok(store)
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
