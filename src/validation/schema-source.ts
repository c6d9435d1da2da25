// Where the OCPP JSON schemas come from: the copies bundled with the `ocpp-rpc` npm package (1.6,
// 2.0.1, 2.1), or a folder of official OCA files (json_schema_dir). Either way the result is a map
// "Action.req" / "Action.conf" -> schema, with the schema's own ids removed (the validator assigns
// its own; ids like "urn:Name.req" break Ajv's URI resolution).
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Protocol } from '../config/schema.js';

export type SchemaKind = 'req' | 'conf';
export type SchemaMap = Map<string, Record<string, unknown>>;

export const schemaKey = (action: string, kind: SchemaKind): string => `${action}.${kind}`;

const BUNDLED_FILES: Record<Protocol, string> = {
  'ocpp1.6': 'ocpp-rpc/lib/schemas/ocpp1_6.json',
  'ocpp2.0.1': 'ocpp-rpc/lib/schemas/ocpp2_0_1.json',
  'ocpp2.1': 'ocpp-rpc/lib/schemas/ocpp2_1.json',
};

/**
 * Where the bundled copies differ from the official OCA files, the official files win. Each entry is
 * checked by test/schema-equivalence.test.ts against ../shared/ocpp-schemas.
 */
const BUNDLED_ERRATA: Array<{ protocol: Protocol; key: string; why: string; apply: (schema: Record<string, unknown>) => void }> = [
  {
    protocol: 'ocpp1.6',
    key: 'MeterValues.req',
    why: 'the official MeterValues.json lists unit "Hertz"; ocpp-rpc 2.2.1 omits it',
    apply: (schema) => {
      const unit = dig(schema, ['properties', 'meterValue', 'items', 'properties', 'sampledValue', 'items', 'properties', 'unit']);
      const values = unit?.['enum'];
      if (Array.isArray(values) && !values.includes('Hertz')) values.push('Hertz');
    },
  },
];

function dig(node: Record<string, unknown>, path: string[]): Record<string, unknown> | undefined {
  let cur: unknown = node;
  for (const p of path) cur = typeof cur === 'object' && cur !== null ? (cur as Record<string, unknown>)[p] : undefined;
  return typeof cur === 'object' && cur !== null ? (cur as Record<string, unknown>) : undefined;
}

function withoutIds(schema: Record<string, unknown>): Record<string, unknown> {
  const { $id: _a, id: _b, $schema: _c, ...rest } = schema;
  return structuredClone(rest);
}

export function bundledSchemas(protocol: Protocol): SchemaMap {
  const list = createRequire(import.meta.url)(BUNDLED_FILES[protocol]) as Array<Record<string, unknown>>;
  const out: SchemaMap = new Map();
  for (const schema of list) {
    const id = String(schema['$id'] ?? ''); // "urn:BootNotification.req"
    const m = /^urn:(.+)\.(req|conf)$/.exec(id);
    if (m) out.set(schemaKey(m[1] as string, m[2] as SchemaKind), withoutIds(schema));
  }
  for (const e of BUNDLED_ERRATA) {
    const schema = out.get(e.key);
    if (e.protocol === protocol && schema) e.apply(schema);
  }
  return out;
}

/** Action and kind of one schema file, from its id, title or file name. */
export function classifySchemaFile(fileName: string, schema: Record<string, unknown>, idPrefix: string): [string, SchemaKind] | undefined {
  const fromName = (name: string): [string, SchemaKind] | undefined => {
    if (name.endsWith('Request')) return [name.slice(0, -7), 'req'];
    if (name.endsWith('Response')) return [name.slice(0, -8), 'conf'];
    return undefined;
  };
  const id = String(schema['$id'] ?? schema['id'] ?? '');
  if (idPrefix !== '' && id.startsWith(idPrefix)) {
    const r = fromName(id.slice(idPrefix.length));
    if (r) return r;
  }
  const title = typeof schema['title'] === 'string' ? fromName(schema['title']) : undefined;
  if (title) return title;
  const dotted = /([A-Za-z0-9]+)\.(req|conf)$/.exec(id);
  if (dotted) return [dotted[1] as string, dotted[2] as SchemaKind];
  const base = fileName.replace(/\.json$/, '');
  return fromName(base) ?? (/^[A-Za-z0-9]+$/.test(base) ? [base, 'req'] : undefined);
}

/** Loads every *.json file in `dir`; throws with the file name on the first unreadable one. */
export function directorySchemas(dir: string, idPrefix: string): SchemaMap {
  const out: SchemaMap = new Map();
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  } catch (err) {
    throw new Error(`json_schema_dir: cannot read ${dir} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  if (files.length === 0) throw new Error(`json_schema_dir: ${dir} has no .json files`);
  for (const file of files) {
    let schema: Record<string, unknown>;
    try {
      schema = JSON.parse(readFileSync(join(dir, file), 'utf8').replace(/^\uFEFF/, '')) as Record<string, unknown>;
    } catch (err) {
      throw new Error(`json_schema_dir: ${file}: ${(err as Error).message}`);
    }
    const kind = classifySchemaFile(file, schema, idPrefix);
    if (kind === undefined) throw new Error(`json_schema_dir: ${file}: cannot tell which action and direction it describes`);
    out.set(schemaKey(kind[0], kind[1]), withoutIds(schema));
  }
  return out;
}
