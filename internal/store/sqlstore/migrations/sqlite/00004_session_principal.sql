-- +goose Up
-- Nothing to do on SQLite: PostgreSQL's version adds session_principal(),
-- the one-statement read of authentication; SQLite has no row-level
-- security and runs the same query on its own. The version keeps both
-- dialects' schemas numbered alike.
SELECT 1;

-- +goose Down
SELECT 1;
