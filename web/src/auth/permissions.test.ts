import { describe, expect, it } from 'vitest';
import { can, visibleNav } from './permissions';

describe('permission gating', () => {
  it('shows only the navigation a principal may use', () => {
    expect(visibleNav({ permissions: ['workflows.read'] }).map((n) => n.label)).toEqual(['Workflows']);
    expect(visibleNav({ permissions: ['workflows.read', 'executions.read'] }).map((n) => n.label)).toEqual(['Workflows', 'Executions']);
    expect(visibleNav({ permissions: [] })).toEqual([]);
    expect(visibleNav(null)).toEqual([]);
  });

  it('denies what is not granted', () => {
    const viewer = { permissions: ['workflows.read', 'executions.read'] };
    expect(can(viewer, 'workflows.read')).toBe(true);
    expect(can(viewer, 'workflows.execute')).toBe(false);
    expect(can(viewer, 'workflows.update')).toBe(false);
    expect(can(undefined, 'workflows.read')).toBe(false);
    expect(can({ permissions: null } as unknown as { permissions: string[] }, 'workflows.read')).toBe(false);
  });
});
