#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::ChangeMarks;

#[test]
fn statements_are_classified_by_what_they_change() {
    let r = ChangeMarks::REVOCATIONS;
    for (sql, want) in [
        (
            "UPDATE grants SET revoked_at = $2, updated_at = $2 WHERE id = $1",
            r,
        ),
        (
            "UPDATE token_families SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
            r,
        ),
        (
            "UPDATE access_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE jti = $1",
            r,
        ),
        (
            "DELETE FROM clients WHERE client_id = $1",
            r.with(ChangeMarks::CLIENTS),
        ),
        (
            "INSERT INTO users (id, email) VALUES ($1, $2)",
            ChangeMarks::USERS,
        ),
        (
            "UPDATE clients SET secret_hash = $2, disabled = $18",
            ChangeMarks::CLIENTS,
        ),
        (
            "UPDATE clients SET last_used_at = $2 WHERE client_id = $1",
            ChangeMarks::none(),
        ),
        (
            "UPDATE grants SET last_used_at = $2 WHERE id = $1",
            ChangeMarks::none(),
        ),
        (
            "SELECT * FROM grants WHERE revoked_at = $1",
            ChangeMarks::none(),
        ),
        ("  update access_tokens set revoked_at = 1", r),
    ] {
        assert_eq!(ChangeMarks::of_statement(sql), want, "{sql}");
    }
}
