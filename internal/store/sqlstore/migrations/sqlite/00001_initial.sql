-- +goose Up
-- The seed's eight tables (organizations, teams, users, workflows,
-- executions, audit_logs, workflow_versions, scheduled_executions) and what
-- the features need beside them. Every tenant table carries org_id; foreign
-- keys between tenant tables include org_id, so a row can never point into
-- another organization. Timestamps are UTC, written by the application.

CREATE TABLE organizations (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL,
    slug                      TEXT NOT NULL UNIQUE,
    plan                      TEXT NOT NULL,
    max_workflows             INTEGER NOT NULL,
    max_agents                INTEGER NOT NULL,
    max_teams                 INTEGER NOT NULL,
    max_executions_per_month  INTEGER NOT NULL,
    max_concurrent_executions INTEGER NOT NULL,
    max_agents_per_workflow   INTEGER NOT NULL,
    settings                  TEXT NOT NULL DEFAULT '{}',
    require_mfa               BOOLEAN NOT NULL DEFAULT false,
    is_active                 BOOLEAN NOT NULL DEFAULT true,
    created_at                TIMESTAMP NOT NULL,
    updated_at                TIMESTAMP NOT NULL,
    deleted_at                TIMESTAMP
);

CREATE TABLE teams (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    settings    TEXT NOT NULL DEFAULT '{}',
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    UNIQUE (org_id, id),
    UNIQUE (org_id, name)
);

CREATE TABLE users (
    id                  TEXT PRIMARY KEY,
    org_id              TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    team_id             TEXT,
    email               TEXT NOT NULL UNIQUE,
    username            TEXT NOT NULL UNIQUE,
    full_name           TEXT NOT NULL DEFAULT '',
    password_hash       TEXT NOT NULL DEFAULT '',
    role                TEXT NOT NULL,
    permissions         TEXT NOT NULL DEFAULT '[]',
    is_active           BOOLEAN NOT NULL DEFAULT true,
    email_verified_at   TIMESTAMP,
    mfa_enabled         BOOLEAN NOT NULL DEFAULT false,
    mfa_secret          TEXT NOT NULL DEFAULT '',
    mfa_last_step       INTEGER NOT NULL DEFAULT 0,
    last_login          TIMESTAMP,
    failed_logins       INTEGER NOT NULL DEFAULT 0,
    failed_window_start TIMESTAMP,
    locked_until        TIMESTAMP,
    password_changed_at TIMESTAMP,
    invited_by          TEXT,
    created_at          TIMESTAMP NOT NULL,
    updated_at          TIMESTAMP NOT NULL,
    deleted_at          TIMESTAMP,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, team_id) REFERENCES teams (org_id, id)
);
CREATE INDEX users_org_idx ON users (org_id, created_at);

CREATE TABLE sessions (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL,
    created_at     TIMESTAMP NOT NULL,
    last_used_at   TIMESTAMP NOT NULL,
    expires_at     TIMESTAMP NOT NULL,
    ip_address     TEXT NOT NULL DEFAULT '',
    user_agent     TEXT NOT NULL DEFAULT '',
    revoked_at     TIMESTAMP,
    revoked_reason TEXT NOT NULL DEFAULT '',
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE
);
CREATE INDEX sessions_user_idx ON sessions (org_id, user_id, created_at);

CREATE TABLE refresh_tokens (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    session_id  TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    parent_id   TEXT,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP,
    FOREIGN KEY (org_id, session_id) REFERENCES sessions (org_id, id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    created_by   TEXT NOT NULL,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    secret_hash  TEXT NOT NULL UNIQUE,
    role         TEXT NOT NULL,
    permissions  TEXT NOT NULL DEFAULT '[]',
    expires_at   TIMESTAMP,
    last_used_at TIMESTAMP,
    revoked_at   TIMESTAMP,
    created_at   TIMESTAMP NOT NULL,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, created_by) REFERENCES users (org_id, id)
);
CREATE INDEX api_keys_org_idx ON api_keys (org_id, created_at);

CREATE TABLE one_time_tokens (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    purpose    TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    data       TEXT NOT NULL DEFAULT '{}',
    expires_at TIMESTAMP NOT NULL,
    used_at    TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE
);
CREATE INDEX one_time_tokens_user_idx ON one_time_tokens (org_id, user_id, purpose);

CREATE TABLE mfa_recovery_codes (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    TEXT NOT NULL,
    code_hash  TEXT NOT NULL,
    used_at    TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE
);
CREATE INDEX mfa_recovery_codes_user_idx ON mfa_recovery_codes (org_id, user_id);

