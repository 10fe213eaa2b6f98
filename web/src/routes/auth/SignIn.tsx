import { useState, type FormEvent } from 'react';
import { Anchor, Button, Group, PasswordInput, Stack, TextInput } from '@mantine/core';
import { Link, Navigate, useNavigate, useSearchParams } from 'react-router';
import { useQueryClient } from '@tanstack/react-query';
import { ApiError } from '../../api/problem';
import { postJSON, setSession, type TokenAnswer } from '../../auth/session';
import { useAuth } from '../../auth/AuthProvider';
import { AuthLayout, FormError } from './AuthLayout';

/** safeNext keeps a post-sign-in redirect inside the app. */
function safeNext(v: string | null): string {
  return v && v.startsWith('/') && !v.startsWith('//') ? v : '/workflows';
}

export function SignIn() {
  const { status } = useAuth();
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const qc = useQueryClient();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [mfaToken, setMfaToken] = useState<string | null>(null);
  const [code, setCode] = useState('');
  const [useRecovery, setUseRecovery] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const next = safeNext(params.get('next'));

  if (status === 'signed-in') return <Navigate to={next} replace />;

  const done = async (t: TokenAnswer) => {
    setSession(t);
    await qc.invalidateQueries({ queryKey: ['me'] });
    navigate(next, { replace: true });
  };

  const signIn = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await done(await postJSON<TokenAnswer>('/api/v1/auth/login', { username, password }, true));
    } catch (err) {
      if (err instanceof ApiError && err.problem.code === 'mfa_required' && typeof err.body.mfa_token === 'string') {
        setMfaToken(err.body.mfa_token);
      } else {
        setError(err);
      }
    } finally {
      setBusy(false);
    }
  };

  const verify = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await done(await postJSON<TokenAnswer>('/api/v1/auth/mfa/verify', { mfa_token: mfaToken, code: code.trim() }, true));
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  if (mfaToken) {
    return (
      <AuthLayout title="Two-step verification">
        <form onSubmit={verify}>
          <Stack>
            <TextInput
              label={useRecovery ? 'Recovery code' : 'Code from your authenticator app'}
              value={code}
              onChange={(e) => setCode(e.currentTarget.value)}
              autoComplete="one-time-code"
              inputMode={useRecovery ? 'text' : 'numeric'}
              required
              autoFocus
            />
            <FormError error={error} />
            <Button type="submit" loading={busy}>
              Verify
            </Button>
            <Group justify="space-between">
              <Anchor component="button" type="button" size="sm" onClick={() => setUseRecovery(!useRecovery)}>
                {useRecovery ? 'Use an authenticator code' : 'Use a recovery code'}
              </Anchor>
              <Anchor component="button" type="button" size="sm" onClick={() => { setMfaToken(null); setCode(''); }}>
                Start over
              </Anchor>
            </Group>
          </Stack>
        </form>
      </AuthLayout>
    );
  }

  return (
    <AuthLayout
      title="Sign in"
      footer={
        <>
          No account? <Anchor component={Link} to="/register">Create one</Anchor>
        </>
      }
    >
      <form onSubmit={signIn}>
        <Stack>
          <TextInput
            label="E-mail or username"
            value={username}
            onChange={(e) => setUsername(e.currentTarget.value)}
            autoComplete="username"
            required
            autoFocus
          />
          <PasswordInput
            label="Password"
            value={password}
            onChange={(e) => setPassword(e.currentTarget.value)}
            autoComplete="current-password"
            required
          />
          <FormError error={error} />
          <Button type="submit" loading={busy}>
            Sign in
          </Button>
          <Anchor component={Link} to="/forgot-password" size="sm">
            Forgot your password?
          </Anchor>
        </Stack>
      </form>
    </AuthLayout>
  );
}
