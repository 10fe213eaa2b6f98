import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from 'react';
import { Alert, Badge, Button, Group, Modal, Stack, Tabs, TagsInput, Text, TextInput, Textarea, Title, Tooltip } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { notifications } from '@mantine/notifications';
import { ReactFlowProvider, useReactFlow } from '@xyflow/react';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useNavigate, useParams } from 'react-router';
import { api, unwrap } from '../api/client';
import { useWorkflow, type AgentNode, type Edge, type Workflow } from '../api/hooks';
import { ApiError } from '../api/problem';
import { useAuth } from '../auth/AuthProvider';
import { ErrorState, Loading } from '../components/States';
import { Canvas, PALETTE_MIME } from './Canvas';
import { CodeField } from './CodeField';
import { historyReducer, type History } from './history';
import { InputSchemaEditor } from './InputSchemaEditor';
import {
  addNode,
  autoLayout,
  connect,
  draftFrom,
  emptyDraft,
  inputFields,
  mapProblems,
  NODE_TYPES,
  pasteNodes,
  removeNodes,
  renameNode,
  toWorkflowIn,
  updateNode,
  upstreamOf,
  withoutFieldProblems,
  type Draft,
  type MappedProblems,
  type NodeType,
} from './model';
import { EdgeForm, fieldErrors, NodeForm } from './NodeForm';
import { RunDialog } from './RunDialog';
import { DiffView, VersionsPanel } from './VersionsPanel';
import type { Pos } from './layout';
import { useModels } from './models';

export default function EditorPage() {
  const { id } = useParams();
  const isNew = id === 'new';
  const wf = useWorkflow(isNew ? undefined : id);
  if (!isNew && wf.isPending) return <Loading label="Opening the workflow…" />;
  if (!isNew && wf.isError) return <ErrorState error={wf.error} />;
  return (
    <ReactFlowProvider>
      <Editor key={id} workflow={isNew ? null : (wf.data ?? null)} />
    </ReactFlowProvider>
  );
}

interface Clip {
  nodes: AgentNode[];
  edges: Edge[];
  positions: Record<string, Pos>;
}
let clipboard: Clip | null = null;

function isTyping(t: EventTarget | null): boolean {
  const el = t as HTMLElement | null;
  return !!el && (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable);
}

