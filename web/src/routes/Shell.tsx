import { lazy, Suspense } from 'react';
import { ActionIcon, Burger, Button, Group, NavLink, Text, Tooltip, useComputedColorScheme, useMantineColorScheme } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { Link, Navigate, Route, Routes, useLocation } from 'react-router';
import { useAuth } from '../auth/AuthProvider';
import { visibleNav, type Permission } from '../auth/permissions';
import { Loading, ErrorState } from '../components/States';
import { ApiError } from '../api/problem';
import { WorkflowsList } from './workflows/WorkflowsList';
import { ExecutionsHistory } from './executions/ExecutionsHistory';

const Editor = lazy(() => import('../editor/EditorPage'));
const RunView = lazy(() => import('../runs/RunView'));

function ColorSchemeToggle() {
  // keepTransitions: switching must not inject an inline <style> (CSP).
  const { setColorScheme } = useMantineColorScheme({ keepTransitions: true });
  const scheme = useComputedColorScheme('light');
  const next = scheme === 'dark' ? 'light' : 'dark';
  return (
    <Tooltip label={`Switch to ${next} mode`}>
      <ActionIcon variant="default" size="lg" aria-label={`Switch to ${next} mode`} onClick={() => setColorScheme(next)}>
        <span aria-hidden>{scheme === 'dark' ? '☀' : '☾'}</span>
      </ActionIcon>
    </Tooltip>
  );
}

/** Allowed renders a screen only for a principal with the permission, and says so plainly otherwise. */
export function Allowed({ needs, children }: { needs: Permission; children: React.ReactNode }) {
  const { can } = useAuth();
  if (!can(needs)) {
    return (
      <ErrorState
        title="Not allowed"
        error={new ApiError(403, { title: 'Forbidden', status: 403, detail: `Your role does not include ${needs}.` }, '')}
      />
    );
  }
  return <>{children}</>;
}

export default function Shell() {
  const { me, logout } = useAuth();
  const [opened, { toggle, close }] = useDisclosure();
  const loc = useLocation();
  const nav = visibleNav(me);
  // Mantine's AppShell writes its responsive rules as an inline <style>,
  // which the Content-Security-Policy refuses: the layout is app.css's.
  return (
    <div className="shell" data-nav-open={opened}>
      <header className="shell-header">
        <Group h="100%" px="md" justify="space-between" wrap="nowrap">
          <Group gap="sm" wrap="nowrap">
            <Burger opened={opened} onClick={toggle} className="mantine-hidden-from-sm" size="sm" aria-label="Menu" aria-expanded={opened} />
            <Text fw={700} c="blue" component={Link} to="/workflows">
              Super Agent
            </Text>
          </Group>
          <Group gap="xs" wrap="nowrap">
            <Text size="sm" c="dimmed" className="mantine-visible-from-sm" data-testid="whoami">
              {me?.user.email} · {me?.organization.name} · {me?.role}
            </Text>
            <ColorSchemeToggle />
            <Button variant="default" size="xs" onClick={() => void logout()}>
              Sign out
            </Button>
          </Group>
        </Group>
      </header>
      <nav className="shell-nav" aria-label="Main">
        {nav.map((n) => (
          <NavLink key={n.to} component={Link} to={n.to} label={n.label} active={loc.pathname.startsWith(n.to)} onClick={close} />
        ))}
      </nav>
      <main className="shell-main">
        <Suspense fallback={<Loading />}>
          <Routes>
            <Route index element={<Navigate to={nav[0]?.to ?? '/workflows'} replace />} />
            <Route path="/workflows" element={<Allowed needs="workflows.read"><WorkflowsList /></Allowed>} />
            <Route path="/workflows/:id" element={<Allowed needs="workflows.read"><Editor /></Allowed>} />
            <Route path="/executions" element={<Allowed needs="executions.read"><ExecutionsHistory /></Allowed>} />
            <Route path="/executions/:id" element={<Allowed needs="executions.read"><RunView /></Allowed>} />
            <Route
              path="*"
              element={<ErrorState error={new ApiError(404, { title: 'Not Found', status: 404, detail: `No page at ${loc.pathname}.` }, '')} />}
            />
          </Routes>
        </Suspense>
      </main>
    </div>
  );
}
