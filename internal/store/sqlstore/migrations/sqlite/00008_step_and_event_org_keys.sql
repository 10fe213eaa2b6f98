-- +goose Up
-- Nothing to do on SQLite: PostgreSQL's version drops the steps' and
-- events' direct keys to their organization, which their keys to their
-- execution already imply (SQLite cannot drop a constraint without
-- rebuilding the table, and its checks take no row locks). The version
-- keeps both dialects' schemas numbered alike.
SELECT 1;

-- +goose Down
SELECT 1;
