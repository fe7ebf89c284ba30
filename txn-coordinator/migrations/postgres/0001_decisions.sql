-- The coordinator's presumed-abort log: commit decisions, their durable
-- participants, and heuristic outcomes kept for an operator.
CREATE TABLE wsat_decision (
    tx_id      TEXT PRIMARY KEY,
    instance   TEXT NOT NULL,
    decided_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX wsat_decision_instance ON wsat_decision (instance);

CREATE TABLE wsat_decision_participant (
    tx_id                TEXT NOT NULL REFERENCES wsat_decision (tx_id) ON DELETE CASCADE,
    participant          BIGINT NOT NULL,
    address              TEXT NOT NULL,
    reference_parameters TEXT NOT NULL,
    done                 BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (tx_id, participant)
);

CREATE TABLE wsat_heuristic (
    id                   BIGSERIAL PRIMARY KEY,
    instance             TEXT NOT NULL,
    tx_id                TEXT NOT NULL,
    participant          BIGINT NOT NULL,
    address              TEXT NOT NULL,
    reference_parameters TEXT NOT NULL,
    kind                 TEXT NOT NULL,
    recorded_at          TIMESTAMPTZ NOT NULL DEFAULT now()
);
