-- dcr-bridge schema, version 12 (SQLite). Keep in step with migrations/postgres/0012_change_feed.sql.
--
-- The Postgres version adds triggers that NOTIFY replicas of revocations and signing key
-- changes. SQLite has no LISTEN/NOTIFY (and serves one machine): processes on one SQLite file
-- learn of those changes by polling. Nothing changes in the schema; this file keeps the two
-- migration histories at the same version.
SELECT 1;