function Editor({ workflow }: { workflow: Workflow | null }) {
  const { can } = useAuth();
  const navigate = useNavigate();
  const qc = useQueryClient();
  const rf = useReactFlow();
  const readOnly = workflow ? !can('workflows.update') : !can('workflows.create');
  const [base, setBase] = useState<Workflow | null>(workflow);
  const initial = useMemo(() => (workflow ? draftFrom(workflow) : emptyDraft()), [workflow]);
  const [hist, dispatch] = useReducer(historyReducer<Draft>, { past: [], present: initial, future: [] } as History<Draft>);
  const [saved, setSaved] = useState<Draft>(initial);
  const draft = hist.present;
  const dirty = draft !== saved;
  const [selNodes, setSelNodes] = useState<Set<string>>(new Set());
  const [selEdge, setSelEdge] = useState<number | null>(null);
  const [tab, setTab] = useState<string | null>('node');
  const [problems, setProblems] = useState<MappedProblems | null>(null);
  const [message, setMessage] = useState('');
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [conflict, setConflict] = useState<Workflow | null>(null);
  const [runOpen, run] = useDisclosure();
  const models = useModels();
  const agents = useQuery({
    queryKey: ['agents'],
    queryFn: () => unwrap(api.GET('/api/v1/agents', { params: { query: { limit: 200 } } })),
    enabled: can('agents.read') && !readOnly,
  });

  const set = useCallback((next: Draft, key?: string) => dispatch({ kind: 'set', next, key }), []);

  const selectedNode = selNodes.size === 1 ? draft.agents.find((a) => selNodes.has(a.id ?? '')) : undefined;
  const selectedEdge = selEdge !== null ? draft.edges[selEdge] : undefined;
  const problemNodes = useMemo(() => new Set(problems?.nodes.keys() ?? []), [problems]);
  const problemEdges = useMemo(() => new Set(problems?.edges.keys() ?? []), [problems]);
  const inputs = inputFields(draft.inputSchema);

  const add = (type: NodeType, at?: Pos, agentId?: string) => {
    const r = addNode(draft, type, at, agentId);
    set(r.draft);
    setSelNodes(new Set([r.id]));
    setSelEdge(null);
    setTab('node');
  };

  const copy = () => {
    const nodes = draft.agents.filter((a) => selNodes.has(a.id ?? ''));
    if (!nodes.length) return;
    clipboard = { nodes, edges: draft.edges.filter((e) => selNodes.has(e.from ?? '') && selNodes.has(e.to ?? '')), positions: draft.positions };
    notifications.show({ message: `Copied ${nodes.length} node${nodes.length > 1 ? 's' : ''}` });
  };
  const paste = () => {
    if (!clipboard || readOnly) return;
    const r = pasteNodes(draft, clipboard.nodes, clipboard.edges, clipboard.positions);
    set(r.draft);
    setSelNodes(new Set(r.ids));
  };

  const keys = useRef({ copy, paste, undo: () => dispatch({ kind: 'undo' }), redo: () => dispatch({ kind: 'redo' }) });
  keys.current = { copy, paste, undo: () => dispatch({ kind: 'undo' }), redo: () => dispatch({ kind: 'redo' }) };
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!(e.ctrlKey || e.metaKey) || isTyping(e.target)) return;
      const k = e.key.toLowerCase();
      if (k === 'z' && !e.shiftKey && !readOnly) keys.current.undo();
      else if (((k === 'z' && e.shiftKey) || k === 'y') && !readOnly) keys.current.redo();
      else if (k === 'c') keys.current.copy();
      else if (k === 'v') keys.current.paste();
      else return;
      e.preventDefault();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [readOnly]);

  useEffect(() => {
    if (!dirty) return;
    const warn = (e: BeforeUnloadEvent) => e.preventDefault();
    window.addEventListener('beforeunload', warn);
    return () => window.removeEventListener('beforeunload', warn);
  }, [dirty]);

  const save = async () => {
    setSaving(true);
    setSaveError(null);
    const sent = draft;
    const body = toWorkflowIn(sent, message || (base ? 'Edited in the editor' : 'Created in the editor'));
    try {
      if (!base) {
        const w = await unwrap(api.POST('/api/v1/workflows', { body }));
        qc.setQueryData(['workflow', w.id], w);
        void qc.invalidateQueries({ queryKey: ['workflows'] });
        navigate(`/workflows/${w.id}`, { replace: true });
        return;
      }
      const w = await unwrap(api.PUT('/api/v1/workflows/{id}', { params: { path: { id: base.id } }, body: { ...body, version: base.version } }));
      setBase(w);
      setSaved(sent);
      setProblems(null);
      setMessage('');
      qc.setQueryData(['workflow', w.id], w);
      void qc.invalidateQueries({ queryKey: ['workflow-versions', w.id] });
      void qc.invalidateQueries({ queryKey: ['workflows'] });
      notifications.show({ color: 'green', message: `Saved as version ${w.version}` });
    } catch (err) {
      if (err instanceof ApiError && err.status === 422 && err.fields.length) {
        const m = mapProblems(err.fields, sent);
        setProblems(m);
        const first = m.nodes.keys().next().value;
        if (first) {
          setSelNodes(new Set([first]));
          setSelEdge(null);
          setTab('node');
        } else if (m.edges.size) {
          setSelEdge(m.edges.keys().next().value ?? null);
          setSelNodes(new Set());
          setTab('node');
        } else {
          setTab('workflow');
        }
        setSaveError(err);
      } else if (err instanceof ApiError && err.status === 409 && base) {
        try {
          setConflict(await unwrap(api.GET('/api/v1/workflows/{id}', { params: { path: { id: base.id } } })));
        } catch (e2) {
          setSaveError(e2);
        }
      } else {
        setSaveError(err);
      }
    } finally {
      setSaving(false);
    }
  };

  const reloadFrom = (w: Workflow) => {
    const d = draftFrom(w);
    setBase(w);
    setSaved(d);
    dispatch({ kind: 'reset', present: d });
    setProblems(null);
    setConflict(null);
    setSaveError(null);
    qc.setQueryData(['workflow', w.id], w);
  };

  const scopeFor = (nodeId: string) => ({ inputs, nodes: upstreamOf(draft, nodeId) });
  const otherIds = draft.agents.map((a) => a.id ?? '').filter((x) => x !== selectedNode?.id);

  return (
    <Stack gap="xs">
      <div className="editor-narrow">
        <Alert color="blue">The editor needs a wider window; the graph below can still be read.</Alert>
      </div>
      <Group justify="space-between" wrap="wrap" gap="xs">
        <Group gap="xs">
          <Title order={1} size="h3">
            {draft.name}
          </Title>
          {base && <Badge variant="outline">v{base.version}</Badge>}
          {readOnly && <Badge color="gray">read-only</Badge>}
          {dirty && <Badge color="yellow">unsaved</Badge>}
        </Group>
        <Group gap="xs" wrap="wrap">
          {!readOnly && (
            <>
              <Tooltip label="Undo (Ctrl+Z)">
                <Button variant="default" size="xs" disabled={!hist.past.length} onClick={() => dispatch({ kind: 'undo' })}>
                  Undo
                </Button>
              </Tooltip>
              <Tooltip label="Redo (Ctrl+Shift+Z)">
                <Button variant="default" size="xs" disabled={!hist.future.length} onClick={() => dispatch({ kind: 'redo' })}>
                  Redo
                </Button>
              </Tooltip>
              <Button variant="default" size="xs" disabled={!selNodes.size} onClick={copy}>
                Copy
              </Button>
              <Button variant="default" size="xs" disabled={!clipboard} onClick={paste}>
                Paste
              </Button>
              <Button
                variant="default"
                size="xs"
                onClick={() => {
                  set(autoLayout(draft));
                  requestAnimationFrame(() => void rf.fitView({ maxZoom: 1 }));
                }}
              >
                Auto layout
              </Button>
            </>
          )}
          <Button variant="default" size="xs" onClick={() => void rf.fitView({ maxZoom: 1 })}>
            Zoom to fit
          </Button>
          {!readOnly && (
            <>
              <TextInput size="xs" placeholder="What changed?" aria-label="Version message" value={message} onChange={(e) => setMessage(e.currentTarget.value)} w={180} />
              <Button size="xs" loading={saving} disabled={!dirty && !!base} onClick={() => void save()}>
                Save
              </Button>
            </>
          )}
          {base && can('workflows.execute') && (
            <Button size="xs" color="green" onClick={run.open}>
              Run
            </Button>
          )}
        </Group>
      </Group>
      {saveError ? <ErrorState error={saveError} title={problems ? 'The workflow has problems' : 'Not saved'} /> : null}
      {problems?.other.length ? (
        <Alert color="red" title="Workflow problems">
          {problems.other.map((p, i) => (
            <Text key={i} size="sm">
              {p.where}: {p.message}
            </Text>
          ))}
        </Alert>
      ) : null}
      <div className="editor-layout">
        <Stack gap={6} aria-label="Palette">
          <Text size="xs" fw={700} c="dimmed">
            ADD A NODE
          </Text>
          {NODE_TYPES.map((t) => (
            <Button
              key={t.type}
              variant="light"
              size="xs"
              justify="flex-start"
              disabled={readOnly}
              draggable={!readOnly}
              onDragStart={(e) => e.dataTransfer.setData(PALETTE_MIME, JSON.stringify({ type: t.type }))}
              onClick={() => add(t.type)}
              title={t.hint}
            >
              + {t.label}
            </Button>
          ))}
          {!readOnly && (agents.data?.agents ?? []).length > 0 && (
            <>
              <Text size="xs" fw={700} c="dimmed" mt="sm">
                LIBRARY AGENTS
              </Text>
              {(agents.data?.agents ?? []).map((a) => (
                <Button
                  key={a.id}
                  variant="default"
                  size="xs"
                  justify="flex-start"
                  draggable
                  onDragStart={(e) => e.dataTransfer.setData(PALETTE_MIME, JSON.stringify({ type: a.type, agentId: a.id }))}
                  onClick={() => add(a.type as NodeType, undefined, a.id)}
                  title={a.description}
                >
                  {a.name}
                </Button>
              ))}
            </>
          )}
        </Stack>
        <Canvas
          draft={draft}
          selectedNodes={selNodes}
          selectedEdge={selEdge}
          problemNodes={problemNodes}
          problemEdges={problemEdges}
          readOnly={readOnly}
          onMove={(moved, done) => {
            if (readOnly) return;
            if (!Object.keys(moved).length) return;
            set({ ...draft, positions: { ...draft.positions, ...moved } }, done ? undefined : 'drag');
          }}
          onSelect={(ns, e) => {
            setSelNodes(new Set(ns));
            setSelEdge(e);
            if (ns.length || e !== null) setTab('node');
          }}
          onConnect={(from, to) => set(connect(draft, from, to))}
          onRemoveNodes={(ids) => {
            set(removeNodes(draft, ids));
            setSelNodes(new Set());
          }}
          onRemoveEdges={(is) => {
            const gone = new Set(is);
            set({ ...draft, edges: draft.edges.filter((_, i) => !gone.has(i)) });
            setSelEdge(null);
          }}
          onDropNode={add}
        />
        <div className="editor-side">
          <Tabs value={tab} onChange={setTab} keepMounted={false}>
            <Tabs.List>
              <Tabs.Tab value="node">Selection</Tabs.Tab>
              <Tabs.Tab value="workflow">Workflow</Tabs.Tab>
              {base && <Tabs.Tab value="versions">Versions</Tabs.Tab>}
            </Tabs.List>
            <Tabs.Panel value="node" pt="xs">
              {selectedNode ? (
                <NodeForm
                  key={selectedNode.id}
                  node={selectedNode}
                  readOnly={readOnly}
                  models={models}
                  otherIds={otherIds}
                  scope={scopeFor(selectedNode.id ?? '')}
                  errors={fieldErrors(problems?.nodes.get(selectedNode.id ?? ''))}
                  onChange={(patch, key) => {
                    set(updateNode(draft, selectedNode.id ?? '', patch), `${selectedNode.id}:${key}`);
                    setProblems((p) => p && withoutFieldProblems(p, selectedNode.id ?? '', key));
                  }}
                  onRename={(to) => {
                    set(renameNode(draft, selectedNode.id ?? '', to));
                    setSelNodes(new Set([to]));
                  }}
                  onDelete={() => {
                    set(removeNodes(draft, [selectedNode.id ?? '']));
                    setSelNodes(new Set());
                  }}
                />
              ) : selectedEdge && selEdge !== null ? (
                <EdgeForm
                  key={selEdge}
                  edge={selectedEdge}
                  readOnly={readOnly}
                  scope={scopeFor(selectedEdge.to ?? '')}
                  error={problems?.edges.get(selEdge)?.join('; ')}
                  onChange={(e) => set({ ...draft, edges: draft.edges.map((x, i) => (i === selEdge ? e : x)) }, `edge${selEdge}`)}
                  onDelete={() => {
                    set({ ...draft, edges: draft.edges.filter((_, i) => i !== selEdge) });
                    setSelEdge(null);
                  }}
                />
              ) : (
                <Text size="sm" c="dimmed">
                  {draft.agents.length
                    ? 'Select a node or an edge to edit it. Drag from a node’s right handle to another node’s left handle to join them.'
                    : readOnly
                      ? 'This workflow has no nodes.'
                      : 'Add a node from the palette to start.'}
                </Text>
              )}
            </Tabs.Panel>
            <Tabs.Panel value="workflow" pt="xs">
              <WorkflowFields draft={draft} set={set} readOnly={readOnly} problems={problems} />
            </Tabs.Panel>
            {base && (
              <Tabs.Panel value="versions" pt="xs">
                <VersionsPanel
                  workflow={base}
                  dirty={dirty}
                  onRolledBack={async () => {
                    const w = await unwrap(api.GET('/api/v1/workflows/{id}', { params: { path: { id: base.id } } }));
                    reloadFrom(w);
                  }}
                />
              </Tabs.Panel>
            )}
          </Tabs>
        </div>
      </div>
      {base && runOpen && <RunDialog workflow={base} opened={runOpen} onClose={run.close} unsaved={dirty} />}
      {conflict && base && <ConflictDialog mine={base} theirs={conflict} onReload={() => reloadFrom(conflict)} onClose={() => setConflict(null)} />}
    </Stack>
  );
}

