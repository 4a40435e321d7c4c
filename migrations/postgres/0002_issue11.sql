-- dcr-bridge schema, version 2 (Postgres). Keep in step with migrations/sqlite/0002_issue11.sql:
-- same columns, constraint names, indexes and backfill; only the SQL needed to get there differs
-- (SQLite cannot drop a constraint, so it rebuilds `users`).

-- RFC 6749 §4.1.3: /token requires redirect_uri only when /authorize was sent one. Rows from
-- before this migration keep the old rule (always required), the safe side.
ALTER TABLE authorization_requests ADD COLUMN redirect_uri_sent BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE authorization_codes ADD COLUMN redirect_uri_sent BOOLEAN NOT NULL DEFAULT TRUE;

-- RFC 9700 §4.14.2: a refresh may narrow but never widen what was consented for its family,
-- whatever later authorizations do to the grant. Existing families get the grant's scope: what
-- a refresh gave them until now, so no token gains anything by the upgrade.
ALTER TABLE token_families ADD COLUMN scope TEXT NOT NULL DEFAULT '';
UPDATE token_families f SET scope = g.scope FROM grants g WHERE g.id = f.grant_id;
ALTER TABLE token_families ALTER COLUMN scope DROP DEFAULT;

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
UPDATE users u SET issuer = COALESCE(
    (SELECT COALESCE(up.metadata::jsonb ->> 'issuer', up.issuer)
       FROM upstreams up WHERE up.id = u.upstream_id),
    'legacy:' || u.upstream_id);
UPDATE users u SET issuer = 'legacy:' || u.upstream_id
 WHERE EXISTS (SELECT 1 FROM users o
                WHERE o.issuer = u.issuer AND o.subject = u.subject
                  AND (o.last_login_at > u.last_login_at
                       OR (o.last_login_at = u.last_login_at AND o.id < u.id)));
ALTER TABLE users DROP CONSTRAINT users_subject_uq;
ALTER TABLE users ADD CONSTRAINT users_subject_uq UNIQUE (issuer, subject);
ALTER TABLE users ALTER COLUMN issuer DROP DEFAULT;
