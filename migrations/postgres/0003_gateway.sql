-- dcr-bridge schema, version 3 (Postgres). Keep in step with migrations/sqlite/0003_gateway.sql.

-- The gateway's revocation poll (REVOKED_ACCESS_TOKENS in src/store/sql/tokens.rs) runs every
-- gateway.revocation_poll_seconds on every replica and asks for tokens revoked since a recent
-- time. Each of its three branches starts from one of these indexes, so it reads the rows
-- revoked in the window (few) instead of every unexpired access token. Partial: only revoked
-- rows are indexed, so the indexes stay small and cost nothing at issuance.
CREATE INDEX access_tokens_revoked_idx ON access_tokens (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX token_families_revoked_idx ON token_families (revoked_at) WHERE revoked_at IS NOT NULL;
CREATE INDEX grants_revoked_idx ON grants (revoked_at) WHERE revoked_at IS NOT NULL;
