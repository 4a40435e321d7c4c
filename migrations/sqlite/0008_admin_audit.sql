-- dcr-bridge schema, version 5 (SQLite). Keep in step with migrations/postgres/0005_adminapi.sql.

-- Who manages a client's metadata: 'client' (a dynamic or CIMD client, itself), 'config'
-- (a [[clients]] entry, kept in step with the file at every start, disabled when the entry is
-- removed) or 'admin' (a static client created through POST /admin/v1/clients, which the
-- start-up sync never touches). Existing static clients all came from the file.
ALTER TABLE clients ADD COLUMN managed_by TEXT NOT NULL DEFAULT 'config';
UPDATE clients SET managed_by = 'client' WHERE kind <> 'static';
-- The last refused token request or failed sign-in flow of the client, for "why did this
-- connection fail" without reading logs: a short reason (an OAuth error code and its
-- description, or the upstream's error) and when.
ALTER TABLE clients ADD COLUMN last_error TEXT;
ALTER TABLE clients ADD COLUMN last_error_at BIGINT;

-- The audit trail names the user a fact concerns in a column of its own (not only as the
-- actor), filterable and indexed, and where the request came from.
ALTER TABLE audit_events ADD COLUMN user_id TEXT;
ALTER TABLE audit_events ADD COLUMN ip TEXT;
ALTER TABLE audit_events ADD COLUMN user_agent TEXT;
-- Until now a user's facts named the user as their actor: carry that over.
UPDATE audit_events SET user_id = actor WHERE actor IN (SELECT id FROM users);
CREATE INDEX audit_events_user_at_idx ON audit_events (user_id, at, seq);
CREATE INDEX audit_events_client_at_idx ON audit_events (client_id, at, seq);
