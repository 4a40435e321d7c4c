-- dcr-bridge schema, version 11 (SQLite): machine clients and ID-JAG. Keep in step with
-- migrations/postgres/0011_machine_clients.sql.

-- Single use of JWT assertions (RFC 7523 §3 item 7): the jti of every private_key_jwt client
-- assertion (issuer 'client:<client_id>') is kept until the assertion expires, so a replay is
-- refused on every replica. Purged with the other expired rows.
CREATE TABLE used_assertions (
    issuer     TEXT   NOT NULL,
    jti        TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,
    CONSTRAINT used_assertions_pk PRIMARY KEY (issuer, jti)
);
CREATE INDEX used_assertions_expires_idx ON used_assertions (expires_at);
