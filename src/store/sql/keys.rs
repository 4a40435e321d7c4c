//! JWT signing keys: at most one `current` (a partial unique index), promotion is atomic.

use super::exec::{args, Exec};
use super::rows;
use crate::store::{KeyState, SigningKeyRecord, StoreError};

pub(super) async fn list(db: &mut dyn Exec) -> Result<Vec<SigningKeyRecord>, StoreError> {
    let found = db
        .fetch_all(
            "SELECT * FROM signing_keys ORDER BY created_at DESC, kid DESC",
            args![],
        )
        .await?;
    rows::all(&found, rows::signing_key)
}

pub(super) async fn insert(db: &mut dyn Exec, k: &SigningKeyRecord) -> Result<(), StoreError> {
    db.execute(
        "INSERT INTO signing_keys (kid, alg, state, private_sealed, public_jwk, created_at, retired_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        args![&k.kid, &k.alg, k.state.as_str(), &k.private_sealed, &k.public_jwk, k.created_at, k.retired_at],
    )
    .await?;
    Ok(())
}

/// Retires the current key first, so the single-current index holds after each statement.
pub(super) async fn promote(db: &mut dyn Exec, kid: &str, now: i64) -> Result<(), StoreError> {
    db.execute(
        "UPDATE signing_keys SET state = $1, retired_at = $2 WHERE state = $3 AND kid <> $4",
        args![
            KeyState::Retired.as_str(),
            now,
            KeyState::Current.as_str(),
            kid
        ],
    )
    .await?;
    let n = db
        .execute(
            "UPDATE signing_keys SET state = $1, retired_at = NULL WHERE kid = $2",
            args![KeyState::Current.as_str(), kid],
        )
        .await?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Deletes keys retired before `retired_before`: nothing they signed can still be valid.
pub(super) async fn prune_retired(
    db: &mut dyn Exec,
    retired_before: i64,
) -> Result<u64, StoreError> {
    db.execute(
        "DELETE FROM signing_keys WHERE state = $1 AND retired_at IS NOT NULL AND retired_at < $2",
        args![KeyState::Retired.as_str(), retired_before],
    )
    .await
}
