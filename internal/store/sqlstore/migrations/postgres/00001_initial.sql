-- +goose Up
-- The seed's eight tables (organizations, teams, users, workflows,
-- executions, audit_logs, workflow_versions, scheduled_executions) and what
-- the features need beside them. Every tenant table carries org_id; foreign
-- keys between tenant tables include org_id, so a row can never point into
-- another organization. Timestamps are UTC, written by the application.

CREATE TABLE organizations (
    id                        text PRIMARY KEY,
    name                      text NOT NULL,
    slug                      text NOT NULL UNIQUE,
    plan                      text NOT NULL,
    max_workflows             integer NOT NULL,
    max_agents                integer NOT NULL,
    max_teams                 integer NOT NULL,
    max_executions_per_month  integer NOT NULL,
    max_concurrent_executions integer NOT NULL,
    max_agents_per_workflow   integer NOT NULL,
    settings                  jsonb NOT NULL DEFAULT '{}',
    require_mfa               boolean NOT NULL DEFAULT false,
    is_active                 boolean NOT NULL DEFAULT true,
    created_at                timestamptz NOT NULL,
    updated_at                timestamptz NOT NULL,
    deleted_at                timestamptz
);

CREATE TABLE teams (
    id          text PRIMARY KEY,
    org_id      text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    settings    jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    UNIQUE (org_id, id),
    UNIQUE (org_id, name)
);

CREATE TABLE users (
    id                  text PRIMARY KEY,
    org_id              text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    team_id             text,
    email               text NOT NULL UNIQUE,
    username            text NOT NULL UNIQUE,
    full_name           text NOT NULL DEFAULT '',
    password_hash       text NOT NULL DEFAULT '',
    role                text NOT NULL,
    permissions         jsonb NOT NULL DEFAULT '[]',
    is_active           boolean NOT NULL DEFAULT true,
    email_verified_at   timestamptz,
    mfa_enabled         boolean NOT NULL DEFAULT false,
    mfa_secret          text NOT NULL DEFAULT '',
    mfa_last_step       bigint NOT NULL DEFAULT 0,
    last_login          timestamptz,
    failed_logins       integer NOT NULL DEFAULT 0,
    failed_window_start timestamptz,
    locked_until        timestamptz,
    password_changed_at timestamptz,
    invited_by          text,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    deleted_at          timestamptz,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, team_id) REFERENCES teams (org_id, id)
);
CREATE INDEX users_org_idx ON users (org_id, created_at);

CREATE TABLE sessions (
    id             text PRIMARY KEY,
    org_id         text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id        text NOT NULL,
    created_at     timestamptz NOT NULL,
    last_used_at   timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    ip_address     text NOT NULL DEFAULT '',
    user_agent     text NOT NULL DEFAULT '',
    revoked_at     timestamptz,
    revoked_reason text NOT NULL DEFAULT '',
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE
);
CREATE INDEX sessions_user_idx ON sessions (org_id, user_id, created_at);

CREATE TABLE refresh_tokens (
    id          text PRIMARY KEY,
    org_id      text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    session_id  text NOT NULL,
    token_hash  text NOT NULL UNIQUE,
    parent_id   text,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    FOREIGN KEY (org_id, session_id) REFERENCES sessions (org_id, id) ON DELETE CASCADE
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

CREATE TABLE api_keys (
    id           text PRIMARY KEY,
    org_id       text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    created_by   text NOT NULL,
    name         text NOT NULL,
    prefix       text NOT NULL,
    secret_hash  text NOT NULL UNIQUE,
    role         text NOT NULL,
    permissions  jsonb NOT NULL DEFAULT '[]',
    expires_at   timestamptz,
    last_used_at timestamptz,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, created_by) REFERENCES users (org_id, id)
);
CREATE INDEX api_keys_org_idx ON api_keys (org_id, created_at);

