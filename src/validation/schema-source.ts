// Where the OCPP JSON schemas come from: the copies bundled with the `ocpp-rpc` npm package (1.6,
// 2.0.1, 2.1; the file is named by each version's profile), or a folder of official OCA files
// (json_schema_dir). Either way the result is a map "Action.req" / "Action.conf" -> schema, with the
// schema's own ids removed (the validator assigns its own; ids like "urn:Name.req" break Ajv's URI
// resolution).
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Protocol } from '../config/schema.js';
import { PROTOCOLS } from '../ocpp/protocols.js';

export type SchemaKind = 'req' | 'conf';
export type SchemaMap = Map<string, Record<string, unknown>>;

export const schemaKey = (action: string, kind: SchemaKind): string => `${action}.${kind}`;

type Schema = Record<string, unknown>;

interface Erratum {
  readonly protocol: Protocol;
  readonly key: string;
  readonly why: string;
  readonly apply: (schema: Schema) => void;
}

/**
 * Where the bundled copies differ from the official OCA files, the official files win. Every row is
 * checked by test/schemas.test.ts against ../shared/ocpp-schemas: with the row the bundled schema gives
 * the official verdicts, without it it does not (so a row that a package update made moot shows up).
 */
export const BUNDLED_ERRATA: readonly Erratum[] = [
  {
    protocol: 'ocpp1.6',
    key: 'MeterValues.req',
    why: 'the official MeterValues.json lists unit "Hertz"; ocpp-rpc 2.2.1 omits it',
    apply: (schema) => {
      const unit = at(schema, ['properties', 'meterValue', 'items', 'properties', 'sampledValue', 'items', 'properties', 'unit']);
      const values = unit['enum'];
      if (Array.isArray(values) && !values.includes('Hertz')) values.push('Hertz');
    },
  },
  {
    protocol: 'ocpp1.6',
    key: 'MeterValues.req',
    why: 'the official MeterValues.json requires at least one meterValue and one sampledValue in each (minItems 1); ocpp-rpc 2.2.1 accepts empty arrays',
    apply: (schema) => {
      const meterValue = at(schema, ['properties', 'meterValue']);
      meterValue['minItems'] = 1;
      at(meterValue, ['items', 'properties', 'sampledValue'])['minItems'] = 1;
    },
  },
  {
    protocol: 'ocpp2.0.1',
    key: 'Get15118EVCertificate.conf',
    why: 'the official Get15118EVCertificateResponse.json allows exiResponse up to 7500 characters; ocpp-rpc 2.2.1 stops at 5600',
    apply: (schema) => {
      at(schema, ['properties', 'exiResponse'])['maxLength'] = 7500;
    },
  },
];

/** The object at `path`; an erratum whose target has moved is a loud error, not a silent no-op. */
function at(node: Schema, path: string[]): Schema {
  let cur: unknown = node;
  for (const p of path) cur = typeof cur === 'object' && cur !== null ? (cur as Schema)[p] : undefined;
  if (typeof cur !== 'object' || cur === null) throw new Error(`bundled schema erratum: nothing at ${path.join('/')}`);
  return cur as Schema;
}

function withoutIds(schema: Schema): Schema {
  const { $id: _a, id: _b, $schema: _c, ...rest } = schema;
  return structuredClone(rest);
}

/**
 * Action and kind from a bundled schema's id. ocpp-rpc writes "urn:Action.req" / "urn:Action.conf"
 * (1.6, 2.0.1) or "urn:ActionRequest" / "urn:ActionResponse" (2.1). A bare "urn:Action" is a message
 * that has no response (2.1 SEND, e.g. NotifyPeriodicEventStream) and is keyed as a request; the caller
 * checks that no response schema exists for it.
 */
function classifyBundledId(id: string): { action: string; kind: SchemaKind; bare: boolean } | undefined {
  const m = /^urn:([A-Za-z][A-Za-z0-9]*?)(\.req|\.conf|Request|Response)?$/.exec(id);
  if (m === null) return undefined;
  const action = m[1] as string;
  const suffix = m[2];
  if (suffix === undefined) return { action, kind: 'req', bare: true };
  return { action, kind: suffix === '.req' || suffix === 'Request' ? 'req' : 'conf', bare: false };
}

export interface BundledOptions {
  /** false = the package's schemas as shipped (for the test that shows each erratum is still needed). */
  readonly errata?: boolean;
}

/**
 * The schemas of one bundled list (`file` names it in errors). A schema whose id cannot be read as an
 * action and direction, or that names one twice, throws with the file and the id: never a silent skip.
 */
export function schemasFromList(file: string, list: unknown): SchemaMap {
  if (!Array.isArray(list)) throw new Error(`bundled schemas ${file}: not a list of schemas`);
  const out: SchemaMap = new Map();
  const bare: string[] = [];
  for (const schema of list as unknown[]) {
    if (typeof schema !== 'object' || schema === null) throw new Error(`bundled schemas ${file}: an entry is not a schema (${JSON.stringify(schema)})`);
    const id = String((schema as Schema)['$id'] ?? (schema as Schema)['id'] ?? '');
    const c = classifyBundledId(id);
    if (c === undefined) throw new Error(`bundled schemas ${file}: cannot tell which action and direction the schema with id "${id}" describes`);
    const key = schemaKey(c.action, c.kind);
    if (out.has(key)) throw new Error(`bundled schemas ${file}: a second schema for ${key} (id "${id}")`);
    out.set(key, withoutIds(schema as Schema));
    if (c.bare) bare.push(c.action);
  }
  for (const action of bare) {
    // A bare id is only unambiguous when the action has no response; otherwise it could be either.
    if (out.has(schemaKey(action, 'conf'))) throw new Error(`bundled schemas ${file}: cannot tell whether the schema with id "urn:${action}" is the request or the response of ${action}`);
  }
  return out;
}

/** Every schema of the version's bundled file (PROTOCOLS[protocol].schemas.bundledFile), errata applied. */
export function bundledSchemas(protocol: Protocol, options: BundledOptions = {}): SchemaMap {
  const file = PROTOCOLS[protocol].schemas.bundledFile;
  const out = schemasFromList(file, createRequire(import.meta.url)(file));
  if (options.errata !== false) {
    for (const e of BUNDLED_ERRATA) {
      if (e.protocol !== protocol) continue;
      const schema = out.get(e.key);
      if (schema === undefined) throw new Error(`bundled schema erratum for ${protocol} ${e.key}: ${file} has no such schema`);
      try {
        e.apply(schema);
      } catch (err) {
        throw new Error(`bundled schema erratum for ${protocol} ${e.key} (${file}): ${(err as Error).message}`);
      }
    }
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
