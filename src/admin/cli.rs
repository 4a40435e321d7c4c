//! `dcr-bridge admin-token create|list|revoke`: admin tokens from the command line, for the
//! first token and for automation. Writes are audited with the actor `cli`.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;

use super::auth;
use crate::store::{AuditEvent, Store, StoreError};

/// `admin-token` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AdminTokenCommand {
    /// Create a token and print it once (only its hash is stored).
    Create {
        /// Who or what will hold it; recorded with every action taken with it.
        #[arg(long)]
        name: String,
        /// The token may only read.
        #[arg(long)]
        read_only: bool,
    },
    /// List every token (never the token values).
    List,
    /// Revoke a token by id, or by the name of an unrevoked token.
    Revoke {
        /// The token's id (adm_…) or name.
        name_or_id: String,
    },
}

/// The audit actor of CLI actions.
pub(super) const ACTOR: &str = "cli";

/// Runs one `admin-token` command against `store` at `now`, printing to stdout.
///
/// # Errors
/// An invalid or taken name, an unknown token, or a store failure.
pub async fn run(store: &dyn Store, command: AdminTokenCommand, now: i64) -> anyhow::Result<()> {
    match command {
        AdminTokenCommand::Create { name, read_only } => {
            auth::check_name(&name).map_err(anyhow::Error::msg)?;
            let (token, record) = auth::mint(&name, read_only, ACTOR, now);
            let audit = AuditEvent::new("admin_token_created", now)
                .actor(ACTOR)
                .detail(&json!({ "created_token_id": record.id, "name": record.name, "read_only": read_only }));
            store
                .insert_admin_token(&record, &audit)
                .await
                .map_err(|e| match e {
                    StoreError::Conflict(_) => {
                        anyhow::anyhow!("an unrevoked admin token is named {name} already")
                    }
                    other => anyhow::Error::from(other),
                })?;
            eprintln!(
                "admin token {} ({}, {}) created; it is shown once:",
                record.name,
                record.id,
                access(read_only)
            );
            println!("{token}");
        }
        AdminTokenCommand::List => {
            println!("ID\tNAME\tACCESS\tCREATED\tLAST USED\tSTATE");
            for t in store.list_admin_tokens().await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    t.id,
                    t.name,
                    access(t.read_only),
                    date(t.created_at),
                    t.last_used_at.map_or_else(|| "never".to_owned(), date),
                    t.revoked_at
                        .map_or_else(|| "active".to_owned(), |at| format!("revoked {}", date(at)))
                );
            }
        }
        AdminTokenCommand::Revoke { name_or_id } => {
            let audit = AuditEvent::new("admin_token_revoked", now).actor(ACTOR);
            let revoked = store
                .revoke_admin_token(&name_or_id, now, &audit)
                .await
                .map_err(|e| match e {
                    StoreError::NotFound => {
                        anyhow::anyhow!("no unrevoked admin token has the id or name {name_or_id}")
                    }
                    other => anyhow::Error::from(other),
                })?;
            println!("revoked admin token {} ({})", revoked.name, revoked.id);
        }
    }
    Ok(())
}

fn access(read_only: bool) -> &'static str {
    if read_only {
        "read-only"
    } else {
        "read-write"
    }
}

pub(super) fn date(unix: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_secs(u64::try_from(unix).unwrap_or_default());
    httpdate::fmt_http_date(at)
}
