//! `dcr-bridge dev-idp`: the development identity provider of this module as its own process,
//! for the docker-compose trial (deploy/compose/) and anyone who wants `serve` in front of an
//! IdP that needs no setup. Settings come from an optional TOML file (`--file`) and flags, flags
//! winning; the file's keys are checked like the main configuration's (unknown keys are errors
//! naming the key). It signs in anyone who can reach it, so it warns loudly when it listens
//! beyond loopback ([`warn_if_exposed`]).

use std::collections::HashSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use figment::providers::{Format as _, Toml};
use figment::Figment;
use serde::Deserialize;

use super::{DevIdpConfig, DevUser};

/// Options of `dcr-bridge dev-idp`.
#[derive(Debug, clap::Args)]
pub struct DevIdpArgs {
    /// TOML file with `listen`, `issuer`, `client_id`, `client_secret` or `client_secret_file`,
    /// `redirect_uris` and `[[users]]` (see deploy/compose/dev-idp.toml). Flags override it.
    #[arg(long)]
    pub file: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:9000]. Anything but loopback exposes an IdP
    /// that signs anyone in: it says so loudly.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Public issuer URL: what browsers and dcr-bridge use to reach this IdP, as written in
    /// discovery and ID tokens [default: http://<listen> on loopback; required otherwise].
    #[arg(long)]
    pub issuer: Option<String>,
    /// The one client's id [default: dcr-bridge-dev].
    #[arg(long)]
    pub client_id: Option<String>,
    /// File holding the client's secret (trimmed), e.g. a mounted secret.
    #[arg(long)]
    pub client_secret_file: Option<PathBuf>,
    /// Exact redirect URI of the client (dcr-bridge's `{public_url}/oauth/callback`);
    /// repeatable; replaces the file's list.
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    /// A user as `SUB[:PASSWORD]` (email `SUB@example.com`); repeatable; replaces the file's
    /// users. Without users anywhere: dev-alice and dev-bob with the passwords `dev` prints.
    #[arg(long = "user")]
    pub users: Vec<String>,
}

/// What the file may hold; every key optional, unknown keys refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct IdpFile {
    listen: Option<SocketAddr>,
    issuer: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    client_secret_file: Option<PathBuf>,
    redirect_uris: Option<Vec<String>>,
    users: Option<Vec<UserEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    sub: String,
    email: String,
    name: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    password: Option<String>,
}

/// The settings `dev-idp` runs with, after file and flags are merged and checked.
#[derive(Debug)]
pub struct Resolved {
    /// Where to bind.
    pub listen: SocketAddr,
    /// What to serve.
    pub config: DevIdpConfig,
}

/// Merges `args` over the file it names and checks the result; errors name the key or flag.
///
/// # Errors
/// Unreadable or invalid file, missing client secret, bad URLs, duplicate users.
pub fn resolve(args: &DevIdpArgs) -> anyhow::Result<Resolved> {
    let file = match &args.file {
        Some(path) => read_file(path)?,
        None => IdpFile::default(),
    };
    let listen = args
        .listen
        .or(file.listen)
        .unwrap_or(SocketAddr::from((Ipv4Addr::LOCALHOST, 9000)));
    let issuer = match args.issuer.clone().or(file.issuer) {
        Some(issuer) => issuer,
        None if listen.ip().is_loopback() => format!("http://{listen}"),
        None => bail!(
            "dev-idp: set issuer (or --issuer) to the URL browsers use to reach this IdP: it \
             listens on {listen}, which is not a loopback address, so no default fits"
        ),
    };
    check_http_url("issuer", &issuer)?;
    let client_id = args
        .client_id
        .clone()
        .or(file.client_id)
        .unwrap_or_else(|| "dcr-bridge-dev".to_owned());
    if client_id.trim().is_empty() {
        bail!("dev-idp: client_id must not be empty");
    }
    let client_secret = client_secret(args, file.client_secret, file.client_secret_file)?;
    let redirect_uris = if args.redirect_uris.is_empty() {
        file.redirect_uris.unwrap_or_default()
    } else {
        args.redirect_uris.clone()
    };
    if redirect_uris.is_empty() {
        bail!(
            "dev-idp: set redirect_uris (or --redirect-uri) to dcr-bridge's \
             {{public_url}}/oauth/callback"
        );
    }
    for (i, uri) in redirect_uris.iter().enumerate() {
        check_http_url(&format!("redirect_uris[{i}]"), uri)?;
    }
    let users = if args.users.is_empty() {
        match file.users {
            Some(entries) => entries.into_iter().map(user_from_entry).collect(),
            None => DevUser::with_passwords(),
        }
    } else {
        args.users
            .iter()
            .map(|u| user_from_flag(u))
            .collect::<anyhow::Result<_>>()?
    };
    check_users(&users)?;
    Ok(Resolved {
        listen,
        config: DevIdpConfig {
            issuer,
            client_id,
            client_secret,
            redirect_uris,
            users,
            auto_login: false,
        },
    })
}

fn read_file(path: &Path) -> anyhow::Result<IdpFile> {
    Figment::from(Toml::file_exact(path))
        .extract()
        .map_err(|e| anyhow::anyhow!("dev-idp file {}: {e}", path.display()))
}