CREATE TABLE workflows (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    team_id     TEXT,
    created_by  TEXT NOT NULL,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    definition  TEXT NOT NULL,
    tags        TEXT NOT NULL DEFAULT '[]',
    category    TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL,
    version     INTEGER NOT NULL,
    pin_dev     INTEGER,
    pin_staging INTEGER,
    pin_prod    INTEGER,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    archived_at TIMESTAMP,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, team_id) REFERENCES teams (org_id, id)
);
CREATE INDEX workflows_org_idx ON workflows (org_id, created_at);

CREATE TABLE workflow_versions (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    workflow_id    TEXT NOT NULL,
    version        INTEGER NOT NULL,
    parent_version INTEGER NOT NULL DEFAULT 0,
    name           TEXT NOT NULL,
    description    TEXT NOT NULL DEFAULT '',
    definition     TEXT NOT NULL,
    resolved       TEXT NOT NULL,
    author_id      TEXT NOT NULL,
    message        TEXT NOT NULL DEFAULT '',
    created_at     TIMESTAMP NOT NULL,
    UNIQUE (workflow_id, version),
    FOREIGN KEY (org_id, workflow_id) REFERENCES workflows (org_id, id) ON DELETE CASCADE
);

CREATE TABLE agents (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    team_id     TEXT,
    name        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    type        TEXT NOT NULL,
    definition  TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, team_id) REFERENCES teams (org_id, id)
);
CREATE INDEX agents_org_idx ON agents (org_id, created_at);

CREATE TABLE executions (
    id                  TEXT PRIMARY KEY,
    org_id              TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    team_id             TEXT,
    workflow_id         TEXT NOT NULL,
    workflow_version    INTEGER NOT NULL,
    status              TEXT NOT NULL,
    trigger             TEXT NOT NULL,
    triggered_by        TEXT NOT NULL DEFAULT '',
    api_key_id          TEXT NOT NULL DEFAULT '',
    schedule_id         TEXT NOT NULL DEFAULT '',
    parent_execution_id TEXT NOT NULL DEFAULT '',
    input               TEXT NOT NULL DEFAULT 'null',
    output              TEXT,
    error               TEXT NOT NULL DEFAULT '',
    error_kind          TEXT NOT NULL DEFAULT '',
    tokens_in           INTEGER NOT NULL DEFAULT 0,
    tokens_out          INTEGER NOT NULL DEFAULT 0,
    tokens_cached       INTEGER NOT NULL DEFAULT 0,
    cost_usd            REAL NOT NULL DEFAULT 0,
    nodes_total         INTEGER NOT NULL DEFAULT 0,
    nodes_done          INTEGER NOT NULL DEFAULT 0,
    event_seq           INTEGER NOT NULL DEFAULT 0,
    created_at          TIMESTAMP NOT NULL,
    started_at          TIMESTAMP,
    completed_at        TIMESTAMP,
    duration_ms         INTEGER,
    deadline_at         TIMESTAMP,
    cancel_requested_at TIMESTAMP,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, workflow_id) REFERENCES workflows (org_id, id)
);
CREATE INDEX executions_org_created_idx ON executions (org_id, created_at DESC, id DESC);
CREATE INDEX executions_workflow_idx ON executions (org_id, workflow_id, created_at DESC);
CREATE INDEX executions_status_idx ON executions (org_id, status);

CREATE TABLE execution_steps (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    execution_id    TEXT NOT NULL,
    node_id         TEXT NOT NULL,
    node_type       TEXT NOT NULL,
    status          TEXT NOT NULL,
    pending_parents INTEGER NOT NULL DEFAULT 0,
    holding_parents INTEGER NOT NULL DEFAULT 0,
    owner_job       INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    input           TEXT,
    output          TEXT,
    error           TEXT NOT NULL DEFAULT '',
    error_kind      TEXT NOT NULL DEFAULT '',
    model           TEXT NOT NULL DEFAULT '',
    tokens_in       INTEGER NOT NULL DEFAULT 0,
    tokens_out      INTEGER NOT NULL DEFAULT 0,
    tokens_cached   INTEGER NOT NULL DEFAULT 0,
    cost_usd        REAL NOT NULL DEFAULT 0,
    tool_calls      TEXT,
    started_at      TIMESTAMP,
    finished_at     TIMESTAMP,
    duration_ms     INTEGER,
    UNIQUE (execution_id, node_id),
    FOREIGN KEY (org_id, execution_id) REFERENCES executions (org_id, id) ON DELETE CASCADE
);
CREATE INDEX execution_steps_usage_idx ON execution_steps (org_id, finished_at);

CREATE TABLE execution_events (
    org_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    execution_id TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    type         TEXT NOT NULL,
    node_id      TEXT NOT NULL DEFAULT '',
    data         TEXT,
    created_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (execution_id, seq),
    FOREIGN KEY (org_id, execution_id) REFERENCES executions (org_id, id) ON DELETE CASCADE
);

