-- +goose Up
-- Counting a start under the organization's admission lock in one round
-- trip: the month's counter row (the lock, held until commit), the start's
-- minute, the counts the limits are checked against, and the
-- organization's audit-chain head, which the start's execution.started row
-- chains to (taken right after the counter, the order every other writer
-- that takes both uses; created when missing, as the audit append does),
-- so the append finds it locked. A single SQL statement cannot do it: its
-- snapshot is taken before it waits for the counter row, so it would miss
-- the running executions of the start that held the row before it. In a
-- PL/pgSQL function each statement takes a fresh snapshot (READ
-- COMMITTED), so the counts are read after the lock is held. It runs as
-- its caller, under row-level security.
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

-- +goose Down
DROP FUNCTION IF EXISTS count_execution_start(text, text, text, text, text);
