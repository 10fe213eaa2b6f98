import { Anchor, Paper, Stack, Text, Title } from '@mantine/core';
import type { ReactNode } from 'react';
import { Link } from 'react-router';
import { ErrorState } from '../../components/States';

export function AuthLayout({ title, children, footer }: { title: string; children: ReactNode; footer?: ReactNode }) {
  return (
    <main className="auth-page">
      <Paper className="auth-card" withBorder shadow="sm" p="lg" radius="md">
        <Stack gap="md">
          <Text fw={700} c="blue">
            Super Agent
          </Text>
          <Title order={1} size="h3">
            {title}
          </Title>
          {children}
          {footer && <Text size="sm">{footer}</Text>}
        </Stack>
      </Paper>
    </main>
  );
}

export function FormError({ error }: { error: unknown }) {
  if (!error) return null;
  return <ErrorState error={error} title="That did not work" />;
}

export function BackToSignIn() {
  return (
    <Anchor component={Link} to="/sign-in" size="sm">
      Back to sign in
    </Anchor>
  );
}

/** tokenFromLocation reads a mailed link's token: /path#token=… (kept out of server logs), or ?token=…. */
export function tokenFromLocation(loc: { hash: string; search: string }): string {
  const h = new URLSearchParams(loc.hash.replace(/^#/, ''));
  return h.get('token') ?? new URLSearchParams(loc.search).get('token') ?? '';
}