function WorkflowFields({ draft, set, readOnly, problems }: { draft: Draft; set: (d: Draft, key?: string) => void; readOnly: boolean; problems: MappedProblems | null }) {
  const err = (k: string) => problems?.other.filter((p) => p.where === k || p.where.startsWith(`${k}.`)).map((p) => p.message).join('; ') || undefined;
  return (
    <Stack gap="xs">
      <TextInput label="Name" value={draft.name} readOnly={readOnly} error={err('name')} onChange={(e) => set({ ...draft, name: e.currentTarget.value }, 'wf:name')} required />
      <Textarea label="Description" autosize minRows={2} value={draft.description} readOnly={readOnly} error={err('description')} onChange={(e) => set({ ...draft, description: e.currentTarget.value }, 'wf:description')} />
      <TagsInput label="Tags" value={draft.tags} readOnly={readOnly} error={err('tags')} onChange={(tags) => set({ ...draft, tags })} />
      <Text fw={600} size="sm" mt="xs">
        Input schema
      </Text>
      <InputSchemaEditor schema={draft.inputSchema} readOnly={readOnly} error={err('input_schema')} onChange={(s) => set({ ...draft, inputSchema: s }, 'wf:schema')} />
      <CodeField
        label="Output template"
        description="Empty: the outputs of the last nodes, by id"
        value={draft.outputTemplate}
        readOnly={readOnly}
        error={err('output_template')}
        scope={{ inputs: inputFields(draft.inputSchema), nodes: draft.agents.map((a) => a.id ?? '') }}
        onChange={(v) => set({ ...draft, outputTemplate: v }, 'wf:output')}
        minLines={2}
      />
    </Stack>
  );
}

