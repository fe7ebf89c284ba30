-- An operator's resolution of a heuristic outcome: who, when and why. A
-- resolved outcome stays in the table (its history), off the open list.
ALTER TABLE wsat_heuristic
    ADD COLUMN resolved_at     TIMESTAMPTZ,
    ADD COLUMN resolved_by     TEXT,
    ADD COLUMN resolution_note TEXT;
CREATE INDEX wsat_heuristic_tx ON wsat_heuristic (instance, tx_id);
