import { useState, type FormEvent } from 'react';
import { Alert, Button, PasswordInput, Stack, TextInput } from '@mantine/core';
import { useLocation } from 'react-router';
import { postJSON } from '../../auth/session';
import { AuthLayout, BackToSignIn, FormError, tokenFromLocation } from './AuthLayout';

export function ForgotPassword() {
  const [email, setEmail] = useState('');
  const [sent, setSent] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await postJSON('/api/v1/auth/password/forgot', { email });
      setSent(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <AuthLayout title="Reset your password" footer={<BackToSignIn />}>
      {sent ? (
        <Alert color="green" role="status">
          If an account uses that address, a link to reset its password is on its way.
        </Alert>
      ) : (
        <form onSubmit={submit}>
          <Stack>
            <TextInput label="E-mail" type="email" value={email} onChange={(e) => setEmail(e.currentTarget.value)} required />
            <FormError error={error} />
            <Button type="submit" loading={busy}>
              Send the link
            </Button>
          </Stack>
        </form>
      )}
    </AuthLayout>
  );
}

export function ResetPassword() {
  const token = tokenFromLocation(useLocation());
  const [password, setPassword] = useState('');
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await postJSON('/api/v1/auth/password/reset', { token, password });
      setDone(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <AuthLayout title="Choose a new password" footer={<BackToSignIn />}>
      {!token ? (
        <Alert color="red">This link has no token. Open the link from the e-mail again.</Alert>
      ) : done ? (
        <Alert color="green" role="status">
          Your password is changed, and every other session is signed out. Sign in with the new password.
        </Alert>
      ) : (
        <form onSubmit={submit}>
          <Stack>
            <PasswordInput label="New password" value={password} onChange={(e) => setPassword(e.currentTarget.value)} autoComplete="new-password" required />
            <FormError error={error} />
            <Button type="submit" loading={busy}>
              Set the password
            </Button>
          </Stack>
        </form>
      )}
    </AuthLayout>
  );
}