CREATE TABLE one_time_tokens (
    id         text PRIMARY KEY,
    org_id     text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    text NOT NULL,
    purpose    text NOT NULL,
    token_hash text NOT NULL UNIQUE,
    data       jsonb NOT NULL DEFAULT '{}',
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL,
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE
);
CREATE INDEX one_time_tokens_user_idx ON one_time_tokens (org_id, user_id, purpose);

CREATE TABLE mfa_recovery_codes (
    id         text PRIMARY KEY,
    org_id     text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id    text NOT NULL,
    code_hash  text NOT NULL,
    used_at    timestamptz,
    created_at timestamptz NOT NULL,
    FOREIGN KEY (org_id, user_id) REFERENCES users (org_id, id) ON DELETE CASCADE
);
CREATE INDEX mfa_recovery_codes_user_idx ON mfa_recovery_codes (org_id, user_id);

CREATE TABLE workflows (
    id          text PRIMARY KEY,
    org_id      text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    team_id     text,
    created_by  text NOT NULL,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    definition  jsonb NOT NULL,
    tags        jsonb NOT NULL DEFAULT '[]',
    category    text NOT NULL DEFAULT '',
    status      text NOT NULL,
    version     integer NOT NULL,
    pin_dev     integer,
    pin_staging integer,
    pin_prod    integer,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    archived_at timestamptz,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, team_id) REFERENCES teams (org_id, id)
);
CREATE INDEX workflows_org_idx ON workflows (org_id, created_at);

CREATE TABLE workflow_versions (
    id             text PRIMARY KEY,
    org_id         text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    workflow_id    text NOT NULL,
    version        integer NOT NULL,
    parent_version integer NOT NULL DEFAULT 0,
    name           text NOT NULL,
    description    text NOT NULL DEFAULT '',
    definition     jsonb NOT NULL,
    resolved       jsonb NOT NULL,
    author_id      text NOT NULL,
    message        text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL,
    UNIQUE (workflow_id, version),
    FOREIGN KEY (org_id, workflow_id) REFERENCES workflows (org_id, id) ON DELETE CASCADE
);

CREATE TABLE agents (
    id          text PRIMARY KEY,
    org_id      text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    team_id     text,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    type        text NOT NULL,
    definition  jsonb NOT NULL,
    created_by  text NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, team_id) REFERENCES teams (org_id, id)
);
CREATE INDEX agents_org_idx ON agents (org_id, created_at);

CREATE TABLE executions (
    id                  text PRIMARY KEY,
    org_id              text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    team_id             text,
    workflow_id         text NOT NULL,
    workflow_version    integer NOT NULL,
    status              text NOT NULL,
    trigger             text NOT NULL,
    triggered_by        text NOT NULL DEFAULT '',
    api_key_id          text NOT NULL DEFAULT '',
    schedule_id         text NOT NULL DEFAULT '',
    parent_execution_id text NOT NULL DEFAULT '',
    input               jsonb NOT NULL DEFAULT 'null',
    output              jsonb,
    error               text NOT NULL DEFAULT '',
    error_kind          text NOT NULL DEFAULT '',
    tokens_in           bigint NOT NULL DEFAULT 0,
    tokens_out          bigint NOT NULL DEFAULT 0,
    tokens_cached       bigint NOT NULL DEFAULT 0,
    cost_usd            double precision NOT NULL DEFAULT 0,
    nodes_total         integer NOT NULL DEFAULT 0,
    nodes_done          integer NOT NULL DEFAULT 0,
    event_seq           bigint NOT NULL DEFAULT 0,
    created_at          timestamptz NOT NULL,
    started_at          timestamptz,
    completed_at        timestamptz,
    duration_ms         bigint,
    deadline_at         timestamptz,
    cancel_requested_at timestamptz,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, workflow_id) REFERENCES workflows (org_id, id)
);
CREATE INDEX executions_org_created_idx ON executions (org_id, created_at DESC, id DESC);
CREATE INDEX executions_workflow_idx ON executions (org_id, workflow_id, created_at DESC);
CREATE INDEX executions_status_idx ON executions (org_id, status);

