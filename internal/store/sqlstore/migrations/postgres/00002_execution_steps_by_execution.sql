-- +goose Up
-- A step is read by (org_id, execution_id) on every hand-off. Without this
-- index SQLite's planner chose execution_steps_usage_idx (org_id,
-- finished_at) and read every step the organization ever ran; the index
-- also serves the cascade from executions (org_id, id).
CREATE INDEX execution_steps_execution_idx ON execution_steps (org_id, execution_id);

-- +goose Down
DROP INDEX IF EXISTS execution_steps_execution_idx;
