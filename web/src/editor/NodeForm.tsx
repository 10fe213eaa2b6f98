import { useState } from 'react';
import { ActionIcon, Autocomplete, Button, Divider, Group, NumberInput, Select, Stack, Text, TextInput, Title } from '@mantine/core';
import type { components } from '../api/schema';
import type { AgentNode, Edge } from '../api/hooks';
import { CodeField, type TemplateScope } from './CodeField';

type LLMConfig = components['schemas']['LLMConfig'];
type HTTPConfig = components['schemas']['HTTPConfig'];
type TransformConfig = components['schemas']['TransformConfig'];
type RouterConfig = components['schemas']['RouterConfig'];
type RetryPolicy = components['schemas']['RetryPolicy'];

export interface FieldErrors {
  get: (field: string) => string | undefined;
}

export function fieldErrors(m: Map<string, string[]> | undefined): FieldErrors {
  return { get: (f) => m?.get(f)?.join('; ') };
}

const num = (v: string | number): number | undefined => (typeof v === 'number' ? v : v === '' ? undefined : Number(v));

export function NodeForm({
  node,
  onChange,
  onRename,
  onDelete,
  scope,
  models,
  otherIds,
  errors,
  readOnly,
}: {
  node: AgentNode;
  onChange: (patch: Partial<AgentNode>, key: string) => void;
  onRename: (to: string) => void;
  onDelete: () => void;
  scope: TemplateScope;
  models: string[];
  otherIds: string[];
  errors: FieldErrors;
  readOnly: boolean;
}) {
  const [idDraft, setIdDraft] = useState(node.id ?? '');
  const [idFor, setIdFor] = useState(node.id);
  if (idFor !== node.id) {
    setIdFor(node.id);
    setIdDraft(node.id ?? '');
  }
  const whole = errors.get('');
  return (
    <Stack gap="xs" data-testid="node-form">
      <Group justify="space-between">
        <Title order={2} size="h5">
          {node.type} node
        </Title>
        {!readOnly && (
          <Button size="compact-xs" color="red" variant="subtle" onClick={onDelete}>
            Delete node
          </Button>
        )}
      </Group>
      {whole && (
        <Text c="red" size="sm" role="alert">
          {whole}
        </Text>
      )}
      <TextInput
        label="Id"
        description="Other nodes read this node's output as {{ .nodes.<id> }}"
        value={idDraft}
        readOnly={readOnly}
        error={errors.get('id') ?? (idDraft !== node.id && otherIds.includes(idDraft) ? 'another node has this id' : undefined)}
        onChange={(e) => setIdDraft(e.currentTarget.value)}
        onBlur={() => idDraft && idDraft !== node.id && !otherIds.includes(idDraft) && onRename(idDraft)}
      />
      <TextInput label="Name" value={node.name ?? ''} readOnly={readOnly} error={errors.get('name')} onChange={(e) => onChange({ name: e.currentTarget.value }, 'name')} />
      {node.agent_id && (
        <TextInput label="Library agent" value={node.agent_id} readOnly description="Fields set here override the library agent's" />
      )}
      {node.type === 'llm' && <LLMFields c={node.llm ?? { model: '', prompt: '' }} set={(llm) => onChange({ llm }, 'llm')} scope={scope} models={models} errors={errors} readOnly={readOnly} />}
      {node.type === 'http' && <HTTPFields c={node.http ?? {}} set={(http) => onChange({ http }, 'http')} scope={scope} errors={errors} readOnly={readOnly} />}
      {node.type === 'transform' && <TransformFields c={node.transform ?? {}} set={(transform) => onChange({ transform }, 'transform')} scope={scope} errors={errors} readOnly={readOnly} />}
      {node.type === 'router' && <RouterFields c={node.router ?? {}} set={(router) => onChange({ router }, 'router')} targets={otherIds} scope={scope} errors={errors} readOnly={readOnly} />}
      <Divider label="Retries and timeout" labelPosition="left" />
      <RetryFields r={node.retry ?? {}} set={(retry) => onChange({ retry }, 'retry')} timeout={node.timeout_seconds} setTimeout={(t) => onChange({ timeout_seconds: t }, 'timeout_seconds')} errors={errors} readOnly={readOnly} />
    </Stack>
  );
}