CREATE TABLE idempotency_keys (
    org_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    key          TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    execution_id TEXT NOT NULL,
    created_at   TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL,
    PRIMARY KEY (org_id, key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);

CREATE TABLE scheduled_executions (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    team_id           TEXT,
    workflow_id       TEXT NOT NULL,
    name              TEXT NOT NULL DEFAULT '',
    cron_expression   TEXT NOT NULL,
    timezone          TEXT NOT NULL,
    input             TEXT NOT NULL DEFAULT 'null',
    environment       TEXT NOT NULL DEFAULT '',
    is_active         BOOLEAN NOT NULL DEFAULT true,
    next_run_at       TIMESTAMP,
    last_run_at       TIMESTAMP,
    last_execution_id TEXT NOT NULL DEFAULT '',
    created_by        TEXT NOT NULL,
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, workflow_id) REFERENCES workflows (org_id, id) ON DELETE CASCADE
);
CREATE INDEX scheduled_executions_due_idx ON scheduled_executions (next_run_at) WHERE is_active;
CREATE INDEX scheduled_executions_org_idx ON scheduled_executions (org_id, created_at);

CREATE TABLE provider_credentials (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    provider   TEXT NOT NULL,
    base_url   TEXT NOT NULL DEFAULT '',
    api_key    TEXT NOT NULL DEFAULT '',
    key_hint   TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (org_id, provider)
);

-- The audit log has no foreign keys: deleting or anonymising anything never
-- touches it. org_id '' is the installation-level chain (failures that
-- belong to no organization).
CREATE TABLE audit_logs (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL,
    seq           INTEGER NOT NULL,
    user_id       TEXT NOT NULL DEFAULT '',
    api_key_id    TEXT NOT NULL DEFAULT '',
    action        TEXT NOT NULL,
    resource_type TEXT NOT NULL DEFAULT '',
    resource_id   TEXT NOT NULL DEFAULT '',
    details       TEXT NOT NULL DEFAULT '{}',
    ip_address    TEXT NOT NULL DEFAULT '',
    user_agent    TEXT NOT NULL DEFAULT '',
    request_id    TEXT NOT NULL DEFAULT '',
    success       BOOLEAN NOT NULL,
    error_message TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMP NOT NULL,
    prev_hash     TEXT NOT NULL,
    hash          TEXT NOT NULL,
    UNIQUE (org_id, seq)
);
CREATE INDEX audit_logs_timestamp_idx ON audit_logs (created_at);
CREATE INDEX audit_logs_action_idx ON audit_logs (action);
CREATE INDEX audit_logs_org_created_idx ON audit_logs (org_id, created_at DESC, seq DESC);

CREATE TABLE audit_chain_heads (
    org_id TEXT PRIMARY KEY,
    seq    INTEGER NOT NULL,
    hash   TEXT NOT NULL
);

-- A checkpoint records the last row removed by retention, so verification
-- can start after it.
CREATE TABLE audit_checkpoints (
    org_id    TEXT PRIMARY KEY,
    seq       INTEGER NOT NULL,
    hash      TEXT NOT NULL,
    pruned_at TIMESTAMP NOT NULL
);

-- SQLite has no roles or row-level security: the org filter every query
-- carries is the wall, and the file belongs to one process. Audit rows are
-- append-only: updates are refused; retention deletes old rows.
-- +goose StatementBegin
CREATE TRIGGER audit_logs_no_update BEFORE UPDATE ON audit_logs
BEGIN
    SELECT RAISE(ABORT, 'audit_logs rows are immutable');
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE IF EXISTS audit_checkpoints;
DROP TABLE IF EXISTS audit_chain_heads;
DROP TABLE IF EXISTS audit_logs;
DROP TABLE IF EXISTS provider_credentials;
DROP TABLE IF EXISTS scheduled_executions;
DROP TABLE IF EXISTS idempotency_keys;
DROP TABLE IF EXISTS execution_events;
DROP TABLE IF EXISTS execution_steps;
DROP TABLE IF EXISTS executions;
DROP TABLE IF EXISTS agents;
DROP TABLE IF EXISTS workflow_versions;
DROP TABLE IF EXISTS workflows;
DROP TABLE IF EXISTS mfa_recovery_codes;
DROP TABLE IF EXISTS one_time_tokens;
DROP TABLE IF EXISTS api_keys;
DROP TABLE IF EXISTS refresh_tokens;
DROP TABLE IF EXISTS sessions;
DROP TABLE IF EXISTS users;
DROP TABLE IF EXISTS teams;
DROP TABLE IF EXISTS organizations;
