-- +goose Up
-- Nothing to do on SQLite: PostgreSQL's version has counting a start take
-- the organization's audit-chain head in the same round trip (SQLite's
-- writer already holds the database's lock). The version keeps both
-- dialects' schemas numbered alike.
SELECT 1;

-- +goose Down
SELECT 1;
