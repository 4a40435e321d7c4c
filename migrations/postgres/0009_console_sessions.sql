-- dcr-bridge schema, version 9 (Postgres): admin console sessions in the database, so that a restart
-- or another replica keeps an operator signed in (issue 15: a rolling restart logs nobody out).
-- Keep in step with the other dialect's 0009_console_sessions.sql.

-- Stored by the SHA-256 of the cookie value, with the SHA-256 of the admin token that opened
-- the session (every request re-checks that token, so revoking it ends the session). Neither
-- hash can be presented: a stolen backup holds no usable session. The CSRF token of a session
-- is derived from its cookie value with the secret key, so it is not stored either.
-- expires_at is the absolute end; last_seen_at drives the idle timeout.
CREATE TABLE admin_console_sessions (
    id_hash      TEXT   NOT NULL,
    token_hash   TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    CONSTRAINT admin_console_sessions_pk PRIMARY KEY (id_hash)
);
CREATE INDEX admin_console_sessions_expires_idx ON admin_console_sessions (expires_at);
