-- An operator's resolution of a heuristic outcome: who, when (UTC, RFC
-- 3339) and why. A resolved outcome stays in the table (its history), off
-- the open list.
ALTER TABLE wsat_heuristic ADD COLUMN resolved_at TEXT;
ALTER TABLE wsat_heuristic ADD COLUMN resolved_by TEXT;
ALTER TABLE wsat_heuristic ADD COLUMN resolution_note TEXT;
CREATE INDEX wsat_heuristic_tx ON wsat_heuristic (instance, tx_id);
