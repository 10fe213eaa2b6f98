import { useEffect, useMemo, useState } from 'react';
import { Anchor, Badge, Button, Card, Group, Stack, Table, Text, Title } from '@mantine/core';
import { notifications } from '@mantine/notifications';
import { Link, useParams } from 'react-router';
import { useQueryClient } from '@tanstack/react-query';
import { useCancelExecution, useExecution, useWorkflowVersion, type Step } from '../api/hooks';
import { describeError } from '../api/problem';
import { useAuth } from '../auth/AuthProvider';
import { ErrorState, Loading } from '../components/States';
import { formatCost, formatDuration, formatTime } from '../components/format';
import { statusColor } from '../routes/executions/ExecutionsHistory';
import { RunGraph } from './RunGraph';
import { useRunStream } from './useRunStream';
import type { NodeRun, RunStatus } from './reducer';

export default function RunView() {
  const { id } = useParams();
  const { can } = useAuth();
  const qc = useQueryClient();
  const exe = useExecution(id);
  const version = useWorkflowVersion(exe.data?.workflow_id, exe.data?.workflow_version);
  const { state, dispatch, conn } = useRunStream(id);
  const [selected, setSelected] = useState<string | null>(null);
  const cancel = useCancelExecution();

  useEffect(() => {
    if (exe.data) dispatch({ kind: 'seed', steps: exe.data.steps ?? [], status: exe.data.status as RunStatus });
  }, [exe.data, dispatch]);

  // Node details (input, attempts, …) come from the execution: read it again as steps finish.
  const doneCount = Object.values(state.nodes).filter((n) => n.state === 'completed' || n.state === 'failed').length;
  useEffect(() => {
    if (id && (doneCount > 0 || state.final)) void qc.invalidateQueries({ queryKey: ['execution', id] });
  }, [id, doneCount, state.final, qc]);

  const steps = useMemo(() => new Map((exe.data?.steps ?? []).map((s) => [s.node_id, s])), [exe.data]);

  if (exe.isPending) return <Loading />;
  if (exe.isError) return <ErrorState error={exe.error} />;
  const x = exe.data;
  const status = state.applied ? state.status : (x.status as RunStatus);
  const final = state.final || ['succeeded', 'failed', 'cancelled'].includes(x.status);
  const agents = version.data?.agents ?? [];
  const tokensIn = state.final ? state.tokensIn : Math.max(state.tokensIn, x.totals.tokens_in);
  const tokensOut = state.final ? state.tokensOut : Math.max(state.tokensOut, x.totals.tokens_out);
  const cost = state.final ? state.costUsd : Math.max(state.costUsd, x.totals.cost_usd);
  const done = Object.values(state.nodes).filter((n) => ['completed', 'failed', 'skipped', 'cancelled'].includes(n.state)).length;

  return (
    <Stack>
      <Group justify="space-between" align="flex-start">
        <div>
          <Title order={1} size="h3">
            Execution <span style={{ fontFamily: "monospace", wordBreak: "break-all" }}>{x.id}</span>
          </Title>
          <Text size="sm" c="dimmed">
            <Anchor component={Link} to={`/workflows/${x.workflow_id}`}>
              {version.data?.name ?? x.workflow_id}
            </Anchor>{' '}
            v{x.workflow_version} · {x.trigger} · started {formatTime(x.started_at ?? x.created_at)}
          </Text>
        </div>
        <Group gap="xs">
          <Badge size="lg" color={statusColor[status] ?? 'gray'} data-testid="run-status">
            {status}
          </Badge>
          {!final && conn !== 'live' && (
            <Badge variant="outline" color="gray">
              {conn}
            </Badge>
          )}
          {!final && can('executions.cancel') && (
            <Button
              color="red"
              variant="light"
              loading={cancel.isPending}
              onClick={() =>
                cancel.mutate(x.id, {
                  onError: (err) => notifications.show({ color: 'red', title: 'Cancel failed', message: describeError(err).message }),
                })
              }
            >
              Cancel
            </Button>
          )}
        </Group>
      </Group>
      <div className="totals" aria-label="Totals">
        <Stat label="Nodes" value={`${done} / ${x.totals.nodes_total || agents.length}`} />
        <Stat label="Tokens in" value={String(tokensIn)} testid="tokens-in" />
        <Stat label="Tokens out" value={String(tokensOut)} testid="tokens-out" />
        <Stat label="Cost" value={formatCost(cost)} testid="cost" />
        <Stat label="Duration" value={formatDuration(x.totals.duration_ms)} />
      </div>
      {(state.error || x.error) && <ErrorState title="The execution failed" error={new Error(state.error || x.error)} />}
      <div className="run-layout">
        {version.isError ? (
          <ErrorState error={version.error} />
        ) : version.isPending ? (
          <Loading />
        ) : (
          <RunGraph agents={agents} edges={version.data.edges ?? []} runs={state.nodes} selected={selected} onSelect={setSelected} />
        )}
        <NodeDetail nodeId={selected} live={selected ? state.nodes[selected] : undefined} step={selected ? steps.get(selected) : undefined} />
      </div>
      {final && x.output !== undefined && (
        <Card withBorder>
          <Text fw={600} size="sm" mb={4}>
            Output
          </Text>
          <pre className="json">{JSON.stringify(x.output, null, 2)}</pre>
        </Card>
      )}
    </Stack>
  );
}

