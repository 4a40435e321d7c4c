-- dcr-bridge schema, version 10 (SQLite): client→upstream mapping. Keep in step with
-- migrations/postgres/0010_upstream_mapping.sql.

-- clients.upstream_id is now the upstream a client is mapped to ([[client_rules]] upstream,
-- [[clients]] upstream, the admin API), and an empty string means unmapped: the user signs in
-- at the resource's upstream, or chooses among the resource's upstreams. Until now dynamic and
-- CIMD clients recorded the first upstream without being bound to it, so they become unmapped,
-- which is what they were. Static clients stay bound to their upstream, as before.
UPDATE clients SET upstream_id = '' WHERE kind IN ('dcr', 'cimd');
