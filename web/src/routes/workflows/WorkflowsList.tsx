import { useRef, useState } from 'react';
import { Anchor, Badge, Button, Group, Select, Stack, Table, TextInput, Title } from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { Link, useNavigate } from 'react-router';
import { exportWorkflow, useImportWorkflow, useTeams, useWorkflows, type WorkflowListQuery } from '../../api/hooks';
import { describeError } from '../../api/problem';
import { useAuth } from '../../auth/AuthProvider';
import { Empty, ErrorState, Loading } from '../../components/States';
import { Pager, useCursorPages } from '../../components/Pager';
import { download, formatDuration, formatTime, successRate } from '../../components/format';

type Status = NonNullable<WorkflowListQuery['status']>;

export function WorkflowsList() {
  const { can } = useAuth();
  const [search, setSearch] = useState('');
  const [debounced] = useDebouncedValue(search, 250);
  const [status, setStatus] = useState<Status | null>(null);
  const [tag, setTag] = useState('');
  const [team, setTeam] = useState<string | null>(null);
  const pages = useCursorPages();
  const teams = useTeams(can('teams.read'));
  const q: WorkflowListQuery = { limit: 25 };
  if (debounced) q.search = debounced;
  if (status) q.status = status;
  if (tag) q.tag = tag;
  if (team !== null) q.team_id = team;
  if (pages.cursor) q.cursor = pages.cursor;
  const list = useWorkflows(q);
  const filter = <T,>(set: (v: T) => void) => (v: T) => {
    set(v);
    pages.reset();
  };

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={1} size="h2">
          Workflows
        </Title>
        <Group gap="xs">
          {can('workflows.create') && <ImportButton />}
          {can('workflows.create') && <CreateButton />}
        </Group>
      </Group>
      <Group gap="xs" align="flex-end">
        <TextInput label="Search" placeholder="Name contains…" value={search} onChange={(e) => filter(setSearch)(e.currentTarget.value)} />
        <Select
          label="Status"
          placeholder="Draft and active"
          clearable
          data={['draft', 'active', 'archived']}
          value={status}
          onChange={(v) => filter(setStatus)(v as Status | null)}
          w={160}
        />
        <TextInput label="Tag" value={tag} onChange={(e) => filter(setTag)(e.currentTarget.value.trim())} w={140} />
        {teams.data && (
          <Select
            label="Team"
            placeholder="Any"
            clearable
            data={[{ value: '', label: 'Organization-wide' }, ...(teams.data.teams ?? []).map((t) => ({ value: t.id, label: t.name }))]}
            value={team}
            onChange={filter(setTeam)}
            w={180}
          />
        )}
      </Group>
      {list.isPending ? (
        <Loading />
      ) : list.isError ? (
        <ErrorState error={list.error} />
      ) : !list.data.workflows?.length ? (
        <Empty>{debounced || status || tag || team !== null ? 'No workflow matches these filters.' : 'No workflows yet. Create one to start.'}</Empty>
      ) : (
        <>
          <div className="table-scroll">
            <Table striped highlightOnHover aria-label="Workflows">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Name</Table.Th>
                  <Table.Th>Status</Table.Th>
                  <Table.Th>Runs</Table.Th>
                  <Table.Th>Success</Table.Th>
                  <Table.Th>Avg duration</Table.Th>
                  <Table.Th>Last run</Table.Th>
                  <Table.Th>
                    <span className="sr-only">Actions</span>
                  </Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {list.data.workflows.map((w) => (
                  <Table.Tr key={w.id}>
                    <Table.Td>
                      <Anchor component={Link} to={`/workflows/${w.id}`}>
                        {w.name}
                      </Anchor>
                      <Group gap={4} mt={2}>
                        {(w.tags ?? []).map((t) => (
                          <Badge key={t} size="xs" variant="light">
                            {t}
                          </Badge>
                        ))}
                      </Group>
                    </Table.Td>
                    <Table.Td>
                      <Badge variant="outline" color={w.status === 'active' ? 'green' : w.status === 'archived' ? 'gray' : 'blue'}>
                        {w.status}
                      </Badge>
                    </Table.Td>
                    <Table.Td>{w.stats.total}</Table.Td>
                    <Table.Td>{successRate(w.stats)}</Table.Td>
                    <Table.Td>{w.stats.total ? formatDuration(w.stats.average_duration_ms) : '—'}</Table.Td>
                    <Table.Td>{formatTime(w.stats.last_run_at)}</Table.Td>
                    <Table.Td>
                      <Button variant="subtle" size="xs" onClick={() => void doExport(w.id, w.name)} aria-label={`Export ${w.name}`}>
                        Export
                      </Button>
                    </Table.Td>
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

async function doExport(id: string, name: string) {
  try {
    const doc = await exportWorkflow(id);
    download(`${name.replace(/[^\w.-]+/g, '_')}.workflow.json`, JSON.stringify(doc, null, 2));
  } catch (err) {
    notifications.show({ color: 'red', title: 'Export failed', message: describeError(err).message });
  }
}

function CreateButton() {
  // A workflow needs at least one node to be saved: it is created by the editor's first save.
  return (
    <Button component={Link} to="/workflows/new">
      New workflow
    </Button>
  );
}

function ImportButton() {
  const input = useRef<HTMLInputElement>(null);
  const imp = useImportWorkflow();
  const navigate = useNavigate();
  const onFile = async (f: File | undefined) => {
    if (!f) return;
    try {
      const doc = JSON.parse(await f.text()) as Parameters<typeof imp.mutateAsync>[0];
      const w = await imp.mutateAsync({ ...doc, message: `Imported from ${f.name}` });
      navigate(`/workflows/${w.id}`);
    } catch (err) {
      notifications.show({ color: 'red', title: 'Import failed', message: describeError(err).message, autoClose: false });
    } finally {
      if (input.current) input.current.value = '';
    }
  };
  return (
    <>
      <input
        ref={input}
        type="file"
        accept="application/json,.json"
        hidden
        aria-label="Workflow file to import"
        onChange={(e) => void onFile(e.currentTarget.files?.[0])}
      />
      <Button variant="default" loading={imp.isPending} onClick={() => input.current?.click()}>
        Import
      </Button>
    </>
  );
}
