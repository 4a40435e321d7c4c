-- dcr-bridge schema, version 1 (SQLite). Keep in step with migrations/postgres/0001_init.sql:
-- same tables, columns, constraint names and indexes; only the column types differ.
-- Timestamps are Unix seconds (BIGINT); list-valued fields are JSON text; secrets are hashes or
-- sealed (AES-256-GCM) text, never plain values.

-- What dcr-bridge last learned about each configured upstream IdP.
CREATE TABLE upstreams (
    id         TEXT   NOT NULL,
    issuer     TEXT   NOT NULL,
    metadata   TEXT,
    status     TEXT   NOT NULL,
    checked_at BIGINT NOT NULL,
    CONSTRAINT upstreams_pk PRIMARY KEY (id)
);

-- Clients that may use /authorize. upstream_id names a configured upstream, whose row may not
-- exist yet (it is written by the first discovery), hence no foreign key.
CREATE TABLE clients (
    client_id                  TEXT    NOT NULL,
    kind                       TEXT    NOT NULL,
    secret_hash                TEXT,
    token_endpoint_auth_method TEXT    NOT NULL,
    redirect_uris              TEXT    NOT NULL,
    grant_types                TEXT    NOT NULL,
    response_types             TEXT    NOT NULL,
    application_type           TEXT    NOT NULL,
    client_name                TEXT,
    client_uri                 TEXT,
    logo_uri                   TEXT,
    scope                      TEXT,
    contacts                   TEXT    NOT NULL,
    software_id                TEXT,
    software_version           TEXT,
    registration_token_hash    TEXT,
    upstream_id                TEXT    NOT NULL,
    created_at                 BIGINT  NOT NULL,
    updated_at                 BIGINT  NOT NULL,
    last_used_at               BIGINT,
    disabled                   BOOLEAN NOT NULL DEFAULT FALSE,
    CONSTRAINT clients_pk PRIMARY KEY (client_id),
    CONSTRAINT clients_kind_ck CHECK (kind IN ('dcr', 'cimd', 'static'))
);

-- Pending flows, from /authorize until the callback takes them. state_hash and upstream_sealed
-- are set together when the user approves.
CREATE TABLE authorization_requests (
    id_hash         TEXT   NOT NULL,
    client_id       TEXT   NOT NULL,
    redirect_uri    TEXT   NOT NULL,
    client_state    TEXT,
    code_challenge  TEXT   NOT NULL,
    scope           TEXT   NOT NULL,
    resource        TEXT   NOT NULL,
    upstream_id     TEXT   NOT NULL,
    browser_hash    TEXT   NOT NULL,
    csrf_hash       TEXT   NOT NULL,
    extra           TEXT,
    created_at      BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    state_hash      TEXT,
    upstream_sealed TEXT,
    CONSTRAINT authorization_requests_pk PRIMARY KEY (id_hash),
    CONSTRAINT authorization_requests_state_uq UNIQUE (state_hash),
    CONSTRAINT authorization_requests_client_fk FOREIGN KEY (client_id)
        REFERENCES clients (client_id) ON DELETE CASCADE,
    CONSTRAINT authorization_requests_upstream_ck
        CHECK ((state_hash IS NULL) = (upstream_sealed IS NULL))
);
CREATE INDEX authorization_requests_client_idx ON authorization_requests (client_id);
CREATE INDEX authorization_requests_expires_idx ON authorization_requests (expires_at);

CREATE TABLE users (
    id            TEXT   NOT NULL,
    upstream_id   TEXT   NOT NULL,
    subject       TEXT   NOT NULL,
    email         TEXT,
    name          TEXT,
    groups        TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    last_login_at BIGINT NOT NULL,
    CONSTRAINT users_pk PRIMARY KEY (id),
    CONSTRAINT users_subject_uq UNIQUE (upstream_id, subject)
);

CREATE TABLE consents (
    user_id    TEXT   NOT NULL,
    client_id  TEXT   NOT NULL,
    scope      TEXT   NOT NULL,
    resource   TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    CONSTRAINT consents_pk PRIMARY KEY (user_id, client_id, resource, scope),
    CONSTRAINT consents_user_fk FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE,
    CONSTRAINT consents_client_fk FOREIGN KEY (client_id)
        REFERENCES clients (client_id) ON DELETE CASCADE
);
CREATE INDEX consents_client_idx ON consents (client_id);