/** ConflictDialog: someone saved since this draft was loaded. Never overwrites: show what they changed, or reload. */
function ConflictDialog({ mine, theirs, onReload, onClose }: { mine: Workflow; theirs: Workflow; onReload: () => void; onClose: () => void }) {
  const [show, setShow] = useState(false);
  const diff = useQuery({
    queryKey: ['diff', mine.id, mine.version, theirs.version],
    queryFn: () => unwrap(api.GET('/api/v1/workflows/{id}/diff', { params: { path: { id: mine.id }, query: { from: mine.version, to: theirs.version } } })),
    enabled: show,
  });
  return (
    <Modal opened onClose={onClose} title="Someone else saved this workflow" data-testid="conflict">
      <Stack>
        <Text size="sm">
          You edited version {mine.version}; version {theirs.version} was saved since. Your changes were not saved, and nothing was overwritten.
        </Text>
        {show && (diff.isPending ? <Loading /> : diff.isError ? <ErrorState error={diff.error} /> : <DiffView d={diff.data} />)}
        <Group justify="flex-end">
          {!show && (
            <Button variant="default" onClick={() => setShow(true)}>
              Show their changes
            </Button>
          )}
          <Button variant="default" onClick={onClose}>
            Keep editing
          </Button>
          <Button color="red" onClick={onReload}>
            Discard mine and reload
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

