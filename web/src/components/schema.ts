// A small, honest subset of JSON Schema: an object whose properties are
// strings, numbers, integers, booleans (with enum, default, description)
// or anything else, which is edited as JSON.

export type FieldType = 'string' | 'number' | 'integer' | 'boolean' | 'json';

export interface SchemaField {
  name: string;
  type: FieldType;
  required: boolean;
  description?: string;
  enum?: (string | number)[];
  default?: unknown;
}

interface PropSchema {
  type?: string | string[];
  description?: string;
  enum?: unknown[];
  default?: unknown;
}

function fieldType(p: PropSchema): FieldType {
  const t = Array.isArray(p.type) ? p.type.find((x) => x !== 'null') : p.type;
  return t === 'string' || t === 'number' || t === 'integer' || t === 'boolean' ? t : 'json';
}

/** schemaFields lists an object schema's properties in order; null when the schema is not an object schema. */
export function schemaFields(schema: unknown): SchemaField[] | null {
  if (schema === undefined || schema === null) return [];
  if (typeof schema !== 'object') return null;
  const s = schema as { type?: unknown; properties?: Record<string, PropSchema>; required?: string[] };
  if (s.type !== undefined && s.type !== 'object') return null;
  const req = new Set(s.required ?? []);
  return Object.entries(s.properties ?? {}).map(([name, p]) => {
    const f: SchemaField = { name, type: fieldType(p ?? {}), required: req.has(name) };
    if (p?.description) f.description = p.description;
    if (Array.isArray(p?.enum)) f.enum = p.enum.filter((v): v is string | number => typeof v === 'string' || typeof v === 'number');
    if (p?.default !== undefined) f.default = p.default;
    return f;
  });
}

/** isSimpleSchema is true when the field editor can show the schema without losing anything. */
export function isSimpleSchema(schema: unknown): boolean {
  const fields = schemaFields(schema);
  if (!fields) return false;
  if (schema === undefined || schema === null) return true;
  const s = schema as Record<string, unknown>;
  const known = new Set(['type', 'properties', 'required', 'additionalProperties', '$schema']);
  if (Object.keys(s).some((k) => !known.has(k))) return false;
  const props = (s.properties ?? {}) as Record<string, Record<string, unknown>>;
  const propKnown = new Set(['type', 'description', 'enum', 'default']);
  return Object.values(props).every((p) => p && Object.keys(p).every((k) => propKnown.has(k)) && fieldType(p) !== 'json');
}

/** fieldsToSchema builds the object schema the field editor describes. */
export function fieldsToSchema(fields: SchemaField[]): unknown {
  if (!fields.length) return undefined;
  const properties: Record<string, PropSchema> = {};
  for (const f of fields) {
    const p: PropSchema = { type: f.type === 'json' ? undefined : f.type };
    if (f.description) p.description = f.description;
    if (f.enum?.length) p.enum = f.enum;
    if (f.default !== undefined && f.default !== '') p.default = f.default;
    properties[f.name] = p;
  }
  const required = fields.filter((f) => f.required).map((f) => f.name);
  return { type: 'object', properties, ...(required.length ? { required } : {}) };
}

export type FormValues = Record<string, string | number | boolean | undefined>;

export function initialValues(fields: SchemaField[]): FormValues {
  const v: FormValues = {};
  for (const f of fields) {
    if (f.default !== undefined) v[f.name] = f.type === 'json' ? JSON.stringify(f.default) : (f.default as string | number | boolean);
    else if (f.type === 'boolean') v[f.name] = false;
  }
  return v;
}

/**
 * formToInput turns the form's values into the execution input, typed as
 * the schema says; errors name each field that is missing or malformed.
 */
export function formToInput(fields: SchemaField[], values: FormValues): { input: Record<string, unknown>; errors: Record<string, string> } {
  const input: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const f of fields) {
    const raw = values[f.name];
    const empty = raw === undefined || raw === '';
    if (empty) {
      if (f.required) errors[f.name] = 'required';
      continue;
    }
    switch (f.type) {
      case 'integer':
      case 'number': {
        const n = typeof raw === 'number' ? raw : Number(raw);
        if (Number.isNaN(n) || (f.type === 'integer' && !Number.isInteger(n))) errors[f.name] = `must be ${f.type === 'integer' ? 'a whole number' : 'a number'}`;
        else input[f.name] = n;
        break;
      }
      case 'boolean':
        input[f.name] = raw === true || raw === 'true';
        break;
      case 'json':
        try {
          input[f.name] = JSON.parse(String(raw));
        } catch {
          errors[f.name] = 'must be valid JSON';
        }
        break;
      default:
        if (f.enum?.length && !f.enum.includes(String(raw))) errors[f.name] = `must be one of ${f.enum.join(', ')}`;
        else input[f.name] = String(raw);
    }
  }
  return { input, errors };
}
