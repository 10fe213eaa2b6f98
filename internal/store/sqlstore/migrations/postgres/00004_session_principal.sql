-- +goose Up
-- What authenticating an access token reads on every request (the user,
-- the session and the organization), in one statement and so in one round
-- trip instead of a transaction's four (begin, scope, query, commit). The
-- function sets the tenant scope for its own statement, so row-level
-- security applies exactly as in a scoped transaction, and puts back what
-- was set before (when called inside a transaction). It runs as its caller:
-- it grants nothing the application role could not do itself.
-- +goose StatementBegin
CREATE FUNCTION session_principal(p_org text, p_user text, p_session text)
RETURNS TABLE (
    u_id text, u_org_id text, u_team_id text, u_email text, u_username text, u_full_name text, u_role text,
    u_permissions jsonb, u_is_active boolean, u_email_verified_at timestamptz, u_mfa_enabled boolean,
    u_deleted_at timestamptz, u_has_password boolean,
    s_id text, s_user_id text, s_created_at timestamptz, s_last_used_at timestamptz, s_expires_at timestamptz,
    s_revoked_at timestamptz,
    o_id text, o_plan text, o_require_mfa boolean, o_is_active boolean)
LANGUAGE plpgsql SET search_path = public AS $$
DECLARE
    prev_org text := current_setting('app.org_id', true);
    prev_system text := current_setting('app.system', true);
BEGIN
    PERFORM set_config('app.org_id', p_org, true), set_config('app.system', '', true);
    RETURN QUERY
        SELECT u.id, u.org_id, u.team_id, u.email, u.username, u.full_name, u.role, u.permissions,
            u.is_active, u.email_verified_at, u.mfa_enabled, u.deleted_at, u.password_hash <> '',
            s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, s.revoked_at,
            o.id, o.plan, o.require_mfa, o.is_active
        FROM users u JOIN sessions s ON s.org_id = u.org_id AND s.user_id = u.id
        JOIN organizations o ON o.id = u.org_id
        WHERE u.org_id = p_org AND u.id = p_user AND s.id = p_session;
    PERFORM set_config('app.org_id', COALESCE(prev_org, ''), true), set_config('app.system', COALESCE(prev_system, ''), true);
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION IF EXISTS session_principal(text, text, text);
