import { useState } from 'react';
import { Anchor, Badge, Group, Select, Stack, Table, TextInput, Title } from '@mantine/core';
import { Link, useSearchParams } from 'react-router';
import { useExecutions, useWorkflows, type ExecutionListQuery } from '../../api/hooks';
import { Empty, ErrorState, Loading } from '../../components/States';
import { Pager, useCursorPages } from '../../components/Pager';
import { formatCost, formatDuration, formatTime } from '../../components/format';

type Status = NonNullable<ExecutionListQuery['status']>;
type Trigger = NonNullable<ExecutionListQuery['trigger']>;

export const statusColor: Record<string, string> = {
  pending: 'gray',
  running: 'blue',
  succeeded: 'green',
  failed: 'red',
  cancelled: 'orange',
};

/** toRFC3339 turns a datetime-local value (the browser's zone) into the API's RFC 3339. */
function toRFC3339(local: string): string | undefined {
  if (!local) return undefined;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? undefined : d.toISOString();
}

export function ExecutionsHistory() {
  const [params, setParams] = useSearchParams();
  const workflowId = params.get('workflow') ?? '';
  const [status, setStatus] = useState<Status | null>(null);
  const [trigger, setTrigger] = useState<Trigger | null>(null);
  const [since, setSince] = useState('');
  const [until, setUntil] = useState('');
  const pages = useCursorPages();
  const workflows = useWorkflows({ limit: 200 });
  const q: ExecutionListQuery = { limit: 25 };
  if (workflowId) q.workflow_id = workflowId;
  if (status) q.status = status;
  if (trigger) q.trigger = trigger;
  const s = toRFC3339(since);
  const u = toRFC3339(until);
  if (s) q.since = s;
  if (u) q.until = u;
  if (pages.cursor) q.cursor = pages.cursor;
  const list = useExecutions(q);
  const names = new Map((workflows.data?.workflows ?? []).map((w) => [w.id, w.name]));
  const reset = <T,>(set: (v: T) => void) => (v: T) => {
    set(v);
    pages.reset();
  };

  return (
    <Stack>
      <Title order={1} size="h2">
        Executions
      </Title>
      <Group gap="xs" align="flex-end">
        <Select
          label="Workflow"
          placeholder="All"
          clearable
          searchable
          data={(workflows.data?.workflows ?? []).map((w) => ({ value: w.id, label: w.name }))}
          value={workflowId || null}
          onChange={(v) => {
            const p = new URLSearchParams(params);
            if (v) p.set('workflow', v);
            else p.delete('workflow');
            setParams(p, { replace: true });
            pages.reset();
          }}
          w={200}
        />
        <Select label="Status" placeholder="Any" clearable data={['pending', 'running', 'succeeded', 'failed', 'cancelled']} value={status} onChange={(v) => reset(setStatus)(v as Status | null)} w={140} />
        <Select label="Trigger" placeholder="Any" clearable data={['manual', 'schedule', 'workflow']} value={trigger} onChange={(v) => reset(setTrigger)(v as Trigger | null)} w={140} />
        <TextInput label="From" type="datetime-local" value={since} onChange={(e) => reset(setSince)(e.currentTarget.value)} w={200} />
        <TextInput label="Until" type="datetime-local" value={until} onChange={(e) => reset(setUntil)(e.currentTarget.value)} w={200} />
      </Group>
      {list.isPending ? (
        <Loading />
      ) : list.isError ? (
        <ErrorState error={list.error} />
      ) : !list.data.executions?.length ? (
        <Empty>No executions match.</Empty>
      ) : (
        <>
          <div className="table-scroll">
            <Table striped highlightOnHover aria-label="Executions">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Execution</Table.Th>
                  <Table.Th>Workflow</Table.Th>
                  <Table.Th>Status</Table.Th>
                  <Table.Th>Trigger</Table.Th>
                  <Table.Th>Started</Table.Th>
                  <Table.Th>Duration</Table.Th>
                  <Table.Th>Tokens</Table.Th>
                  <Table.Th>Cost</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {list.data.executions.map((x) => (
                  <Table.Tr key={x.id}>
                    <Table.Td>
                      <Anchor component={Link} to={`/executions/${x.id}`} ff="monospace" size="sm">
                        {x.id}
                      </Anchor>
                    </Table.Td>
                    <Table.Td>
                      {names.get(x.workflow_id) ?? x.workflow_id} <span aria-label="version">v{x.workflow_version}</span>
                    </Table.Td>
                    <Table.Td>
                      <Badge color={statusColor[x.status] ?? 'gray'}>{x.status}</Badge>
                    </Table.Td>
                    <Table.Td>{x.trigger}</Table.Td>
                    <Table.Td>{formatTime(x.started_at ?? x.created_at)}</Table.Td>
                    <Table.Td>{formatDuration(x.totals.duration_ms)}</Table.Td>
                    <Table.Td>{x.totals.tokens_in + x.totals.tokens_out}</Table.Td>
                    <Table.Td>{formatCost(x.totals.cost_usd)}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </div>
          <Pager pages={pages} nextCursor={list.data.next_cursor} />
        </>
      )}
    </Stack>
  );
}
