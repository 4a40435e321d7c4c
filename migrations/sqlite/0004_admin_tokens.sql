-- dcr-bridge schema, version 4 (SQLite). Keep in step with migrations/postgres/0004_admin_tokens.sql.

-- Bearer tokens of the admin API (/admin/v1), created by `dcr-bridge admin-token create` or
-- the API. Only the SHA-256 of the token is stored (the plain value is shown once). name is
-- what the audit trail records for every action taken with the token; it is unique among the
-- tokens not revoked, so a name can be reused once its token is revoked.
CREATE TABLE admin_tokens (
    id           TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL,
    read_only    BOOLEAN NOT NULL,
    created_at   BIGINT  NOT NULL,
    created_by   TEXT    NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT,
    CONSTRAINT admin_tokens_pk PRIMARY KEY (id),
    CONSTRAINT admin_tokens_hash_uq UNIQUE (token_hash)
);
CREATE UNIQUE INDEX admin_tokens_active_name_uq ON admin_tokens (name) WHERE revoked_at IS NULL;

-- The admin API lists clients, users and grants newest first in keyset pages: (created_at, id)
-- descending, the last row of a page being the cursor of the next. These indexes serve each
-- list and its filters without sorting the table.
CREATE INDEX clients_created_idx ON clients (created_at, client_id);
CREATE INDEX clients_kind_created_idx ON clients (kind, created_at, client_id);
CREATE INDEX users_created_idx ON users (created_at, id);
CREATE INDEX grants_created_idx ON grants (created_at, id);
CREATE INDEX grants_user_created_idx ON grants (user_id, created_at, id);
CREATE INDEX grants_client_created_idx ON grants (client_id, created_at, id);
