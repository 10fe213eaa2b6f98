import { useState, type FormEvent } from 'react';
import { Anchor, Button, PasswordInput, Stack, TextInput } from '@mantine/core';
import { Link, useNavigate } from 'react-router';
import { useQueryClient } from '@tanstack/react-query';
import type { components } from '../../api/schema';
import { postJSON, setSession, type TokenAnswer } from '../../auth/session';
import { AuthLayout, FormError } from './AuthLayout';

type RegisterBody = components['schemas']['RegisterRequestBody'];

export function Register() {
  const navigate = useNavigate();
  const qc = useQueryClient();
  const [form, setForm] = useState<RegisterBody>({ email: '', username: '', password: '', full_name: '', organization_name: '' });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const set = (k: keyof RegisterBody) => (e: React.ChangeEvent<HTMLInputElement>) => setForm({ ...form, [k]: e.currentTarget.value });

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await postJSON('/api/v1/auth/register', form);
      // Registration does not sign in: sign in with the same credentials.
      setSession(await postJSON<TokenAnswer>('/api/v1/auth/login', { username: form.email, password: form.password }, true));
      await qc.invalidateQueries({ queryKey: ['me'] });
      navigate('/workflows', { replace: true });
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <AuthLayout
      title="Create your account"
      footer={
        <>
          Have an account? <Anchor component={Link} to="/sign-in">Sign in</Anchor>
        </>
      }
    >
      <form onSubmit={submit}>
        <Stack>
          <TextInput label="E-mail" type="email" value={form.email} onChange={set('email')} autoComplete="email" required />
          <TextInput label="Username" value={form.username} onChange={set('username')} autoComplete="username" required />
          <TextInput label="Full name" value={form.full_name ?? ''} onChange={set('full_name')} autoComplete="name" />
          <TextInput label="Organization" value={form.organization_name ?? ''} onChange={set('organization_name')} autoComplete="organization" />
          <PasswordInput
            label="Password"
            description="At least 8 characters; common passwords are refused."
            value={form.password}
            onChange={set('password')}
            autoComplete="new-password"
            required
          />
          <FormError error={error} />
          <Button type="submit" loading={busy}>
            Create account
          </Button>
        </Stack>
      </form>
    </AuthLayout>
  );
}
