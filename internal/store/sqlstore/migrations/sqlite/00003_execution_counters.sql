-- +goose Up
-- One row per organization: the executions it started in the current
-- calendar month (UTC). Starting an execution increments it as the last
-- step before commit (SQLite's single writer serialises admission anyway).
-- It replaces counting the month's executions, which grew with history.
CREATE TABLE execution_counters (
    org_id  TEXT PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    month   TEXT NOT NULL,
    started INTEGER NOT NULL
);

-- Carry over this month's executions (timestamps are stored as UTC text).
INSERT INTO execution_counters (org_id, month, started)
    SELECT org_id, strftime('%Y-%m', 'now'), count(*)
    FROM executions
    WHERE substr(created_at, 1, 7) = strftime('%Y-%m', 'now')
    GROUP BY org_id;

-- +goose Down
DROP TABLE IF EXISTS execution_counters;
