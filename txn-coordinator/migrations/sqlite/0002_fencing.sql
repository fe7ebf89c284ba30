-- Instance ownership and takeover fencing: per instance, the highest
-- fencing token that has claimed its records. Writes stamped with an older
-- token are refused; each decision row keeps the token that wrote it.
CREATE TABLE wsat_fence (
    instance  TEXT PRIMARY KEY NOT NULL,
    token     INTEGER NOT NULL,
    fenced_at INTEGER NOT NULL DEFAULT (unixepoch())
);
ALTER TABLE wsat_decision ADD COLUMN token INTEGER NOT NULL DEFAULT 0;
