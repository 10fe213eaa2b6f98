-- +goose Up
-- Executions started per organization and UTC minute, for the hourly limit:
-- the last hour's starts are the sum of at most 61 rows, instead of a count
-- of the hour's executions that grew with load. The sweeper drops minutes
-- older than two hours.
CREATE TABLE execution_start_minutes (
    org_id  TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    minute  TEXT NOT NULL, -- YYYY-MM-DD HH:MM (UTC)
    started INTEGER NOT NULL,
    PRIMARY KEY (org_id, minute)
);

-- Carry over the last hour's executions (timestamps are stored as UTC text,
-- "YYYY-MM-DD HH:MM:SS…", so the first 16 characters are the minute).
INSERT INTO execution_start_minutes (org_id, minute, started)
    SELECT org_id, substr(created_at, 1, 16), count(*)
    FROM executions
    WHERE created_at >= datetime('now', '-1 hour')
    GROUP BY 1, 2;

-- +goose Down
DROP TABLE IF EXISTS execution_start_minutes;
