import { useState, type FormEvent } from 'react';
import { Alert, Button, PasswordInput, Stack, TextInput } from '@mantine/core';
import { useLocation } from 'react-router';
import { postJSON } from '../../auth/session';
import { AuthLayout, BackToSignIn, FormError, tokenFromLocation } from './AuthLayout';

export function AcceptInvitation() {
  const token = tokenFromLocation(useLocation());
  const [username, setUsername] = useState('');
  const [fullName, setFullName] = useState('');
  const [password, setPassword] = useState('');
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await postJSON('/api/v1/auth/invitations/accept', { token, username, full_name: fullName, password });
      setDone(true);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <AuthLayout title="Join your team" footer={<BackToSignIn />}>
      {!token ? (
        <Alert color="red">This link has no token. Open the link from the invitation e-mail again.</Alert>
      ) : done ? (
        <Alert color="green" role="status">
          Your account is ready. Sign in with your e-mail address and the password you chose.
        </Alert>
      ) : (
        <form onSubmit={submit}>
          <Stack>
            <TextInput label="Username" value={username} onChange={(e) => setUsername(e.currentTarget.value)} autoComplete="username" required />
            <TextInput label="Full name" value={fullName} onChange={(e) => setFullName(e.currentTarget.value)} autoComplete="name" />
            <PasswordInput label="Password" value={password} onChange={(e) => setPassword(e.currentTarget.value)} autoComplete="new-password" required />
            <FormError error={error} />
            <Button type="submit" loading={busy}>
              Accept the invitation
            </Button>
          </Stack>
        </form>
      )}
    </AuthLayout>
  );
}