/// Flag file, else the file's inline secret, else its secret file; exactly one source.
fn client_secret(
    args: &DevIdpArgs,
    inline: Option<String>,
    file_path: Option<PathBuf>,
) -> anyhow::Result<String> {
    let path = match (&args.client_secret_file, inline, file_path) {
        (Some(path), _, _) => path.clone(),
        (None, Some(_), Some(_)) => {
            bail!("dev-idp: give client_secret or client_secret_file, not both")
        }
        (None, Some(secret), None) => return non_empty_secret(secret.trim().to_owned()),
        (None, None, Some(path)) => path,
        (None, None, None) => bail!(
            "dev-idp: set client_secret_file (or --client-secret-file): dcr-bridge must present \
             the same secret as its upstream client secret"
        ),
    };
    let secret = std::fs::read_to_string(&path)
        .with_context(|| format!("dev-idp: reading client_secret_file {}", path.display()))?;
    non_empty_secret(secret.trim().to_owned())
}

fn non_empty_secret(secret: String) -> anyhow::Result<String> {
    if secret.is_empty() {
        bail!("dev-idp: the client secret is empty");
    }
    Ok(secret)
}

/// `http`/`https` with a host, no query or fragment (issuer rules of OIDC Discovery §3 apply to
/// both the issuer and the exact-match redirect URIs well enough here).
fn check_http_url(key: &str, value: &str) -> anyhow::Result<()> {
    let url = url::Url::parse(value).with_context(|| format!("dev-idp: {key} = {value:?}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        bail!("dev-idp: {key} = {value:?}: must be an http(s) URL with a host");
    }
    if url.query().is_some() || url.fragment().is_some() {
        bail!("dev-idp: {key} = {value:?}: must have no query or fragment");
    }
    Ok(())
}

fn user_from_entry(e: UserEntry) -> DevUser {
    DevUser {
        name: e.name.unwrap_or_else(|| e.sub.clone()),
        sub: e.sub,
        email: e.email,
        groups: e.groups,
        password: e.password,
    }
}

/// `SUB[:PASSWORD]`.
fn user_from_flag(flag: &str) -> anyhow::Result<DevUser> {
    let (sub, password) = match flag.split_once(':') {
        Some((sub, password)) => (sub, Some(password.to_owned())),
        None => (flag, None),
    };
    if sub.is_empty() || password.as_deref() == Some("") {
        bail!("dev-idp: --user {flag:?}: use SUB or SUB:PASSWORD, both non-empty");
    }
    Ok(DevUser {
        sub: sub.to_owned(),
        email: format!("{sub}@example.com"),
        name: sub.to_owned(),
        groups: Vec::new(),
        password,
    })
}

fn check_users(users: &[DevUser]) -> anyhow::Result<()> {
    if users.is_empty() {
        bail!("dev-idp: users is empty: nobody could sign in");
    }
    let mut seen = HashSet::new();
    for (i, u) in users.iter().enumerate() {
        if u.sub.trim().is_empty() {
            bail!("dev-idp: users[{i}].sub is empty");
        }
        if !seen.insert(u.sub.as_str()) {
            bail!("dev-idp: users[{i}].sub {:?} appears twice", u.sub);
        }
    }
    Ok(())
}

/// Prints a warning nobody can miss when `listen` is not a loopback address: `what` (the dev
/// IdP, or `dev` which includes it) signs in anyone who reaches it.
pub fn warn_if_exposed(what: &str, listen: IpAddr) {
    if listen.is_loopback() {
        return;
    }
    let line = "!".repeat(78);
    eprintln!(
        "{line}\n!! WARNING: {what} listens on {listen}, beyond loopback.\n!! The development \
         identity provider signs in ANYONE who can reach it, as any of its users.\n!! Use it \
         only for a trial on a machine or network you control; never in production.\n{line}"
    );
    tracing::warn!(%listen, "{what} is reachable beyond loopback: the development identity provider signs anyone in");
}

/// Runs `dcr-bridge dev-idp` until Ctrl-C or SIGTERM.
///
/// # Errors
/// Invalid settings, port in use.
pub async fn run(args: DevIdpArgs) -> anyhow::Result<()> {
    crate::telemetry::init(crate::config::LogFormat::Text);
    let Resolved { listen, config } = resolve(&args)?;
    warn_if_exposed("dcr-bridge dev-idp", listen.ip());
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding the dev identity provider on {listen}"))?;
    let bound = listener.local_addr()?;
    let users: Vec<String> = config
        .users
        .iter()
        .map(|u| {
            let password = u.password.as_deref().unwrap_or("(no password)");
            format!("    {} <{}>  /  {password}", u.sub, u.email)
        })
        .collect();
    let handle = super::spawn(listener, config).await?;
    println!(
        "dcr-bridge dev-idp (development identity provider, NOT for production)\n  issuer:       \
         {}\n  listening on: {bound}\n  users (user / password):\n{}",
        handle.issuer,
        users.join("\n")
    );
    tokio::select! {
        result = handle.wait() => result,
        () = crate::app::shutdown_signal() => Ok(()),
    }
}

#[cfg(test)]
#[path = "standalone_tests.rs"]
mod tests;
