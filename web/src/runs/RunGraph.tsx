import '@xyflow/react/dist/style.css';
import { useComputedColorScheme } from '@mantine/core';
import { memo, useMemo } from 'react';
import { Background, Controls, Handle, Position, ReactFlow, type Edge as FlowEdge, type Node as FlowNode, type NodeProps } from '@xyflow/react';
import type { AgentNode, Edge } from '../api/hooks';
import { layoutGraph } from '../editor/layout';
import type { NodeRun } from './reducer';

type RunNodeData = { agent: AgentNode; run: NodeRun | undefined; selected: boolean };

const RunNode = memo(function RunNode({ data }: NodeProps<FlowNode<RunNodeData>>) {
  const state = data.run?.state ?? 'waiting';
  return (
    <div
      className={`flow-node${data.selected ? ' selected' : ''}`}
      data-state={state}
      data-testid={`run-node-${data.agent.id}`}
      aria-label={`${data.agent.id}: ${state}`}
    >
      <Handle type="target" position={Position.Left} isConnectable={false} />
      <div className="type">
        {data.agent.type} · <span data-testid="node-state">{state}</span>
      </div>
      <div>
        <strong>{data.agent.name || data.agent.id}</strong>
      </div>
      {data.run?.text && data.agent.type === 'llm' && <div className="stream">{data.run.text}</div>}
      <Handle type="source" position={Position.Right} isConnectable={false} />
    </div>
  );
});

const nodeTypes = { run: RunNode };

export function RunGraph({
  agents,
  edges,
  runs,
  selected,
  onSelect,
}: {
  agents: AgentNode[];
  edges: Edge[];
  runs: Record<string, NodeRun>;
  selected: string | null;
  onSelect: (id: string) => void;
}) {
  const scheme = useComputedColorScheme('light');
  const ids = useMemo(() => agents.map((a) => a.id ?? ''), [agents]);
  const pos = useMemo(() => layoutGraph(ids, edges.map((e) => ({ from: e.from ?? '', to: e.to ?? '' }))), [ids, edges]);
  const nodes: FlowNode<RunNodeData>[] = agents.map((a) => ({
    id: a.id ?? '',
    type: 'run',
    position: pos[a.id ?? ''] ?? { x: 0, y: 0 },
    data: { agent: a, run: runs[a.id ?? ''], selected: selected === a.id },
    draggable: false,
    connectable: false,
    ariaLabel: `Node ${a.id}`,
  }));
  const flowEdges: FlowEdge[] = edges.map((e, i) => ({
    id: `e${i}`,
    source: e.from ?? '',
    target: e.to ?? '',
    label: e.condition || undefined,
    animated: runs[e.from ?? '']?.state === 'completed' && runs[e.to ?? '']?.state === 'running',
  }));
  return (
    <div className="graph-box">
      <ReactFlow
        nodes={nodes}
        edges={flowEdges}
        nodeTypes={nodeTypes}
        fitView
        colorMode={scheme}
        fitViewOptions={{ maxZoom: 1 }}
        nodesDraggable={false}
        nodesConnectable={false}
        onNodeClick={(_e, n) => onSelect(n.id)}
        minZoom={0.1}
      >
        <Background />
        <Controls showInteractive={false} />
      </ReactFlow>
    </div>
  );
}
