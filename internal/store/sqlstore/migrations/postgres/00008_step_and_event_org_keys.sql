-- +goose Up
-- A step's and an event's organization is already held by their key to
-- their execution, (org_id, execution_id) → executions (org_id, id), and
-- the execution's own key to the organization. The direct key to the
-- organization only added a check per inserted row that takes a share
-- lock on the organization's row: every completion of every execution of
-- an organization locked the same row, which PostgreSQL records as
-- multixacts once transactions overlap. Deleting an organization still
-- deletes its executions, and with them their steps and events.
ALTER TABLE execution_steps DROP CONSTRAINT IF EXISTS execution_steps_org_id_fkey;
ALTER TABLE execution_events DROP CONSTRAINT IF EXISTS execution_events_org_id_fkey;

-- +goose Down
ALTER TABLE execution_steps ADD CONSTRAINT execution_steps_org_id_fkey FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE;
ALTER TABLE execution_events ADD CONSTRAINT execution_events_org_id_fkey FOREIGN KEY (org_id) REFERENCES organizations (id) ON DELETE CASCADE;
