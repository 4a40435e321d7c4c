-- dcr-bridge schema, version 5 (Postgres): "connected apps" at /account (issue 14 item 5). Keep in
-- step with the other dialect's 0005_account.sql.

-- A first-party sign-in to /account in flight: its own pending request (state, nonce, PKCE,
-- browser binding), apart from authorization_requests, which belong to an MCP client. The
-- upstream callback looks the state up here first and dispatches on which table held it.
-- Single use (taken by DELETE … RETURNING), expires like an authorization request.
CREATE TABLE account_logins (
    state_hash   TEXT   NOT NULL,
    upstream_id  TEXT   NOT NULL,
    browser_hash TEXT   NOT NULL,
    sealed       TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    CONSTRAINT account_logins_pk PRIMARY KEY (state_hash)
);
CREATE INDEX account_logins_expires_idx ON account_logins (expires_at);

-- Signed-in /account sessions, stored server-side by the SHA-256 of the cookie value, so that
-- sign-out, idle expiry and an admin deleting the user end them at once (a sealed cookie could
-- not be taken back). expires_at is the absolute end; last_seen_at drives the idle timeout.
CREATE TABLE account_sessions (
    id_hash      TEXT   NOT NULL,
    user_id      TEXT   NOT NULL,
    upstream_id  TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    CONSTRAINT account_sessions_pk PRIMARY KEY (id_hash),
    CONSTRAINT account_sessions_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);
CREATE INDEX account_sessions_user_idx ON account_sessions (user_id);
CREATE INDEX account_sessions_expires_idx ON account_sessions (expires_at);

-- When the grant's client last got a token (code redemption or refresh), written at most once
-- a minute per grant. NULL: never since this migration.
ALTER TABLE grants ADD COLUMN last_used_at BIGINT;
