-- The coordinator's presumed-abort log: commit decisions, their durable
-- participants, and heuristic outcomes kept for an operator.
CREATE TABLE wsat_decision (
    tx_id      TEXT PRIMARY KEY NOT NULL,
    instance   TEXT NOT NULL,
    decided_at INTEGER NOT NULL DEFAULT (unixepoch())
);
CREATE INDEX wsat_decision_instance ON wsat_decision (instance);

CREATE TABLE wsat_decision_participant (
    tx_id                TEXT NOT NULL REFERENCES wsat_decision (tx_id) ON DELETE CASCADE,
    participant          INTEGER NOT NULL,
    address              TEXT NOT NULL,
    reference_parameters TEXT NOT NULL,
    done                 INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tx_id, participant)
);

CREATE TABLE wsat_heuristic (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    instance             TEXT NOT NULL,
    tx_id                TEXT NOT NULL,
    participant          INTEGER NOT NULL,
    address              TEXT NOT NULL,
    reference_parameters TEXT NOT NULL,
    kind                 TEXT NOT NULL,
    recorded_at          INTEGER NOT NULL DEFAULT (unixepoch())
);
