// The smallest payload a JSON schema of the OCPP bundles accepts: required properties only, the first
// value of an enum, the minimum of a number, minItems copies of an array's item. Used by the simulator
// to answer a command it does not model. The OCPP schemas use only type, properties, required, enum,
// items/minItems, minimum/maximum, maxLength, format and local $refs into `definitions`; nothing else
// needs handling here (test/simulator.e2e.test.ts checks every answer of every version).

type Schema = Record<string, unknown>;

export function minimalInstance(schema: Schema): unknown {
  return build(schema, schema, 0);
}

function build(node: Schema, root: Schema, depth: number): unknown {
  if (depth > 32) throw new Error('schema nests too deep for a minimal instance');
  const ref = node['$ref'];
  if (typeof ref === 'string') return build(resolve(ref, root), root, depth + 1);
  const choices = node['enum'];
  if (Array.isArray(choices) && choices.length > 0) return choices[0];
  switch (node['type']) {
    case 'object': {
      const out: Record<string, unknown> = {};
      const properties = (node['properties'] ?? {}) as Record<string, Schema>;
      for (const name of (node['required'] ?? []) as string[]) {
        const property = properties[name];
        if (property === undefined) throw new Error(`required property "${name}" has no schema`);
        out[name] = build(property, root, depth + 1);
      }
      return out;
    }
    case 'array': {
      const items = (node['items'] ?? {}) as Schema;
      const count = typeof node['minItems'] === 'number' ? node['minItems'] : 0;
      return Array.from({ length: count }, () => build(items, root, depth + 1));
    }
    case 'string':
      if (node['format'] === 'date-time') return new Date().toISOString();
      if (node['format'] === 'uri') return 'https://example.invalid/';
      return typeof node['minLength'] === 'number' ? 'x'.repeat(node['minLength']) : '';
    case 'integer':
    case 'number':
      return typeof node['minimum'] === 'number' ? Math.ceil(node['minimum']) : 0;
    case 'boolean':
      return false;
    default:
      return {};
  }
}

function resolve(ref: string, root: Schema): Schema {
  const m = /^#\/definitions\/(.+)$/.exec(ref);
  const target = m ? ((root['definitions'] ?? {}) as Record<string, Schema>)[m[1] as string] : undefined;
  if (target === undefined) throw new Error(`cannot resolve ${ref}`);
  return target;
}
