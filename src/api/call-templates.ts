// A starting payload for each CALL the dashboard's form offers, derived from the action's request
// schema: every required field, filled with a placeholder its schema accepts (the first enum value, the
// minimum, minItems items, the property's name as text cut to maxLength, the current time for a
// date-time), optional fields left out. The operator edits it; the gateway validates what is sent.
// Covers the keywords the bundled OCPP schemas use (type, properties, required, enum, format, $ref into
// definitions, items, minItems, minimum, maxLength, default). [SPEC §9]

type Schema = Readonly<Record<string, unknown>>;

/** Deep enough for every OCPP message; a schema that refers to itself stops here. */
const MAX_DEPTH = 16;

function asSchema(v: unknown): Schema {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Schema) : {};
}

/** Follows "#/definitions/Name" (or "#/$defs/Name") refs inside the message's own schema. */
function resolve(schema: Schema, root: Schema): Schema {
  let s = schema;
  for (let hops = 0; typeof s['$ref'] === 'string' && hops < MAX_DEPTH; hops++) {
    const path = (s['$ref'] as string).replace(/^#\/?/, '').split('/').filter((p) => p !== '');
    let target: unknown = root;
    for (const part of path) target = asSchema(target)[part.replace(/~1/g, '/').replace(/~0/g, '~')];
    s = asSchema(target);
  }
  return s;
}

function typeOf(s: Schema): string | undefined {
  const t = s['type'];
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) return t.find((x): x is string => typeof x === 'string' && x !== 'null');
  if (s['properties'] !== undefined) return 'object';
  if (Array.isArray(s['enum'])) return typeof s['enum'][0];
  return undefined;
}

function placeholder(schema: Schema, root: Schema, name: string, now: Date, depth: number): unknown {
  const s = resolve(schema, root);
  if ('default' in s) return s['default'];
  if (Array.isArray(s['enum']) && s['enum'].length > 0) return s['enum'][0];
  switch (typeOf(s)) {
    case 'object': {
      const out: Record<string, unknown> = {};
      if (depth >= MAX_DEPTH) return out;
      const properties = asSchema(s['properties']);
      const required = Array.isArray(s['required']) ? s['required'].filter((r): r is string => typeof r === 'string') : [];
      for (const key of required) out[key] = placeholder(asSchema(properties[key]), root, key, now, depth + 1);
      return out;
    }
    case 'array': {
      const n = typeof s['minItems'] === 'number' ? Math.min(s['minItems'], 4) : 0;
      return Array.from({ length: n }, () => placeholder(asSchema(s['items']), root, name, now, depth + 1));
    }
    case 'integer':
    case 'number':
      return typeof s['minimum'] === 'number' ? s['minimum'] : typeof s['exclusiveMinimum'] === 'number' ? s['exclusiveMinimum'] + 1 : 0;
    case 'boolean':
      return false;
    case 'string': {
      if (s['format'] === 'date-time') return now.toISOString();
      if (s['format'] === 'uri') return 'https://example.com/';
      const max = typeof s['maxLength'] === 'number' ? s['maxLength'] : Infinity;
      return name.slice(0, max);
    }
    default:
      return {};
  }
}

/** The template of one action's request: its required fields with placeholders (`{}` when none). */
export function callTemplate(requestSchema: Readonly<Record<string, unknown>>, now: Date): Record<string, unknown> {
  const value = placeholder(requestSchema, requestSchema, 'value', now, 0);
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