function Stat({ label, value, testid }: { label: string; value: string; testid?: string }) {
  return (
    <Card withBorder padding="xs">
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text fw={600} data-testid={testid}>
        {value}
      </Text>
    </Card>
  );
}

function NodeDetail({ nodeId, live, step }: { nodeId: string | null; live: NodeRun | undefined; step: Step | undefined }) {
  if (!nodeId) {
    return (
      <Card withBorder>
        <Text size="sm" c="dimmed">
          Select a node to see its input, output, attempts and cost.
        </Text>
      </Card>
    );
  }
  const rows: [string, string][] = [
    ['State', live?.state ?? step?.status ?? 'waiting'],
    ['Attempts', String(step?.attempts ?? live?.attempt ?? 0)],
    ['Model', step?.model || live?.model || '—'],
    ['Tokens in / out', `${step?.tokens_in ?? live?.tokensIn ?? 0} / ${step?.tokens_out ?? live?.tokensOut ?? 0}`],
    ['Cost', formatCost(step?.cost_usd ?? live?.costUsd)],
    ['Duration', formatDuration(step?.duration_ms ?? live?.durationMs)],
  ];
  const error = step?.error || live?.error;
  const output = step?.output ?? live?.output;
  return (
    <Card withBorder aria-label={`Node ${nodeId}`} data-testid="node-detail">
      <Stack gap="xs">
        <Text fw={700}>{nodeId}</Text>
        <Table withRowBorders={false} verticalSpacing={2}>
          <Table.Tbody>
            {rows.map(([k, v]) => (
              <Table.Tr key={k}>
                <Table.Td c="dimmed">{k}</Table.Td>
                <Table.Td>{v}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
        {error && (
          <Text c="red" size="sm" role="alert">
            {error}
          </Text>
        )}
        {live?.text && live.state === 'running' && (
          <>
            <Text size="sm" fw={600}>
              Streaming
            </Text>
            <pre className="json">{live.text}</pre>
          </>
        )}
        <Text size="sm" fw={600}>
          Input
        </Text>
        <pre className="json">{step?.input !== undefined ? JSON.stringify(step.input, null, 2) : '—'}</pre>
        <Text size="sm" fw={600}>
          Output
        </Text>
        <pre className="json">{output !== undefined ? JSON.stringify(output, null, 2) : '—'}</pre>
      </Stack>
    </Card>
  );
}
