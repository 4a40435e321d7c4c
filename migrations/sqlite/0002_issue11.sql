-- dcr-bridge schema, version 2 (SQLite). Keep in step with migrations/postgres/0002_issue11.sql:
-- same columns, constraint names, indexes and backfill; only the SQL needed to get there differs.
-- The migrator runs this with foreign keys off and checks them before committing
-- (src/store/sqlite.rs), as SQLite's table-rebuild procedure requires.

-- RFC 6749 §4.1.3: /token requires redirect_uri only when /authorize was sent one. Rows from
-- before this migration keep the old rule (always required), the safe side.
ALTER TABLE authorization_requests ADD COLUMN redirect_uri_sent BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE authorization_codes ADD COLUMN redirect_uri_sent BOOLEAN NOT NULL DEFAULT TRUE;

-- RFC 9700 §4.14.2: a refresh may narrow but never widen what was consented for its family,
-- whatever later authorizations do to the grant. Existing families get the grant's scope: what
-- a refresh gave them until now, so no token gains anything by the upgrade. (SQLite cannot drop
-- the default afterwards; every insert names the column.)
ALTER TABLE token_families ADD COLUMN scope TEXT NOT NULL DEFAULT '';
UPDATE token_families SET scope = (SELECT g.scope FROM grants g WHERE g.id = token_families.grant_id);

-- The housekeeping statement `UPDATE refresh_tokens SET replay = NULL WHERE replay IS NOT NULL
-- AND used_at <= $1` reads only the few rows still holding a replay answer.
CREATE INDEX refresh_tokens_replay_idx ON refresh_tokens (used_at) WHERE replay IS NOT NULL;

-- OIDC Core §5.7: `sub` is unique only per issuer, so users are keyed by (issuer, subject), not
-- by the configured upstream id (re-pointing an id at another IdP must not merge people).
-- Backfill from what the last start recorded for the user's upstream: the discovered issuer,
-- else the configured one. A row that cannot be attributed, or that would collide with a more
-- recently active row for the same (issuer, subject), gets `legacy:<upstream id>`, which no
-- login can produce: it keeps its grants and tokens, and its person gets a fresh user row at
-- the next sign-in instead of being merged on a guess.
ALTER TABLE users ADD COLUMN issuer TEXT NOT NULL DEFAULT '';
UPDATE users SET issuer = COALESCE(
    (SELECT COALESCE(CASE WHEN json_valid(up.metadata) THEN json_extract(up.metadata, '$.issuer') END,
                     up.issuer)
       FROM upstreams up WHERE up.id = users.upstream_id),
    'legacy:' || users.upstream_id);
UPDATE users SET issuer = 'legacy:' || users.upstream_id
 WHERE EXISTS (SELECT 1 FROM users o
                WHERE o.issuer = users.issuer AND o.subject = users.subject
                  AND (o.last_login_at > users.last_login_at
                       OR (o.last_login_at = users.last_login_at AND o.id < users.id)));

-- The unique key changes, which SQLite can only do by rebuilding the table.
CREATE TABLE users_new (
    id            TEXT   NOT NULL,
    upstream_id   TEXT   NOT NULL,
    subject       TEXT   NOT NULL,
    email         TEXT,
    name          TEXT,
    groups        TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    last_login_at BIGINT NOT NULL,
    issuer        TEXT   NOT NULL,
    CONSTRAINT users_pk PRIMARY KEY (id),
    CONSTRAINT users_subject_uq UNIQUE (issuer, subject)
);
INSERT INTO users_new (id, upstream_id, subject, email, name, groups, created_at, last_login_at, issuer)
    SELECT id, upstream_id, subject, email, name, groups, created_at, last_login_at, issuer FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;