CREATE TABLE execution_steps (
    id              text PRIMARY KEY,
    org_id          text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    execution_id    text NOT NULL,
    node_id         text NOT NULL,
    node_type       text NOT NULL,
    status          text NOT NULL,
    pending_parents integer NOT NULL DEFAULT 0,
    holding_parents integer NOT NULL DEFAULT 0,
    owner_job       bigint NOT NULL DEFAULT 0,
    attempts        integer NOT NULL DEFAULT 0,
    input           jsonb,
    output          jsonb,
    error           text NOT NULL DEFAULT '',
    error_kind      text NOT NULL DEFAULT '',
    model           text NOT NULL DEFAULT '',
    tokens_in       bigint NOT NULL DEFAULT 0,
    tokens_out      bigint NOT NULL DEFAULT 0,
    tokens_cached   bigint NOT NULL DEFAULT 0,
    cost_usd        double precision NOT NULL DEFAULT 0,
    tool_calls      jsonb,
    started_at      timestamptz,
    finished_at     timestamptz,
    duration_ms     bigint,
    UNIQUE (execution_id, node_id),
    FOREIGN KEY (org_id, execution_id) REFERENCES executions (org_id, id) ON DELETE CASCADE
);
CREATE INDEX execution_steps_usage_idx ON execution_steps (org_id, finished_at);

CREATE TABLE execution_events (
    org_id       text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    execution_id text NOT NULL,
    seq          bigint NOT NULL,
    type         text NOT NULL,
    node_id      text NOT NULL DEFAULT '',
    data         jsonb,
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (execution_id, seq),
    FOREIGN KEY (org_id, execution_id) REFERENCES executions (org_id, id) ON DELETE CASCADE
);

CREATE TABLE idempotency_keys (
    org_id       text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    key          text NOT NULL,
    request_hash text NOT NULL,
    execution_id text NOT NULL,
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (org_id, key)
);
CREATE INDEX idempotency_keys_expiry_idx ON idempotency_keys (expires_at);

CREATE TABLE scheduled_executions (
    id                text PRIMARY KEY,
    org_id            text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    team_id           text,
    workflow_id       text NOT NULL,
    name              text NOT NULL DEFAULT '',
    cron_expression   text NOT NULL,
    timezone          text NOT NULL,
    input             jsonb NOT NULL DEFAULT 'null',
    environment       text NOT NULL DEFAULT '',
    is_active         boolean NOT NULL DEFAULT true,
    next_run_at       timestamptz,
    last_run_at       timestamptz,
    last_execution_id text NOT NULL DEFAULT '',
    created_by        text NOT NULL,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    UNIQUE (org_id, id),
    FOREIGN KEY (org_id, workflow_id) REFERENCES workflows (org_id, id) ON DELETE CASCADE
);
CREATE INDEX scheduled_executions_due_idx ON scheduled_executions (next_run_at) WHERE is_active;
CREATE INDEX scheduled_executions_org_idx ON scheduled_executions (org_id, created_at);

CREATE TABLE provider_credentials (
    id         text PRIMARY KEY,
    org_id     text NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    provider   text NOT NULL,
    base_url   text NOT NULL DEFAULT '',
    api_key    text NOT NULL DEFAULT '',
    key_hint   text NOT NULL DEFAULT '',
    created_by text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (org_id, provider)
);

-- The audit log has no foreign keys: deleting or anonymising anything never
-- touches it. org_id '' is the installation-level chain (failures that
-- belong to no organization).
CREATE TABLE audit_logs (
    id            text PRIMARY KEY,
    org_id        text NOT NULL,
    seq           bigint NOT NULL,
    user_id       text NOT NULL DEFAULT '',
    api_key_id    text NOT NULL DEFAULT '',
    action        text NOT NULL,
    resource_type text NOT NULL DEFAULT '',
    resource_id   text NOT NULL DEFAULT '',
    details       text NOT NULL DEFAULT '{}',
    ip_address    text NOT NULL DEFAULT '',
    user_agent    text NOT NULL DEFAULT '',
    request_id    text NOT NULL DEFAULT '',
    success       boolean NOT NULL,
    error_message text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL,
    prev_hash     text NOT NULL,
    hash          text NOT NULL,
    UNIQUE (org_id, seq)
);
CREATE INDEX audit_logs_timestamp_idx ON audit_logs (created_at);
CREATE INDEX audit_logs_action_idx ON audit_logs (action);
CREATE INDEX audit_logs_org_created_idx ON audit_logs (org_id, created_at DESC, seq DESC);