-- client_id has no foreign key on purpose: deleting a client revokes its grants, and the revoked
-- grants (with everything under them) stay as the record of what was issued.
CREATE TABLE grants (
    id              TEXT   NOT NULL,
    user_id         TEXT   NOT NULL,
    client_id       TEXT   NOT NULL,
    resource        TEXT   NOT NULL,
    scope           TEXT   NOT NULL,
    upstream_tokens TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    revoked_at      BIGINT,
    CONSTRAINT grants_pk PRIMARY KEY (id),
    CONSTRAINT grants_user_fk FOREIGN KEY (user_id) REFERENCES users (id)
);
CREATE UNIQUE INDEX grants_active_uq ON grants (user_id, client_id, resource)
    WHERE revoked_at IS NULL;
CREATE INDEX grants_client_idx ON grants (client_id);

CREATE TABLE token_families (
    id         TEXT   NOT NULL,
    grant_id   TEXT   NOT NULL,
    client_id  TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT,
    CONSTRAINT token_families_pk PRIMARY KEY (id),
    CONSTRAINT token_families_grant_fk FOREIGN KEY (grant_id) REFERENCES grants (id)
);
CREATE INDEX token_families_grant_idx ON token_families (grant_id);

CREATE TABLE authorization_codes (
    code_hash      TEXT   NOT NULL,
    grant_id       TEXT   NOT NULL,
    client_id      TEXT   NOT NULL,
    user_id        TEXT   NOT NULL,
    redirect_uri   TEXT   NOT NULL,
    code_challenge TEXT   NOT NULL,
    scope          TEXT   NOT NULL,
    resource       TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT,
    family_id      TEXT,
    CONSTRAINT authorization_codes_pk PRIMARY KEY (code_hash),
    CONSTRAINT authorization_codes_grant_fk FOREIGN KEY (grant_id) REFERENCES grants (id),
    CONSTRAINT authorization_codes_family_fk FOREIGN KEY (family_id)
        REFERENCES token_families (id) ON DELETE SET NULL
);
CREATE INDEX authorization_codes_grant_idx ON authorization_codes (grant_id);
CREATE INDEX authorization_codes_family_idx ON authorization_codes (family_id);
CREATE INDEX authorization_codes_expires_idx ON authorization_codes (expires_at);

-- One child per parent: a second rotation of the same token cannot insert, whatever the code does.
CREATE TABLE refresh_tokens (
    token_hash  TEXT   NOT NULL,
    family_id   TEXT   NOT NULL,
    parent_hash TEXT,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    replay      BLOB,
    CONSTRAINT refresh_tokens_pk PRIMARY KEY (token_hash),
    CONSTRAINT refresh_tokens_parent_uq UNIQUE (parent_hash),
    CONSTRAINT refresh_tokens_family_fk FOREIGN KEY (family_id)
        REFERENCES token_families (id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);

CREATE TABLE access_tokens (
    jti        TEXT   NOT NULL,
    family_id  TEXT   NOT NULL,
    grant_id   TEXT   NOT NULL,
    client_id  TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    CONSTRAINT access_tokens_pk PRIMARY KEY (jti),
    CONSTRAINT access_tokens_family_fk FOREIGN KEY (family_id)
        REFERENCES token_families (id) ON DELETE CASCADE,
    CONSTRAINT access_tokens_grant_fk FOREIGN KEY (grant_id) REFERENCES grants (id)
);
CREATE INDEX access_tokens_family_idx ON access_tokens (family_id);
CREATE INDEX access_tokens_grant_idx ON access_tokens (grant_id);
CREATE INDEX access_tokens_expires_idx ON access_tokens (expires_at);

CREATE TABLE signing_keys (
    kid            TEXT   NOT NULL,
    alg            TEXT   NOT NULL,
    state          TEXT   NOT NULL,
    private_sealed TEXT   NOT NULL,
    public_jwk     TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    retired_at     BIGINT,
    CONSTRAINT signing_keys_pk PRIMARY KEY (kid),
    CONSTRAINT signing_keys_state_ck CHECK (state IN ('next', 'current', 'retired'))
);
CREATE UNIQUE INDEX signing_keys_current_uq ON signing_keys (state) WHERE state = 'current';

-- seq orders events written within the same second.
CREATE TABLE audit_events (
    seq        INTEGER NOT NULL CONSTRAINT audit_events_pk PRIMARY KEY AUTOINCREMENT,
    id         TEXT   NOT NULL,
    at         BIGINT NOT NULL,
    kind       TEXT   NOT NULL,
    actor      TEXT,
    client_id  TEXT,
    grant_id   TEXT,
    request_id TEXT,
    detail     TEXT,
    CONSTRAINT audit_events_id_uq UNIQUE (id)
);
CREATE INDEX audit_events_at_idx ON audit_events (at, seq);
