//! `dcr-bridge initial-access-token create|list|revoke`: RFC 7591 §3 initial access tokens from
//! the command line. Writes are audited with the actor `cli`, as the admin API's are with the
//! admin token's name.

use serde_json::json;

use super::auth;
use super::cli::{date, ACTOR};
use crate::oauth::registration_policy::{check_limits, mint_initial_token, parse_lifetime};
use crate::store::{AuditEvent, Store, StoreError};

/// `initial-access-token` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum InitialTokenCommand {
    /// Create a token and print it once (only its hash is stored).
    Create {
        /// Who or what it is for; recorded with every registration made with it.
        #[arg(long)]
        name: String,
        /// Most registrations it allows (default: unlimited).
        #[arg(long)]
        max_uses: Option<i64>,
        /// Lifetime: 30d, 12h, 45m, 90s or seconds (default: no expiry).
        #[arg(long, value_parser = parse_lifetime)]
        expires_in: Option<i64>,
    },
    /// List every token (never the token values).
    List,
    /// Revoke a token by id, or by the name of an unrevoked token.
    Revoke {
        /// The token's id (iat_…) or name.
        name_or_id: String,
    },
}

/// Runs one `initial-access-token` command against `store` at `now`, printing to stdout.
///
/// # Errors
/// An invalid or taken name, bad limits, an unknown token, or a store failure.
pub async fn run(store: &dyn Store, command: InitialTokenCommand, now: i64) -> anyhow::Result<()> {
    match command {
        InitialTokenCommand::Create {
            name,
            max_uses,
            expires_in,
        } => {
            auth::check_name(&name).map_err(anyhow::Error::msg)?;
            check_limits(max_uses, expires_in).map_err(anyhow::Error::msg)?;
            let expires_at = expires_in.map(|s| now + s);
            let (token, record) = mint_initial_token(&name, max_uses, expires_at, ACTOR, now);
            let audit = AuditEvent::new("initial_access_token_created", now)
                .actor(ACTOR)
                .detail(&json!({
                    "created_token_id": record.id, "name": record.name,
                    "max_uses": max_uses, "expires_at": expires_at,
                }));
            let mut tx = store.begin().await?;
            tx.insert_initial_access_token(&record, &audit)
                .await
                .map_err(|e| match e {
                    StoreError::Conflict(_) => {
                        anyhow::anyhow!("an unrevoked initial access token is named {name} already")
                    }
                    other => anyhow::Error::from(other),
                })?;
            tx.commit().await?;
            eprintln!(
                "initial access token {} ({}, {} uses, {}) created; it is shown once:",
                record.name,
                record.id,
                max_uses.map_or_else(|| "unlimited".to_owned(), |n| n.to_string()),
                expires_at.map_or_else(
                    || "no expiry".to_owned(),
                    |at| format!("expires {}", date(at))
                )
            );
            println!("{token}");
        }
        InitialTokenCommand::List => {
            println!("ID\tNAME\tUSES\tEXPIRES\tCREATED\tLAST USED\tSTATE");
            for t in store.list_initial_access_tokens().await? {
                println!(
                    "{}\t{}\t{}/{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.name,
                    t.uses,
                    t.max_uses
                        .map_or_else(|| "unlimited".to_owned(), |n| n.to_string()),
                    t.expires_at.map_or_else(|| "never".to_owned(), date),
                    date(t.created_at),
                    t.last_used_at.map_or_else(|| "never".to_owned(), date),
                    t.unusable(now).unwrap_or("active")
                );
            }
        }
        InitialTokenCommand::Revoke { name_or_id } => {
            let audit = AuditEvent::new("initial_access_token_revoked", now).actor(ACTOR);
            let mut tx = store.begin().await?;
            let revoked = tx
                .revoke_initial_access_token(&name_or_id, now, &audit)
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => anyhow::anyhow!(
                        "no unrevoked initial access token has the id or name {name_or_id}"
                    ),
                    other => anyhow::Error::from(other),
                })?;
            tx.commit().await?;
            println!(
                "revoked initial access token {} ({})",
                revoked.name, revoked.id
            );
        }
    }
    Ok(())
}
