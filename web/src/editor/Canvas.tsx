import '@xyflow/react/dist/style.css';
import { useComputedColorScheme } from '@mantine/core';
import { memo, useCallback, useMemo, useState, type DragEvent } from 'react';
import {
  Background,
  Controls,
  Handle,
  MiniMap,
  Position,
  ReactFlow,
  useReactFlow,
  type Connection,
  type Edge as FlowEdge,
  type EdgeChange,
  type Node as FlowNode,
  type NodeChange,
  type NodeProps,
} from '@xyflow/react';
import type { Draft, NodeType } from './model';
import type { Pos } from './layout';

type AgentData = { id: string; type: string; name?: string; problem: boolean; library: boolean };

const AgentNodeView = memo(function AgentNodeView({ data, selected }: NodeProps<FlowNode<AgentData>>) {
  return (
    <div className={`flow-node${selected ? ' selected' : ''}`} data-problem={data.problem} data-testid={`node-${data.id}`} title={data.problem ? 'This node has problems' : undefined}>
      <Handle type="target" position={Position.Left} aria-label={`Input of ${data.id}`} />
      <div className="type">
        {data.type}
        {data.library ? ' · library' : ''}
        {data.problem ? ' · ⚠ problem' : ''}
      </div>
      <div>
        <strong>{data.name || data.id}</strong>
      </div>
      {data.name && <div className="type">{data.id}</div>}
      <Handle type="source" position={Position.Right} aria-label={`Output of ${data.id}`} />
    </div>
  );
});

const nodeTypes = { agent: AgentNodeView };

export const PALETTE_MIME = 'application/x-superagent-node';

export function Canvas({
  draft,
  selectedNodes,
  selectedEdge,
  problemNodes,
  problemEdges,
  readOnly,
  onMove,
  onSelect,
  onConnect,
  onRemoveNodes,
  onRemoveEdges,
  onDropNode,
}: {
  draft: Draft;
  selectedNodes: Set<string>;
  selectedEdge: number | null;
  problemNodes: Set<string>;
  problemEdges: Set<number>;
  readOnly: boolean;
  onMove: (positions: Record<string, Pos>, done: boolean) => void;
  onSelect: (nodes: string[], edge: number | null) => void;
  onConnect: (from: string, to: string) => void;
  onRemoveNodes: (ids: string[]) => void;
  onRemoveEdges: (i: number[]) => void;
  onDropNode: (type: NodeType, at: Pos, agentId?: string) => void;
}) {
  const rf = useReactFlow();
  const scheme = useComputedColorScheme('light');
  // The nodes are derived from the draft on every change, so the sizes
  // React Flow measured are kept here (the minimap and fit need them).
  const [measured, setMeasured] = useState<Record<string, { width: number; height: number }>>({});
  const nodes = useMemo<FlowNode<AgentData>[]>(
    () =>
      draft.agents.map((a) => ({
        id: a.id ?? '',
        type: 'agent',
        position: draft.positions[a.id ?? ''] ?? { x: 0, y: 0 },
        selected: selectedNodes.has(a.id ?? ''),
        data: { id: a.id ?? '', type: a.type ?? '', name: a.name, problem: problemNodes.has(a.id ?? ''), library: !!a.agent_id },
        ariaLabel: `${a.type} node ${a.id}`,
        measured: measured[a.id ?? ''],
      })),
    [draft.agents, draft.positions, selectedNodes, problemNodes, measured],
  );
  const edges = useMemo<FlowEdge[]>(
    () =>
      draft.edges.map((e, i) => ({
        id: `e${i}`,
        source: e.from ?? '',
        target: e.to ?? '',
        label: e.condition || undefined,
        selected: selectedEdge === i,
        style: problemEdges.has(i) ? { stroke: 'var(--mantine-color-red-filled)', strokeWidth: 2 } : undefined,
        ariaLabel: `Edge from ${e.from} to ${e.to}`,
      })),
    [draft.edges, selectedEdge, problemEdges],
  );

  const onNodesChange = useCallback(
    (changes: NodeChange<FlowNode<AgentData>>[]) => {
      const moved: Record<string, Pos> = {};
      let done = false;
      const sel = new Set(selectedNodes);
      let selChanged = false;
      const removed: string[] = [];
      const sized: Record<string, { width: number; height: number }> = {};
      for (const c of changes) {
        if (c.type === 'dimensions' && c.dimensions) {
          sized[c.id] = c.dimensions;
        } else if (c.type === 'position' && c.position) {
          moved[c.id] = c.position;
          if (!c.dragging) done = true;
        } else if (c.type === 'position' && c.dragging === false) {
          done = true;
        } else if (c.type === 'select') {
          selChanged = true;
          if (c.selected) sel.add(c.id);
          else sel.delete(c.id);
        } else if (c.type === 'remove') {
          removed.push(c.id);
        }
      }
      if (Object.keys(sized).length) setMeasured((m) => ({ ...m, ...sized }));
      if (Object.keys(moved).length || done) onMove(moved, done);
      if (selChanged) onSelect([...sel], null);
      if (removed.length && !readOnly) onRemoveNodes(removed);
    },
    [selectedNodes, onMove, onSelect, onRemoveNodes, readOnly],
  );

  const onEdgesChange = useCallback(
    (changes: EdgeChange[]) => {
      const removed: number[] = [];
      for (const c of changes) {
        const i = Number(c.type !== 'add' ? c.id.slice(1) : NaN);
        if (c.type === 'select' && c.selected) onSelect([], i);
        if (c.type === 'remove') removed.push(i);
      }
      if (removed.length && !readOnly) onRemoveEdges(removed);
    },
    [onSelect, onRemoveEdges, readOnly],
  );

  const onDrop = (e: DragEvent) => {
    e.preventDefault();
    const raw = e.dataTransfer.getData(PALETTE_MIME);
    if (!raw || readOnly) return;
    const { type, agentId } = JSON.parse(raw) as { type: NodeType; agentId?: string };
    onDropNode(type, rf.screenToFlowPosition({ x: e.clientX, y: e.clientY }), agentId);
  };

  return (
    <div className="editor-canvas" onDragOver={(e) => e.preventDefault()} onDrop={onDrop} data-testid="canvas">
      <ReactFlow
        nodes={nodes}
        edges={edges}
        nodeTypes={nodeTypes}
        onNodesChange={onNodesChange}
        onEdgesChange={onEdgesChange}
        onConnect={(c: Connection) => !readOnly && c.source && c.target && onConnect(c.source, c.target)}
        onPaneClick={() => onSelect([], null)}
        nodesDraggable
        nodesConnectable={!readOnly}
        elementsSelectable
        deleteKeyCode={readOnly ? null : ['Delete', 'Backspace']}
        fitView
        colorMode={scheme}
        fitViewOptions={{ maxZoom: 1 }}
        minZoom={0.05}
      >
        <Background />
        <Controls showInteractive={false} />
        <MiniMap pannable zoomable ariaLabel="Minimap" />
      </ReactFlow>
    </div>
  );
}