function LLMFields({ c, set, scope, models, errors, readOnly }: { c: LLMConfig; set: (c: LLMConfig) => void; scope: TemplateScope; models: string[]; errors: FieldErrors; readOnly: boolean }) {
  return (
    <>
      <Autocomplete
        label="Model"
        description="provider:model; mock answers offline"
        data={models}
        value={c.model ?? ''}
        readOnly={readOnly}
        error={errors.get('llm.model')}
        onChange={(model) => set({ ...c, model })}
      />
      <CodeField label="System prompt" value={c.system_prompt ?? ''} onChange={(v) => set({ ...c, system_prompt: v })} scope={scope} error={errors.get('llm.system_prompt')} readOnly={readOnly} minLines={2} />
      <CodeField
        label="Prompt"
        value={c.prompt ?? ''}
        onChange={(v) => set({ ...c, prompt: v })}
        scope={scope}
        error={errors.get('llm.prompt')}
        readOnly={readOnly}
        minLines={3}
        placeholder="Type {{ . for the input and upstream nodes"
        testId="field-llm-prompt"
      />
      <Group grow>
        <NumberInput label="Temperature" min={0} max={2} step={0.1} decimalScale={2} value={c.temperature ?? ''} readOnly={readOnly} error={errors.get('llm.temperature')} onChange={(v) => set({ ...c, temperature: num(v) })} />
        <NumberInput label="Max tokens" min={1} value={c.max_tokens ?? ''} readOnly={readOnly} error={errors.get('llm.max_tokens')} onChange={(v) => set({ ...c, max_tokens: num(v) })} />
      </Group>
      <Select label="Output" data={[{ value: 'text', label: 'Text' }, { value: 'json', label: 'JSON' }]} value={c.output_format || 'text'} readOnly={readOnly} error={errors.get('llm.output_format')} onChange={(v) => set({ ...c, output_format: v === 'text' ? undefined : (v ?? undefined) })} />
    </>
  );
}

function HTTPFields({ c, set, scope, errors, readOnly }: { c: HTTPConfig; set: (c: HTTPConfig) => void; scope: TemplateScope; errors: FieldErrors; readOnly: boolean }) {
  return (
    <>
      <Select label="Method" data={['GET', 'POST', 'PUT', 'PATCH', 'DELETE']} value={c.method || 'GET'} readOnly={readOnly} error={errors.get('http.method')} onChange={(v) => set({ ...c, method: v ?? 'GET' })} />
      <CodeField label="URL" value={c.url ?? ''} onChange={(v) => set({ ...c, url: v })} scope={scope} error={errors.get('http.url')} readOnly={readOnly} />
      <CodeField label="Body" value={c.body ?? ''} onChange={(v) => set({ ...c, body: v || undefined })} scope={scope} error={errors.get('http.body')} readOnly={readOnly} minLines={2} />
    </>
  );
}

function TransformFields({ c, set, scope, errors, readOnly }: { c: TransformConfig; set: (c: TransformConfig) => void; scope: TemplateScope; errors: FieldErrors; readOnly: boolean }) {
  return (
    <>
      <CodeField
        label="Expression"
        description="An expr expression over input and nodes, e.g. upper(input.name)"
        value={c.expression ?? ''}
        onChange={(v) => set({ ...c, expression: v || undefined })}
        scope={scope}
        error={errors.get('transform.expression') ?? errors.get('transform')}
        readOnly={readOnly}
        testId="field-transform-expression"
      />
      <CodeField label="Template (instead of an expression)" value={c.template ?? ''} onChange={(v) => set({ ...c, template: v || undefined })} scope={scope} error={errors.get('transform.template')} readOnly={readOnly} minLines={2} />
    </>
  );
}

