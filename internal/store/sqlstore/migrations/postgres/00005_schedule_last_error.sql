-- +goose Up
-- Why the schedule's last due time did not start an execution (a limit, an
-- input the workflow's schema refuses, a missing pin); empty after a run
-- that started one. The audit log keeps every failure.
ALTER TABLE scheduled_executions ADD COLUMN last_error text NOT NULL DEFAULT '';

-- +goose Down
ALTER TABLE scheduled_executions DROP COLUMN last_error;
