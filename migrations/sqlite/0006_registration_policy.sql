-- dcr-bridge schema, version 5 (SQLite). Keep in step with migrations/postgres/0005_i14_regpolicy.sql.

-- RFC 7591 §3 initial access tokens: with registration.mode = "initial_access_token", POST
-- /register needs one as a Bearer token. Created by `dcr-bridge initial-access-token create` or
-- the admin API; only the SHA-256 of the token is stored (the plain value is shown once).
-- uses counts successful registrations; max_uses NULL means unlimited, expires_at NULL never.
-- name is unique among the tokens not revoked, as for admin tokens.
CREATE TABLE initial_access_tokens (
    id           TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL,
    max_uses     BIGINT,
    uses         BIGINT  NOT NULL DEFAULT 0,
    expires_at   BIGINT,
    created_at   BIGINT  NOT NULL,
    created_by   TEXT    NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT,
    CONSTRAINT initial_access_tokens_pk PRIMARY KEY (id),
    CONSTRAINT initial_access_tokens_hash_uq UNIQUE (token_hash),
    CONSTRAINT initial_access_tokens_uses_ck CHECK (max_uses IS NULL OR uses <= max_uses)
);
CREATE UNIQUE INDEX initial_access_tokens_active_name_uq
    ON initial_access_tokens (name) WHERE revoked_at IS NULL;

-- Cluster-wide leases: a background job (housekeeping) runs a round only while its replica
-- holds the job's row (holder = a random id per process, until expires_at). The row
-- 'registration_cap' is never leased: registrations lock it so that, with
-- registration.max_dynamic_clients set, counting and inserting happen one at a time.
CREATE TABLE leases (
    name       TEXT   NOT NULL,
    holder     TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    CONSTRAINT leases_pk PRIMARY KEY (name)
);
INSERT INTO leases (name, holder, expires_at) VALUES ('registration_cap', '', 0);

-- Counting dynamic clients for registration.max_dynamic_clients reads this index, not the table.
CREATE INDEX clients_kind_idx ON clients (kind);
