import { describe, expect, it } from 'vitest';
import { useState } from 'react';
import { fireEvent, render, screen } from '@testing-library/react';
import { MantineProvider } from '@mantine/core';
import { SchemaForm } from './SchemaForm';
import { fieldsToSchema, formToInput, initialValues, isSimpleSchema, schemaFields, type FormValues } from './schema';

const schema = {
  type: 'object',
  required: ['name', 'count'],
  properties: {
    name: { type: 'string', description: 'Who to greet' },
    count: { type: 'integer', default: 2 },
    ratio: { type: 'number' },
    tone: { type: 'string', enum: ['warm', 'dry'], default: 'warm' },
    loud: { type: 'boolean' },
    extra: { type: 'object' },
  },
};

function Harness({ onInput }: { onInput: (r: ReturnType<typeof formToInput>) => void }) {
  const fields = schemaFields(schema)!;
  const [values, setValues] = useState<FormValues>(() => initialValues(fields));
  const [errors, setErrors] = useState<Record<string, string>>({});
  return (
    <MantineProvider>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const r = formToInput(fields, values);
          setErrors(r.errors);
          onInput(r);
        }}
      >
        <SchemaForm fields={fields} values={values} errors={errors} onChange={setValues} />
        <button type="submit">Run</button>
      </form>
    </MantineProvider>
  );
}

describe('input-schema form', () => {
  it('renders a labelled control per field with defaults, and types the input', () => {
    let got: ReturnType<typeof formToInput> | undefined;
    render(<Harness onInput={(r) => (got = r)} />);
    expect(screen.getByText('Who to greet')).toBeTruthy();
    expect((screen.getByRole('textbox', { name: /^count/ }) as HTMLInputElement).value).toBe('2');
    expect(screen.getByRole('checkbox', { name: 'loud' })).toBeTruthy();

    // The browser's own check stops an empty required field first; submit past it.
    const submit = () => fireEvent.submit(screen.getByRole('button', { name: 'Run' }).closest('form')!);
    submit();
    expect(got?.errors).toEqual({ name: 'required' });
    expect(screen.getByText('required')).toBeTruthy();

    fireEvent.change(screen.getByRole('textbox', { name: /^name/ }), { target: { value: 'ada' } });
    fireEvent.change(screen.getByRole('textbox', { name: /^ratio/ }), { target: { value: '0.5' } });
    fireEvent.change(screen.getByRole('textbox', { name: /^extra/ }), { target: { value: '{"a":1}' } });
    fireEvent.click(screen.getByRole('checkbox', { name: 'loud' }));
    submit();
    expect(got?.errors).toEqual({});
    expect(got?.input).toEqual({ name: 'ada', count: 2, ratio: 0.5, tone: 'warm', loud: true, extra: { a: 1 } });
  });

  it('names malformed values', () => {
    const fields = schemaFields(schema)!;
    const r = formToInput(fields, { name: 'x', count: '1.5', tone: 'loud', extra: '{' });
    expect(r.errors).toEqual({ count: 'must be a whole number', tone: 'must be one of warm, dry', extra: 'must be valid JSON' });
  });

  it('round-trips the field editor and refuses schemas it cannot show', () => {
    const simple = { type: 'object', required: ['name'], properties: { name: { type: 'string' }, n: { type: 'integer', enum: [1, 2] } } };
    expect(isSimpleSchema(simple)).toBe(true);
    expect(fieldsToSchema(schemaFields(simple)!)).toEqual(simple);
    expect(isSimpleSchema(schema)).toBe(false); // "extra" is an object
    expect(isSimpleSchema({ type: 'object', properties: { a: { type: 'string', minLength: 3 } } })).toBe(false);
    expect(schemaFields({ type: 'array' })).toBeNull();
    expect(isSimpleSchema(undefined)).toBe(true);
  });
});
