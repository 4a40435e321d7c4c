-- dcr-bridge schema, version 12 (Postgres): replicas learn of revocations and signing key changes
-- as they commit (issue 15). Keep in step with migrations/sqlite/0012_change_feed.sql.
--
-- NOTIFY is transactional: a notification is delivered when (and only if) the transaction that
-- revoked or rotated commits. Identical notifications of one transaction are folded into one.
-- Every replica LISTENs (src/store/postgres.rs) and polls at once; polling on a timer stays the
-- fallback for a listener that was disconnected.

CREATE FUNCTION dcr_bridge_notify_revoked() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('dcr_bridge_revocations', TG_TABLE_NAME);
    RETURN NULL;
END
$$;

CREATE TRIGGER access_tokens_revoked_notify
    AFTER UPDATE OF revoked_at ON access_tokens
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION dcr_bridge_notify_revoked();

CREATE TRIGGER token_families_revoked_notify
    AFTER UPDATE OF revoked_at ON token_families
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION dcr_bridge_notify_revoked();

CREATE TRIGGER grants_revoked_notify
    AFTER UPDATE OF revoked_at ON grants
    FOR EACH ROW WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
    EXECUTE FUNCTION dcr_bridge_notify_revoked();

CREATE FUNCTION dcr_bridge_notify_signing_keys() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('dcr_bridge_signing_keys', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER signing_keys_changed_notify
    AFTER INSERT OR UPDATE OR DELETE ON signing_keys
    FOR EACH STATEMENT
    EXECUTE FUNCTION dcr_bridge_notify_signing_keys();
