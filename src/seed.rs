//! `dcr-bridge seed`: a realistic benchmark data set in the configured database.
//!
//! Seeded rows are recognisable, so that the command can top them up and remove them without
//! touching anything else: clients carry `software_id = "dcr-bridge-seed"`, users have subjects
//! `seed-<n>` (and ids `seed-user-<n>`), and everything hanging from a seeded grant belongs to a
//! seeded user. The bulk SQL lives in `store::seed`.

use anyhow::Context as _;

use crate::config::Config;

/// Above this many clients or grants the command refuses: 10M grants are some 60M rows, beyond
/// what a benchmark needs and long enough to look like a mistaken extra zero.
pub const MAX_SEEDED: u64 = 10_000_000;

/// Options of `seed`.
#[derive(Debug, Clone, clap::Args)]
pub struct SeedArgs {
    /// Bring the number of seeded dynamic clients up to this many (only seeded ones count).
    #[arg(long, required_unless_present = "remove", conflicts_with = "remove")]
    pub clients: Option<u64>,
    /// Bring the number of seeded grants (each with its user, consent, token family, refresh
    /// token, access token and audit event) up to this many.
    #[arg(long, required_unless_present = "remove", conflicts_with = "remove")]
    pub grants: Option<u64>,
    /// Rows written per statement and transaction.
    #[arg(long, default_value_t = 5_000)]
    pub batch: usize,
    /// Delete every seeded row (and nothing else), then print the counts left (zero).
    #[arg(long)]
    pub remove: bool,
}

/// What a run did, printed as one JSON line.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct SeedReport {
    /// Seeded clients in the database at the end.
    pub clients: u64,
    /// Seeded grants in the database at the end.
    pub grants: u64,
    /// Rows this run inserted (or, with `--remove`, deleted), over all tables.
    pub inserted_rows: u64,
    /// Wall time of the run.
    pub seconds: f64,
}

/// Runs `seed` against the configured database and prints its report line.
///
/// # Errors
/// Invalid arguments, an unreachable database, or a failed statement.
pub async fn run(config: Config, args: &SeedArgs) -> anyhow::Result<()> {
    let target = validate(args)?;
    let _ = (config, target);
    anyhow::bail!("seed: not implemented yet")
}

/// The checked targets: `None` for `--remove`.
fn validate(args: &SeedArgs) -> anyhow::Result<Option<(u64, u64)>> {
    if args.remove {
        return Ok(None);
    }
    let clients = args.clients.context("--clients is required")?;
    let grants = args.grants.context("--grants is required")?;
    for (name, n) in [("--clients", clients), ("--grants", grants)] {
        if n > MAX_SEEDED {
            anyhow::bail!("{name} {n} is above the most seed makes ({MAX_SEEDED})");
        }
    }
    if grants > 0 && clients == 0 {
        anyhow::bail!("--grants {grants} needs at least one seeded client (--clients 0 was given)");
    }
    if args.batch == 0 || args.batch > 100_000 {
        anyhow::bail!("--batch must be between 1 and 100000 rows");
    }
    Ok(Some((clients, grants)))
}
