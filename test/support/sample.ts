// Builds example payloads from a JSON schema (every property present, arrays of one item) and
// invalid variants of them, one per OCPP error role. Used to make and extend the test corpus.
type Schema = Record<string, unknown>;

function resolve(node: Schema, root: Schema): Schema {
  const ref = node['$ref'];
  if (typeof ref !== 'string') return node;
  const path = ref.replace(/^#\//, '').split('/');
  let cur: unknown = root;
  for (const p of path) cur = (cur as Schema)[p];
  return resolve(cur as Schema, root);
}

function stringFor(node: Schema): string {
  if (node['format'] === 'date-time') return '2026-11-23T10:00:00.000Z';
  if (node['format'] === 'uri') return 'https://example.com/file.bin';
  const max = typeof node['maxLength'] === 'number' ? node['maxLength'] : 8;
  return 'ABCDEFGH'.slice(0, Math.max(1, Math.min(max, 8)));
}

export function sample(node: Schema, root: Schema = node): unknown {
  const n = resolve(node, root);
  if (Array.isArray(n['enum'])) return n['enum'][0];
  const type = Array.isArray(n['type']) ? n['type'][0] : n['type'];
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries((n['properties'] as Record<string, Schema> | undefined) ?? {})) out[k] = sample(v, root);
      return out;
    }
    case 'array': {
      const min = typeof n['minItems'] === 'number' ? n['minItems'] : 1;
      return Array.from({ length: Math.max(1, min) }, () => sample(n['items'] as Schema, root));
    }
    case 'string': return stringFor(n);
    case 'integer': return 1;
    case 'number': return 2;
    case 'boolean': return true;
    default: return {};
  }
}

export interface Mutation {
  readonly role: 'occurrence' | 'typeConstraint' | 'propertyConstraint' | 'formation';
  readonly description: string;
  readonly payload: Record<string, unknown>;
}

/** Invalid variants of a valid top-level payload, each breaking exactly one rule. */
export function mutations(schema: Schema, valid: Record<string, unknown>): Mutation[] {
  const out: Mutation[] = [];
  const props = (schema['properties'] as Record<string, Schema> | undefined) ?? {};
  const required = (schema['required'] as string[] | undefined) ?? [];
  if (required[0] !== undefined) {
    const { [required[0]]: _gone, ...rest } = valid;
    out.push({ role: 'occurrence', description: `without required ${required[0]}`, payload: rest });
  }
  out.push({ role: 'formation', description: 'with an extra property', payload: { ...valid, zzNotInSchema: 1 } });
  for (const [k, v] of Object.entries(props)) {
    const p = resolve(v, schema);
    if (p['type'] === 'string' || p['type'] === 'integer' || p['type'] === 'object') {
      out.push({ role: 'typeConstraint', description: `${k} of the wrong type`, payload: { ...valid, [k]: p['type'] === 'string' ? 12345 : 'not-a-number' } });
      break;
    }
  }
  for (const [k, v] of Object.entries(props)) {
    const p = resolve(v, schema);
    if (Array.isArray(p['enum'])) {
      out.push({ role: 'propertyConstraint', description: `${k} outside its enum`, payload: { ...valid, [k]: 'NotAValidValue' } });
      break;
    }
    if (p['type'] === 'string' && typeof p['maxLength'] === 'number') {
      out.push({ role: 'propertyConstraint', description: `${k} over maxLength`, payload: { ...valid, [k]: 'x'.repeat(p['maxLength'] + 1) } });
      break;
    }
    if (p['format'] === 'date-time') {
      out.push({ role: 'propertyConstraint', description: `${k} not a date-time`, payload: { ...valid, [k]: 'yesterday' } });
      break;
    }
  }
  return out;
}
