-- +goose Up
-- One row per organization: the executions it started in the current
-- calendar month (UTC). Starting an execution increments it as the last
-- step before commit, and that row lock is what serialises admission and
-- the plan's limits per organization, instead of the organization row held
-- for the whole transaction. It replaces counting the month's executions,
-- which grew with history.
CREATE TABLE execution_counters (
    org_id  text PRIMARY KEY REFERENCES organizations (id) ON DELETE CASCADE,
    month   text NOT NULL,
    started bigint NOT NULL
);

-- Carry over this month's executions. Row-level security is forced on
-- executions for the owner as well, so the backfill reads in the system scope.
SELECT set_config('app.system', 'on', true);
INSERT INTO execution_counters (org_id, month, started)
    SELECT org_id, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM'), count(*)
    FROM executions
    WHERE created_at >= date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
    GROUP BY org_id;
SELECT set_config('app.system', '', true);

ALTER TABLE execution_counters ENABLE ROW LEVEL SECURITY;
ALTER TABLE execution_counters FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON execution_counters
    USING (org_id = NULLIF(current_setting('app.org_id', true), '') OR current_setting('app.system', true) = 'on')
    WITH CHECK (org_id = NULLIF(current_setting('app.org_id', true), '') OR current_setting('app.system', true) = 'on');

-- +goose Down
DROP TABLE IF EXISTS execution_counters;
