import { useState } from 'react';
import { Badge, Button, Group, Select, Stack, Table, Text } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from '../api/client';
import type { components } from '../api/schema';
import { useWorkflowVersions, type Workflow } from '../api/hooks';
import { describeError } from '../api/problem';
import { useAuth } from '../auth/AuthProvider';
import { Empty, ErrorState, Loading } from '../components/States';
import { formatTime } from '../components/format';

const ENVS = ['dev', 'staging', 'prod'] as const;

/** VersionsPanel lists versions, diffs any two, rolls back and publishes to an environment. */
export function VersionsPanel({ workflow, dirty, onRolledBack }: { workflow: Workflow; dirty: boolean; onRolledBack: () => void }) {
  const { can } = useAuth();
  const qc = useQueryClient();
  const versions = useWorkflowVersions(workflow.id);
  const [from, setFrom] = useState<string | null>(null);
  const [to, setTo] = useState<string | null>(null);
  const diff = useQuery({
    queryKey: ['diff', workflow.id, from, to],
    queryFn: () => unwrap(api.GET('/api/v1/workflows/{id}/diff', { params: { path: { id: workflow.id }, query: { from: Number(from), to: Number(to) } } })),
    enabled: !!from && !!to && from !== to,
  });
  const pins = workflow.pins ?? {};
  const refresh = () => {
    void qc.invalidateQueries({ queryKey: ['workflow', workflow.id] });
    void qc.invalidateQueries({ queryKey: ['workflow-versions', workflow.id] });
  };
  const act = async (what: string, f: () => Promise<unknown>) => {
    try {
      await f();
      notifications.show({ color: 'green', message: what });
      refresh();
    } catch (err) {
      const d = describeError(err);
      notifications.show({ color: 'red', title: 'That did not work', message: `${d.message}${d.requestId ? ` (request ${d.requestId})` : ''}` });
    }
  };
  const rollback = (v: number) =>
    act(`Rolled back: version ${v} restored as a new version`, async () => {
      await unwrap(api.POST('/api/v1/workflows/{id}/rollback', { params: { path: { id: workflow.id } }, body: { version: v, message: `Rollback to v${v}` } }));
      onRolledBack();
    });
  const publish = (v: number, env: (typeof ENVS)[number]) =>
    act(`Version ${v} published to ${env}`, () => unwrap(api.POST('/api/v1/workflows/{id}/publish', { params: { path: { id: workflow.id } }, body: { version: v, environment: env } })));

  if (versions.isPending) return <Loading />;
  if (versions.isError) return <ErrorState error={versions.error} />;
  const list = versions.data.versions ?? [];
  if (!list.length) return <Empty>No versions yet.</Empty>;
  const options = list.map((v) => ({ value: String(v.version), label: `v${v.version}` }));

  return (
    <Stack gap="sm">
      <Group gap={6} aria-label="Pins">
        {ENVS.map((e) => (
          <Badge key={e} variant={pins[e] ? 'filled' : 'outline'} color={e === 'prod' ? 'red' : e === 'staging' ? 'orange' : 'blue'}>
            {e}: {pins[e] ? `v${pins[e]}` : '—'}
          </Badge>
        ))}
      </Group>
      <div className="table-scroll">
        <Table verticalSpacing={4} fz="sm" aria-label="Versions">
          <Table.Tbody>
            {list.map((v) => (
              <Table.Tr key={v.version}>
                <Table.Td>
                  <Text fw={600} size="sm">
                    v{v.version}
                  </Text>
                  <Text size="xs" c="dimmed">
                    {formatTime(v.created_at)}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Text size="sm">{v.message || '—'}</Text>
                </Table.Td>
                <Table.Td>
                  <Group gap={4} wrap="nowrap">
                    {can('workflows.update') && v.version !== workflow.version && (
                      <Button size="compact-xs" variant="default" disabled={dirty} title={dirty ? 'Save or discard your changes first' : undefined} onClick={() => void rollback(v.version)}>
                        Roll back
                      </Button>
                    )}
                    {can('workflows.publish') && (
                      <Select
                        size="xs"
                        w={100}
                        placeholder="Publish"
                        aria-label={`Publish v${v.version} to`}
                        data={[...ENVS]}
                        value={null}
                        onChange={(env) => env && void publish(v.version, env as (typeof ENVS)[number])}
                      />
                    )}
                  </Group>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      </div>
      <Text fw={600} size="sm">
        Compare two versions
      </Text>
      <Group grow>
        <Select label="From" size="xs" data={options} value={from} onChange={setFrom} />
        <Select label="To" size="xs" data={options} value={to} onChange={setTo} />
      </Group>
      {diff.isFetching && <Loading />}
      {diff.isError && <ErrorState error={diff.error} />}
      {diff.data && <DiffView d={diff.data} />}
    </Stack>
  );
}

type Diff = components['schemas']['WorkflowDiffOutBody'];

export function DiffView({ d }: { d: Diff }) {
  const lines: { cls: string; text: string }[] = [];
  if (d.name_changed) lines.push({ cls: '', text: 'name changed' });
  if (d.description_changed) lines.push({ cls: '', text: 'description changed' });
  for (const a of d.agents_added ?? []) lines.push({ cls: 'diff-add', text: `+ agent ${a}` });
  for (const a of d.agents_removed ?? []) lines.push({ cls: 'diff-del', text: `− agent ${a}` });
  for (const c of d.agents_changed ?? []) lines.push({ cls: '', text: `~ agent ${c.id}: ${(c.fields ?? []).join(', ')}` });
  for (const e of d.edges_added ?? []) lines.push({ cls: 'diff-add', text: `+ edge ${e.from} → ${e.to}${e.condition ? ` [${e.condition}]` : ''}` });
  for (const e of d.edges_removed ?? []) lines.push({ cls: 'diff-del', text: `− edge ${e.from} → ${e.to}${e.condition ? ` [${e.condition}]` : ''}` });
  if (d.input_schema_changed) lines.push({ cls: '', text: 'input schema changed' });
  if (d.output_template_changed) lines.push({ cls: '', text: 'output template changed' });
  return (
    <div data-testid="diff">
      <Text size="sm" fw={600}>
        v{d.from} → v{d.to}
      </Text>
      {lines.length ? (
        <pre className="json">
          {lines.map((l, i) => (
            <div key={i} className={l.cls}>
              {l.text}
            </div>
          ))}
        </pre>
      ) : (
        <Text size="sm" c="dimmed">
          No differences.
        </Text>
      )}
    </div>
  );
}
