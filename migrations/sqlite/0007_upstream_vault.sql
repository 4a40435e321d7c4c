-- dcr-bridge schema, version 5 (SQLite). Keep in step with migrations/postgres/0005_i13_vault.sql.

-- The upstream token vault (docs/security.md, "Upstream token vault"). A grant remembers which
-- upstream its sealed token set came from, when the user's standing there was last confirmed
-- (login or a successful upstream refresh), and until when a transient upstream failure holds
-- off the next attempt. upstream_lease_holder/upstream_lease_until are the lease one dcr-bridge
-- instance takes (compare-and-set, one UPDATE) before it refreshes upstream, so one grant's
-- upstream refresh token is sent by one caller at a time, whatever the number of replicas;
-- no transaction is held across the HTTP call.
ALTER TABLE grants ADD COLUMN upstream_id TEXT;
ALTER TABLE grants ADD COLUMN upstream_checked_at BIGINT;
ALTER TABLE grants ADD COLUMN upstream_retry_at BIGINT;
ALTER TABLE grants ADD COLUMN upstream_lease_holder TEXT;
ALTER TABLE grants ADD COLUMN upstream_lease_until BIGINT;
