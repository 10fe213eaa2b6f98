import type { components } from '../api/schema';

export type Me = components['schemas']['MeResponseBody'];

/** Permission names from the API's catalogue (GET /api/v1/permissions). */
export type Permission =
  | 'workflows.read'
  | 'workflows.create'
  | 'workflows.update'
  | 'workflows.delete'
  | 'workflows.execute'
  | 'workflows.publish'
  | 'agents.read'
  | 'executions.read'
  | 'executions.cancel'
  | 'schedules.read'
  | 'providers.read'
  | 'usage.read'
  | 'audit.read'
  | 'users.read'
  | 'teams.read'
  | 'org.read'
  | 'secrets.manage';

/** can reports whether the signed-in principal holds a permission. The API enforces it again. */
export function can(me: Pick<Me, 'permissions'> | null | undefined, p: Permission): boolean {
  return !!me?.permissions?.includes(p);
}

export interface NavItem {
  to: string;
  label: string;
  needs: Permission;
}

export const NAV: NavItem[] = [
  { to: '/workflows', label: 'Workflows', needs: 'workflows.read' },
  { to: '/executions', label: 'Executions', needs: 'executions.read' },
];

/** visibleNav is the navigation a principal may use. */
export function visibleNav(me: Pick<Me, 'permissions'> | null | undefined): NavItem[] {
  return NAV.filter((n) => can(me, n.needs));
}