CREATE TABLE audit_chain_heads (
    org_id text PRIMARY KEY,
    seq    bigint NOT NULL,
    hash   text NOT NULL
);

-- A checkpoint records the last row removed by retention, so verification
-- can start after it.
CREATE TABLE audit_checkpoints (
    org_id    text PRIMARY KEY,
    seq       bigint NOT NULL,
    hash      text NOT NULL,
    pruned_at timestamptz NOT NULL
);

-- Row-level security is the second wall behind the org filter every query
-- carries. Each transaction sets app.org_id (or app.system for the named
-- system scope) with set_config(..., true); an empty setting sees nothing.
-- FORCE makes the policies apply to the owning role as well.
-- +goose StatementBegin
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['teams', 'users', 'sessions', 'refresh_tokens', 'api_keys', 'one_time_tokens',
        'mfa_recovery_codes', 'workflows', 'workflow_versions', 'agents', 'executions', 'execution_steps',
        'execution_events', 'idempotency_keys', 'scheduled_executions', 'provider_credentials',
        'audit_logs', 'audit_chain_heads', 'audit_checkpoints']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format($p$CREATE POLICY tenant_isolation ON %I
            USING (org_id = NULLIF(current_setting('app.org_id', true), '') OR current_setting('app.system', true) = 'on')
            WITH CHECK (org_id = NULLIF(current_setting('app.org_id', true), '') OR current_setting('app.system', true) = 'on')$p$, t);
    END LOOP;
END
$$;
-- +goose StatementEnd
ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON organizations
    USING (id = NULLIF(current_setting('app.org_id', true), '') OR current_setting('app.system', true) = 'on')
    WITH CHECK (id = NULLIF(current_setting('app.org_id', true), '') OR current_setting('app.system', true) = 'on');

-- Retention of audit rows runs through this function, owned by the
-- migration role: the application role has no UPDATE or DELETE on
-- audit_logs. It records a checkpoint (the last removed row's seq and hash)
-- so verification still passes after pruning.
-- +goose StatementBegin
CREATE FUNCTION audit_prune(cutoff timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
DECLARE
    removed bigint := 0;
    n bigint;
    r record;
BEGIN
    PERFORM set_config('app.system', 'on', true);
    FOR r IN
        SELECT DISTINCT ON (org_id) org_id, seq, hash
        FROM audit_logs WHERE created_at < cutoff
        ORDER BY org_id, seq DESC
    LOOP
        INSERT INTO audit_checkpoints (org_id, seq, hash, pruned_at)
        VALUES (r.org_id, r.seq, r.hash, now())
        ON CONFLICT (org_id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash, pruned_at = EXCLUDED.pruned_at;
        DELETE FROM audit_logs WHERE org_id = r.org_id AND seq <= r.seq;
        GET DIAGNOSTICS n = ROW_COUNT;
        removed := removed + n;
    END LOOP;
    RETURN removed;
END
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION audit_prune(timestamptz) FROM PUBLIC;

-- +goose Down
DROP FUNCTION IF EXISTS audit_prune(timestamptz);
DROP TABLE IF EXISTS audit_checkpoints, audit_chain_heads, audit_logs, provider_credentials,
    scheduled_executions, idempotency_keys, execution_events, execution_steps, executions, agents,
    workflow_versions, workflows, mfa_recovery_codes, one_time_tokens, api_keys, refresh_tokens,
    sessions, users, teams, organizations CASCADE;
