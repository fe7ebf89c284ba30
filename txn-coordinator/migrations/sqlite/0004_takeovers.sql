-- Takeovers, for operators: each time an instance (taken_by) took a dead
-- instance's records over, with the fencing token it used, the store's
-- time, and the unfinished transactions it recovered (newline-separated,
-- at most the first 1000; transaction_count is the full number).
CREATE TABLE wsat_takeover (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    taken_by          TEXT NOT NULL,
    instance          TEXT NOT NULL,
    token             INTEGER NOT NULL,
    taken_at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    transaction_count INTEGER NOT NULL,
    transactions      TEXT NOT NULL
);
CREATE INDEX wsat_takeover_by ON wsat_takeover (taken_by, id);
-- Each instance's correlation key (hex), published when takeover is on:
-- a taker loads the key of the instance it took over, so that it can
-- authenticate, and answer, that instance's participants.
CREATE TABLE wsat_instance_key (
    instance        TEXT PRIMARY KEY NOT NULL,
    correlation_key TEXT NOT NULL
);
