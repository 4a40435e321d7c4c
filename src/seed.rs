//! `dcr-bridge seed`: a realistic benchmark data set in the configured database.
//!
//! Seeded rows are recognisable, so that the command can top them up and remove them without
//! touching anything else: clients carry `software_id = "dcr-bridge-seed"`, users have subjects
//! `seed-<n>` (and ids `seed-user-<n>`), and everything hanging from a seeded grant belongs to a
//! seeded user. The bulk SQL lives in `store::seed`, the rows' shapes in `seed/generate.rs`.

mod generate;

use anyhow::Context as _;

use crate::config::Config;
use crate::store::seed::SeedDb;

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
    let report = seed(&config, args).await?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// [`run`] without the printing: seeds (or removes) and reports.
///
/// # Errors
/// As [`run`].
pub async fn seed(config: &Config, args: &SeedArgs) -> anyhow::Result<SeedReport> {
    use crate::clock::Clock as _;
    let target = validate(args)?;
    let started = std::time::Instant::now();
    // The URL may hold a password: name the setting, not its value.
    let db = SeedDb::connect_migrated(&config.database_url)
        .await
        .context("connecting to and migrating the database of database_url")?;
    let Some((want_clients, want_grants)) = target else {
        let removed = db.remove().await.context("removing the seeded rows")?;
        return report(&db, removed, started).await;
    };
    let shape = shape(config, crate::clock::SystemClock.now())?;
    let (have_clients, have_grants) = db.counts().await?;
    let batch = u64::try_from(args.batch).unwrap_or(u64::MAX);
    let mut inserted = 0;
    let mut next = have_clients;
    while next < want_clients {
        let count = batch.min(want_clients - next);
        inserted += db
            .insert(&generate::clients(&shape, next, count))
            .await
            .context("inserting seeded clients")?;
        next += count;
    }
    if have_grants < want_grants {
        let client_ids = db.seeded_client_ids().await?;
        if client_ids.is_empty() {
            anyhow::bail!("no seeded client to give grants to: seed clients first (--clients)");
        }
        // A user's grants go to distinct clients (the active grant key is user, client,
        // resource), so a user has at most as many grants as there are clients.
        let per_user = GRANTS_PER_USER.min(u64::try_from(client_ids.len()).unwrap_or(u64::MAX));
        // Whole users per batch: a user is written with its first grant.
        let batch = (batch / per_user).max(1) * per_user;
        let mut user = db.next_user_number().await?;
        let mut next = have_grants;
        while next < want_grants {
            let count = batch.min(want_grants - next);
            let rows = generate::grants(&shape, &client_ids, next, user, per_user, count)
                .context("sealing seeded upstream tokens")?;
            inserted += db.insert(&rows).await.context("inserting seeded grants")?;
            next += count;
            user += count.div_ceil(per_user);
        }
    }
    report(&db, inserted, started).await
}

/// A seeded user holds this many grants (one per client it connected), like a person with a
/// few MCP clients.
const GRANTS_PER_USER: u64 = 3;

async fn report(db: &SeedDb, rows: u64, started: std::time::Instant) -> anyhow::Result<SeedReport> {
    let (clients, grants) = db.counts().await?;
    Ok(SeedReport {
        clients,
        grants,
        inserted_rows: rows,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// What the rows take from the configuration: lifetimes, resources, the sealing key.
fn shape(config: &Config, now: i64) -> anyhow::Result<generate::Shape> {
    let issuer = config.issuer();
    let resources = config
        .resources
        .iter()
        .map(|r| {
            let upstream_id = config
                .resource_upstreams(r)
                .into_iter()
                .next()
                .unwrap_or_default();
            let upstream_issuer = config
                .upstreams
                .iter()
                .find(|u| u.id == upstream_id)
                .map(crate::config::UpstreamConfig::home)
                .unwrap_or_default();
            generate::SeedResource {
                uri: format!("{issuer}{}", r.path),
                scope: r.scopes.join(" "),
                upstream_id,
                issuer: upstream_issuer,
            }
        })
        .collect::<Vec<_>>();
    if resources.is_empty() {
        anyhow::bail!("the configuration has no [[resources]] to seed grants for");
    }
    Ok(generate::Shape {
        now,
        access_token_ttl: config.tokens.access_token_ttl,
        refresh_token_ttl: config.tokens.refresh_token_ttl,
        resources,
        cipher: crate::oauth::crypto::Cipher::new(
            &config.secret_key_bytes()?,
            &config.old_secret_key_bytes()?,
        ),
    })
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
