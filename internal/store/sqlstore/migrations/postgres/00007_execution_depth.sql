-- +goose Up
-- How deep in workflow calls an execution is: 0 when started by a person,
-- an API key or a schedule, its caller's depth + 1 when a workflow tool
-- started it. Its steps run on the step queue of that depth, so callers
-- waiting for their children can never take every worker the children
-- need.
ALTER TABLE executions ADD COLUMN depth integer NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE executions DROP COLUMN depth;
