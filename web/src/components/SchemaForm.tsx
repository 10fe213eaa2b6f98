import { Checkbox, NumberInput, Select, Stack, Textarea, TextInput } from '@mantine/core';
import type { FormValues, SchemaField } from './schema';

/** SchemaForm renders one labelled control per input-schema field. */
export function SchemaForm({
  fields,
  values,
  errors,
  onChange,
}: {
  fields: SchemaField[];
  values: FormValues;
  errors: Record<string, string>;
  onChange: (v: FormValues) => void;
}) {
  const set = (name: string, v: FormValues[string]) => onChange({ ...values, [name]: v });
  return (
    <Stack gap="xs">
      {fields.map((f) => {
        const common = { label: f.name, description: f.description, required: f.required, error: errors[f.name] };
        if (f.enum?.length) {
          return <Select key={f.name} {...common} data={f.enum.map(String)} value={values[f.name] === undefined ? null : String(values[f.name])} onChange={(v) => set(f.name, v ?? undefined)} />;
        }
        switch (f.type) {
          case 'boolean':
            return <Checkbox key={f.name} label={f.name} description={f.description} error={errors[f.name]} checked={values[f.name] === true} onChange={(e) => set(f.name, e.currentTarget.checked)} />;
          case 'number':
          case 'integer':
            return (
              <NumberInput
                key={f.name}
                {...common}
                allowDecimal={f.type === 'number'}
                value={(values[f.name] as number | string | undefined) ?? ''}
                onChange={(v) => set(f.name, v === '' ? undefined : v)}
              />
            );
          case 'json':
            return <Textarea key={f.name} {...common} autosize minRows={2} value={String(values[f.name] ?? '')} onChange={(e) => set(f.name, e.currentTarget.value)} placeholder="JSON" />;
          default:
            return <TextInput key={f.name} {...common} value={String(values[f.name] ?? '')} onChange={(e) => set(f.name, e.currentTarget.value)} />;
        }
      })}
    </Stack>
  );
}
