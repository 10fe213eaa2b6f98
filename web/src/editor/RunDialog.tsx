import { useState } from 'react';
import { Alert, Button, Modal, Select, Stack, Text, Textarea } from '@mantine/core';
import { useNavigate } from 'react-router';
import { api, unwrap } from '../api/client';
import type { Workflow } from '../api/hooks';
import { SchemaForm } from '../components/SchemaForm';
import { formToInput, initialValues, schemaFields, type FormValues } from '../components/schema';
import { ErrorState } from '../components/States';

type Env = 'dev' | 'staging' | 'prod';

/** RunDialog starts an execution with an input form generated from the saved workflow's input schema. */
export function RunDialog({ workflow, opened, onClose, unsaved }: { workflow: Workflow; opened: boolean; onClose: () => void; unsaved: boolean }) {
  const navigate = useNavigate();
  const fields = schemaFields(workflow.input_schema);
  const [values, setValues] = useState<FormValues>(() => initialValues(fields ?? []));
  const [raw, setRaw] = useState('{}');
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [target, setTarget] = useState<string>('latest');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const pins = workflow.pins ?? {};

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    let input: unknown;
    if (fields) {
      const r = formToInput(fields, values);
      setErrors(r.errors);
      if (Object.keys(r.errors).length) return;
      input = r.input;
    } else {
      try {
        input = JSON.parse(raw || 'null');
      } catch {
        setErrors({ raw: 'must be valid JSON' });
        return;
      }
    }
    setBusy(true);
    setError(null);
    try {
      const body: { input: unknown; environment?: Env; version?: number } = { input };
      if (target === 'dev' || target === 'staging' || target === 'prod') body.environment = target;
      else body.version = workflow.version;
      const exe = await unwrap(api.POST('/api/v1/workflows/{id}/execute', { params: { path: { id: workflow.id } }, body }));
      navigate(`/executions/${exe.id}`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal opened={opened} onClose={onClose} title={`Run ${workflow.name}`}>
      <form onSubmit={submit}>
        <Stack>
          {unsaved && <Alert color="yellow">You have unsaved changes: the run uses the saved version.</Alert>}
          <Select
            label="Version to run"
            data={[
              { value: 'latest', label: `Latest (v${workflow.version})` },
              ...(['dev', 'staging', 'prod'] as const).filter((e) => pins[e]).map((e) => ({ value: e, label: `${e} (v${pins[e]})` })),
            ]}
            value={target}
            onChange={(v) => setTarget(v ?? 'latest')}
            allowDeselect={false}
          />
          {fields ? (
            fields.length ? (
              <SchemaForm fields={fields} values={values} errors={errors} onChange={setValues} />
            ) : (
              <Text size="sm" c="dimmed">
                This workflow takes no input fields.
              </Text>
            )
          ) : (
            <Textarea label="Input (JSON)" autosize minRows={4} value={raw} error={errors.raw} onChange={(e) => setRaw(e.currentTarget.value)} />
          )}
          {error ? <ErrorState error={error} /> : null}
          <Button type="submit" loading={busy}>
            Start run
          </Button>
        </Stack>
      </form>
    </Modal>
  );
}
