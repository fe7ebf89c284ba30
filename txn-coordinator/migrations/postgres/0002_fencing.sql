-- Instance ownership and takeover fencing: per instance, the highest
-- fencing token that has claimed its records. Writes stamped with an older
-- token are refused; each decision row keeps the token that wrote it.
CREATE TABLE wsat_fence (
    instance  TEXT PRIMARY KEY,
    token     BIGINT NOT NULL,
    fenced_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
ALTER TABLE wsat_decision ADD COLUMN token BIGINT NOT NULL DEFAULT 0;
