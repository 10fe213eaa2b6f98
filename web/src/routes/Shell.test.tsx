import { describe, expect, it } from 'vitest';
import { render, screen } from '@testing-library/react';
import { MantineProvider } from '@mantine/core';
import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { MemoryRouter } from 'react-router';
import { AuthContext, type AuthState } from '../auth/AuthProvider';
import { can, type Me } from '../auth/permissions';
import Shell, { Allowed } from './Shell';

function principal(role: string, permissions: string[]): AuthState {
  const me = {
    user: { email: `${role}@example.com` },
    organization: { name: 'Acme' },
    role,
    permissions,
  } as unknown as Me;
  return { status: 'signed-in', me, can: (p) => can(me, p), logout: async () => {} };
}

function renderAs(auth: AuthState, ui: React.ReactNode, path = '/') {
  return render(
    <MantineProvider>
      <QueryClientProvider client={new QueryClient()}>
        <MemoryRouter initialEntries={[path]}>
          <AuthContext.Provider value={auth}>{ui}</AuthContext.Provider>
        </MemoryRouter>
      </QueryClientProvider>
    </MantineProvider>,
  );
}

describe('permission gating', () => {
  it('shows only the navigation the principal may use', () => {
    renderAs(principal('custom', ['workflows.read']), <Shell />, '/nowhere');
    const nav = screen.getByRole('navigation', { name: 'Main' });
    expect(nav.textContent).toContain('Workflows');
    expect(nav.textContent).not.toContain('Executions');
  });

  it('says "not allowed" plainly instead of rendering a screen without the permission', () => {
    renderAs(principal('custom', []), <Allowed needs="executions.read"><p>secret screen</p></Allowed>);
    expect(screen.queryByText('secret screen')).toBeNull();
    expect(screen.getByRole('alert').textContent).toContain('executions.read');
  });

  it('renders the screen with the permission', () => {
    renderAs(principal('viewer', ['executions.read']), <Allowed needs="executions.read"><p>secret screen</p></Allowed>);
    expect(screen.getByText('secret screen')).toBeTruthy();
  });

  it('shows an unknown page as not found, not blank', () => {
    renderAs(principal('viewer', ['workflows.read']), <Shell />, '/nowhere');
    expect(screen.getByRole('alert').textContent).toContain('No page at /nowhere');
  });
});
