-- +goose Up
-- Executions started per organization and UTC minute, for the hourly limit:
-- the last hour's starts are the sum of at most 61 rows, instead of a count
-- of the hour's executions that grew with load and ran under the admission
-- lock. Starting an execution adds to its minute right after taking the
-- counter row; the sweeper drops minutes older than two hours.
CREATE TABLE execution_start_minutes (
    org_id  text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    minute  text NOT NULL, -- YYYY-MM-DD HH:MM (UTC)
    started bigint NOT NULL,
    PRIMARY KEY (org_id, minute)
);

-- Carry over the last hour's executions (read in the system scope: row-level
-- security is forced on executions for the owner as well).
SELECT set_config('app.system', 'on', true);
INSERT INTO execution_start_minutes (org_id, minute, started)
    SELECT org_id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), count(*)
    FROM executions
    WHERE created_at >= now() - interval '1 hour'
    GROUP BY 1, 2;
SELECT set_config('app.system', '', true);

ALTER TABLE execution_start_minutes ENABLE ROW LEVEL SECURITY;
ALTER TABLE execution_start_minutes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON execution_start_minutes
    USING (org_id = NULLIF(current_setting('app.org_id', true), '') OR current_setting('app.system', true) = 'on')
    WITH CHECK (org_id = NULLIF(current_setting('app.org_id', true), '') OR current_setting('app.system', true) = 'on');

-- +goose Down
DROP TABLE IF EXISTS execution_start_minutes;
