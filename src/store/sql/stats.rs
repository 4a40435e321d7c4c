//! Counts for the admin API's stats: audit events of a time window by kind (and by detail for
//! the kinds whose detail is a small set of values, such as `login_failed`'s reason), and how
//! many clients, users and active grants there are.

use super::exec::{args, Arg, Exec};
use crate::store::{AuditCount, Inventory, StoreError};

/// Events in `[from, to)` grouped by kind, and by detail text for the kinds in `by_detail`
/// (other kinds' details hold ids, which would make every row a group of its own).
pub(super) async fn audit_counts(
    db: &mut dyn Exec,
    from: i64,
    to: i64,
    by_detail: &[&str],
) -> Result<Vec<AuditCount>, StoreError> {
    let mut args: Vec<Arg<'_>> = vec![Arg::from(from), Arg::from(to)];
    let detail_kinds = if by_detail.is_empty() {
        "1 = 0".to_owned()
    } else {
        let placeholders: Vec<String> = by_detail
            .iter()
            .map(|kind| {
                args.push(Arg::from(*kind));
                format!("${}", args.len())
            })
            .collect();
        format!("kind IN ({})", placeholders.join(", "))
    };
    let found = db
        .fetch_all(
            &format!(
                "SELECT kind, CASE WHEN {detail_kinds} THEN detail END AS detail, \
                 COUNT(*) AS n FROM audit_events WHERE at >= $1 AND at < $2 \
                 GROUP BY 1, 2 ORDER BY 1, 2"
            ),
            &args,
        )
        .await?;
    found
        .iter()
        .map(|r| {
            Ok(AuditCount {
                kind: r.text("kind")?,
                detail: r.opt_text("detail")?,
                count: r.int("n")?,
            })
        })
        .collect()
}

pub(super) async fn inventory(db: &mut dyn Exec) -> Result<Inventory, StoreError> {
    let by_kind = db
        .fetch_all(
            "SELECT kind, COUNT(*) AS n FROM clients GROUP BY kind ORDER BY kind",
            args![],
        )
        .await?;
    let clients_by_kind = by_kind
        .iter()
        .map(|r| Ok((r.text("kind")?, r.int("n")?)))
        .collect::<Result<_, StoreError>>()?;
    let count = |rows: Vec<super::exec::BoxRow>| -> Result<i64, StoreError> {
        rows.first().map_or(Ok(0), |r| r.int("n"))
    };
    let users = count(
        db.fetch_all("SELECT COUNT(*) AS n FROM users", args![])
            .await?,
    )?;
    let active_grants = count(
        db.fetch_all(
            "SELECT COUNT(*) AS n FROM grants WHERE revoked_at IS NULL",
            args![],
        )
        .await?,
    )?;
    Ok(Inventory {
        clients_by_kind,
        users,
        active_grants,
    })
}
