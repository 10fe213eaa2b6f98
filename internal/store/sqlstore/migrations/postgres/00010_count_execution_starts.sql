-- +goose Up
-- Counting several starts of one organization at once: the concurrent
-- starts the engine writes in one transaction are counted in one call
-- (p_n of them), with the counts read after the admission lock is held,
-- as count_execution_start (00009) does for one, which it replaces.
-- +goose StatementBegin
CREATE FUNCTION count_execution_starts(p_org text, p_n integer, p_month text, p_minute text, p_hour_start text,
    p_genesis text, OUT month_started bigint, OUT hour_started bigint, OUT running bigint, OUT audit_seq bigint,
    OUT audit_hash text)
LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
    INSERT INTO execution_counters AS c (org_id, month, started) VALUES (p_org, p_month, p_n)
        ON CONFLICT (org_id) DO UPDATE SET
            started = CASE WHEN excluded.month > c.month THEN excluded.started ELSE c.started + excluded.started END,
            month = CASE WHEN excluded.month > c.month THEN excluded.month ELSE c.month END
        RETURNING c.started INTO month_started;
    INSERT INTO execution_start_minutes AS m (org_id, minute, started) VALUES (p_org, p_minute, p_n)
        ON CONFLICT (org_id, minute) DO UPDATE SET started = m.started + excluded.started;
    SELECT COALESCE(SUM(started), 0) INTO hour_started FROM execution_start_minutes
        WHERE org_id = p_org AND minute >= p_hour_start;
    SELECT count(*) INTO running FROM executions WHERE org_id = p_org AND status = 'running';
    INSERT INTO audit_chain_heads AS h (org_id, seq, hash) VALUES (p_org, 0, p_genesis)
        ON CONFLICT (org_id) DO UPDATE SET seq = h.seq
        RETURNING h.seq, h.hash INTO audit_seq, audit_hash;
END $$;
-- +goose StatementEnd
DROP FUNCTION count_execution_start(text, text, text, text, text);

-- +goose Down
-- +goose StatementBegin
CREATE FUNCTION count_execution_start(p_org text, p_month text, p_minute text, p_hour_start text, p_genesis text,
    OUT month_started bigint, OUT hour_started bigint, OUT running bigint, OUT audit_seq bigint, OUT audit_hash text)
LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
    INSERT INTO execution_counters AS c (org_id, month, started) VALUES (p_org, p_month, 1)
        ON CONFLICT (org_id) DO UPDATE SET
            started = CASE WHEN excluded.month > c.month THEN excluded.started ELSE c.started + excluded.started END,
            month = CASE WHEN excluded.month > c.month THEN excluded.month ELSE c.month END
        RETURNING c.started INTO month_started;
    INSERT INTO execution_start_minutes AS m (org_id, minute, started) VALUES (p_org, p_minute, 1)
        ON CONFLICT (org_id, minute) DO UPDATE SET started = m.started + excluded.started;
    SELECT COALESCE(SUM(started), 0) INTO hour_started FROM execution_start_minutes
        WHERE org_id = p_org AND minute >= p_hour_start;
    SELECT count(*) INTO running FROM executions WHERE org_id = p_org AND status = 'running';
    INSERT INTO audit_chain_heads AS h (org_id, seq, hash) VALUES (p_org, 0, p_genesis)
        ON CONFLICT (org_id) DO UPDATE SET seq = h.seq
        RETURNING h.seq, h.hash INTO audit_seq, audit_hash;
END $$;
-- +goose StatementEnd
DROP FUNCTION count_execution_starts(text, integer, text, text, text, text);
