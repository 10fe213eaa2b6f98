import { Alert, Center, Loader, Stack, Text } from '@mantine/core';
import { describeError } from '../api/problem';
import type { ReactNode } from 'react';

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <Center py="xl" role="status" aria-live="polite">
      <Stack align="center" gap="xs">
        <Loader size="sm" aria-hidden />
        <Text size="sm" c="dimmed">
          {label}
        </Text>
      </Stack>
    </Center>
  );
}

/** ErrorState shows a failed request plainly: the problem's detail, status and request id. */
export function ErrorState({ error, title }: { error: unknown; title?: string }) {
  const e = describeError(error);
  const heading =
    title ?? (e.status === 404 ? 'Not found' : e.status === 403 ? 'Not allowed' : 'Something went wrong');
  return (
    <Alert color="red" title={heading} role="alert" data-testid="error-state">
      <Text size="sm">{e.message}</Text>
      {e.requestId && (
        <Text size="xs" c="dimmed" mt={4}>
          Request id: <code>{e.requestId}</code>
        </Text>
      )}
    </Alert>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return (
    <Center py="xl">
      <Text c="dimmed" size="sm">
        {children}
      </Text>
    </Center>
  );
}