function RouterFields({ c, set, targets, scope, errors, readOnly }: { c: RouterConfig; set: (c: RouterConfig) => void; targets: string[]; scope: TemplateScope; errors: FieldErrors; readOnly: boolean }) {
  const routes = c.routes ?? [];
  return (
    <>
      {routes.map((r, i) => (
        <Group key={i} align="flex-end" gap="xs" wrap="nowrap">
          <div style={{ flex: 1 }}>
            <CodeField label={`Route ${i + 1} condition`} value={r.condition ?? ''} onChange={(v) => set({ ...c, routes: routes.map((x, j) => (j === i ? { ...x, condition: v } : x)) })} scope={scope} error={errors.get('router.routes.condition')} readOnly={readOnly} />
          </div>
          <Select label="to" w={110} data={targets} value={r.to ?? null} readOnly={readOnly} onChange={(v) => set({ ...c, routes: routes.map((x, j) => (j === i ? { ...x, to: v ?? '' } : x)) })} />
          {!readOnly && (
            <ActionIcon variant="subtle" color="red" aria-label={`Remove route ${i + 1}`} onClick={() => set({ ...c, routes: routes.filter((_, j) => j !== i) })}>
              ×
            </ActionIcon>
          )}
        </Group>
      ))}
      {!readOnly && (
        <Button size="compact-xs" variant="default" onClick={() => set({ ...c, routes: [...routes, { condition: '', to: '' }] })}>
          Add route
        </Button>
      )}
      <Select label="Default" clearable data={targets} value={c.default || null} readOnly={readOnly} error={errors.get('router.default') ?? errors.get('router.routes')} onChange={(v) => set({ ...c, default: v ?? '' })} />
    </>
  );
}

function RetryFields({ r, set, timeout, setTimeout, errors, readOnly }: { r: RetryPolicy; set: (r: RetryPolicy | undefined) => void; timeout: number | undefined; setTimeout: (t: number | undefined) => void; errors: FieldErrors; readOnly: boolean }) {
  const patch = (p: Partial<RetryPolicy>) => {
    const next = { ...r, ...p };
    set(Object.values(next).some((v) => v !== undefined) ? next : undefined);
  };
  return (
    <Group grow gap="xs" align="flex-start">
      <NumberInput label="Max attempts" min={1} max={10} value={r.max_attempts ?? ''} readOnly={readOnly} error={errors.get('retry.max_attempts')} onChange={(v) => patch({ max_attempts: num(v) })} />
      <NumberInput label="First backoff (ms)" min={0} value={r.initial_backoff_ms ?? ''} readOnly={readOnly} error={errors.get('retry.initial_backoff_ms')} onChange={(v) => patch({ initial_backoff_ms: num(v) })} />
      <NumberInput label="Timeout (s)" min={1} value={timeout ?? ''} readOnly={readOnly} error={errors.get('timeout_seconds')} onChange={(v) => setTimeout(num(v))} />
    </Group>
  );
}

export function EdgeForm({ edge, onChange, onDelete, scope, error, readOnly }: { edge: Edge; onChange: (e: Edge) => void; onDelete: () => void; scope: TemplateScope; error?: string; readOnly: boolean }) {
  return (
    <Stack gap="xs" data-testid="edge-form">
      <Group justify="space-between">
        <Title order={2} size="h5">
          Edge {edge.from} → {edge.to}
        </Title>
        {!readOnly && (
          <Button size="compact-xs" color="red" variant="subtle" onClick={onDelete}>
            Delete edge
          </Button>
        )}
      </Group>
      <CodeField
        label="Condition"
        description='An expr expression; empty always holds. e.g. nodes.classify == "refund"'
        value={edge.condition ?? ''}
        onChange={(v) => onChange({ ...edge, condition: v || undefined })}
        scope={scope}
        error={error}
        readOnly={readOnly}
        testId="field-edge-condition"
      />
    </Stack>
  );
}
