import { useState } from 'react';
import { ActionIcon, Button, Checkbox, Group, SegmentedControl, Select, Stack, Text, Textarea, TextInput } from '@mantine/core';
import { fieldsToSchema, isSimpleSchema, schemaFields, type FieldType, type SchemaField } from '../components/schema';

/** InputSchemaEditor edits the workflow's input schema as a list of fields, or as raw JSON Schema. */
export function InputSchemaEditor({ schema, onChange, error, readOnly }: { schema: unknown; onChange: (s: unknown) => void; error?: string; readOnly: boolean }) {
  const simple = isSimpleSchema(schema);
  const [mode, setMode] = useState<'fields' | 'json'>(simple ? 'fields' : 'json');
  const [raw, setRaw] = useState(() => (schema === undefined ? '' : JSON.stringify(schema, null, 2)));
  const [rawError, setRawError] = useState<string | null>(null);
  const fields = schemaFields(schema) ?? [];

  const setFields = (fs: SchemaField[]) => {
    const s = fieldsToSchema(fs);
    onChange(s);
    setRaw(s === undefined ? '' : JSON.stringify(s, null, 2));
  };
  const patch = (i: number, p: Partial<SchemaField>) => setFields(fields.map((f, j) => (j === i ? { ...f, ...p } : f)));

  return (
    <Stack gap="xs">
      <SegmentedControl
        size="xs"
        value={mode}
        onChange={(v) => setMode(v as 'fields' | 'json')}
        data={[
          { value: 'fields', label: 'Fields', disabled: !simple && mode === 'json' && !!raw },
          { value: 'json', label: 'JSON Schema' },
        ]}
        aria-label="Input schema editor mode"
      />
      {error && (
        <Text c="red" size="sm" role="alert">
          {error}
        </Text>
      )}
      {mode === 'fields' ? (
        <>
          {fields.length === 0 && (
            <Text size="sm" c="dimmed">
              No input fields: runs take any input.
            </Text>
          )}
          {fields.map((f, i) => (
            <Group key={i} gap={6} align="flex-end" wrap="nowrap">
              <TextInput label="Field" size="xs" value={f.name} readOnly={readOnly} onChange={(e) => patch(i, { name: e.currentTarget.value })} w={110} />
              <Select
                label="Type"
                size="xs"
                w={96}
                data={['string', 'number', 'integer', 'boolean']}
                value={f.type}
                readOnly={readOnly}
                onChange={(v) => patch(i, { type: (v ?? 'string') as FieldType })}
              />
              <TextInput label="Choices" size="xs" placeholder="a, b" value={(f.enum ?? []).join(', ')} readOnly={readOnly} w={80} onChange={(e) => patch(i, { enum: e.currentTarget.value.split(',').map((s) => s.trim()).filter(Boolean) })} />
              <Checkbox label="Required" size="xs" checked={f.required} disabled={readOnly} onChange={(e) => patch(i, { required: e.currentTarget.checked })} mb={6} />
              {!readOnly && (
                <ActionIcon variant="subtle" color="red" aria-label={`Remove field ${f.name}`} onClick={() => setFields(fields.filter((_, j) => j !== i))} mb={4}>
                  ×
                </ActionIcon>
              )}
            </Group>
          ))}
          {!readOnly && (
            <Button size="compact-xs" variant="default" onClick={() => setFields([...fields, { name: `field_${fields.length + 1}`, type: 'string', required: false }])}>
              Add field
            </Button>
          )}
        </>
      ) : (
        <Textarea
          label="JSON Schema"
          autosize
          minRows={6}
          styles={{ input: { fontFamily: 'monospace', fontSize: 12 } }}
          value={raw}
          readOnly={readOnly}
          error={rawError}
          onChange={(e) => {
            const v = e.currentTarget.value;
            setRaw(v);
            if (!v.trim()) {
              setRawError(null);
              onChange(undefined);
              return;
            }
            try {
              onChange(JSON.parse(v));
              setRawError(null);
            } catch (err) {
              setRawError(`Not valid JSON: ${(err as Error).message}`);
            }
          }}
        />
      )}
    </Stack>
  );
}
