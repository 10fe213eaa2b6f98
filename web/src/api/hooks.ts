// TanStack Query hooks per resource over the typed client. Server state
// lives here, never in a global store.
import { keepPreviousData, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { api, unwrap } from './client';
import type { components, operations } from './schema';

export type Workflow = components['schemas']['WorkflowOut'];
export type WorkflowSummary = components['schemas']['WorkflowSummary'];
export type WorkflowIn = components['schemas']['WorkflowIn'];
export type WorkflowUpdateIn = components['schemas']['WorkflowUpdateIn'];
export type AgentNode = components['schemas']['Node'];
export type Edge = components['schemas']['Edge'];
export type Execution = components['schemas']['ExecutionOut'];
export type Step = components['schemas']['StepOut'];
export type WorkflowVersion = components['schemas']['WorkflowVersionOut'];
export type WorkflowVersionDetail = components['schemas']['WorkflowVersionDetail'];
export type WorkflowExport = components['schemas']['WorkflowExport'];
export type Team = components['schemas']['TeamOut'];

export type WorkflowListQuery = NonNullable<operations['list-workflows']['parameters']['query']>;
export type ExecutionListQuery = NonNullable<operations['list-executions']['parameters']['query']>;

export function useWorkflows(q: WorkflowListQuery) {
  return useQuery({
    queryKey: ['workflows', q],
    queryFn: () => unwrap(api.GET('/api/v1/workflows', { params: { query: q } })),
    placeholderData: keepPreviousData,
  });
}

export function useWorkflow(id: string | undefined) {
  return useQuery({
    queryKey: ['workflow', id],
    queryFn: () => unwrap(api.GET('/api/v1/workflows/{id}', { params: { path: { id: id! } } })),
    enabled: !!id,
  });
}

export function useWorkflowVersion(id: string | undefined, version: number | undefined) {
  return useQuery({
    queryKey: ['workflow-version', id, version],
    queryFn: () =>
      unwrap(api.GET('/api/v1/workflows/{id}/versions/{version}', { params: { path: { id: id!, version: version! } } })),
    enabled: !!id && !!version,
    staleTime: Infinity, // versions are immutable
  });
}

export function useWorkflowVersions(id: string | undefined) {
  return useQuery({
    queryKey: ['workflow-versions', id],
    queryFn: () => unwrap(api.GET('/api/v1/workflows/{id}/versions', { params: { path: { id: id! } } })),
    enabled: !!id,
  });
}

export function useExecutions(q: ExecutionListQuery) {
  return useQuery({
    queryKey: ['executions', q],
    queryFn: () => unwrap(api.GET('/api/v1/executions', { params: { query: q } })),
    placeholderData: keepPreviousData,
  });
}

export function useExecution(id: string | undefined, opts?: { refetchInterval?: number | false }) {
  return useQuery({
    queryKey: ['execution', id],
    queryFn: () => unwrap(api.GET('/api/v1/executions/{id}', { params: { path: { id: id! } } })),
    enabled: !!id,
    refetchInterval: opts?.refetchInterval,
  });
}

export function useTeams(enabled: boolean) {
  return useQuery({
    queryKey: ['teams'],
    queryFn: () => unwrap(api.GET('/api/v1/teams')),
    enabled,
    staleTime: 60_000,
  });
}

export function useCancelExecution() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (id: string) => unwrap(api.POST('/api/v1/executions/{id}/cancel', { params: { path: { id } } })),
    onSuccess: (_d, id) => {
      void qc.invalidateQueries({ queryKey: ['execution', id] });
      void qc.invalidateQueries({ queryKey: ['executions'] });
    },
  });
}

export function useImportWorkflow() {
  const qc = useQueryClient();
  return useMutation({
    mutationFn: (body: components['schemas']['WorkflowImportIn']) => unwrap(api.POST('/api/v1/workflows/import', { body })),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ['workflows'] }),
  });
}

export async function exportWorkflow(id: string): Promise<WorkflowExport> {
  return unwrap(api.GET('/api/v1/workflows/{id}/export', { params: { path: { id } } }));
}
