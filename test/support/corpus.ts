// The OCPP 1.6 test corpus: valid payloads from test/fixtures/ocpp16-valid.json and invalid
// variants derived from them (test/support/sample.ts), each with the verdict it must get.
import { readFileSync } from 'node:fs';
import type { SchemaKind, SchemaMap } from '../../src/validation/schema-source.js';
import { mutations, type Mutation } from './sample.js';

export interface CorpusCase {
  readonly name: string;
  readonly action: string;
  readonly kind: SchemaKind;
  readonly payload: unknown;
  /** undefined = valid. */
  readonly role: Mutation['role'] | undefined;
}

interface CorpusFile {
  generated: Record<string, { req: Record<string, unknown>; conf: Record<string, unknown> }>;
  curated: Record<string, { action: string; kind: SchemaKind; payload: unknown }>;
}

export function loadCorpus(schemas: SchemaMap): CorpusCase[] {
  const file = JSON.parse(readFileSync(new URL('../fixtures/ocpp16-valid.json', import.meta.url), 'utf8')) as CorpusFile;
  const cases: CorpusCase[] = [];
  for (const [action, pair] of Object.entries(file.generated)) {
    for (const kind of ['req', 'conf'] as const) {
      cases.push({ name: `${action}.${kind} full`, action, kind, payload: pair[kind], role: undefined });
      for (const m of mutations(schemas.get(`${action}.${kind}`) ?? {}, pair[kind])) {
        cases.push({ name: `${action}.${kind} ${m.description}`, action, kind, payload: m.payload, role: m.role });
      }
    }
  }
  for (const [name, c] of Object.entries(file.curated)) cases.push({ name, action: c.action, kind: c.kind, payload: c.payload, role: undefined });
  return cases;
}
