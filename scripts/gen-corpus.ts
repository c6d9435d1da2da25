// Regenerates test/fixtures/ocpp16-valid.json: one full, valid request and response per OCPP 1.6
// action, built from the bundled schemas. Hand-written examples in the file's "curated" section are kept.
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { bundledSchemas } from '../src/validation/schema-source.js';
import { sample } from '../test/support/sample.js';

const file = new URL('../test/fixtures/ocpp16-valid.json', import.meta.url);
const previous = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { curated?: unknown }) : {};
const generated: Record<string, { req: unknown; conf: unknown }> = {};
const schemas = bundledSchemas('ocpp1.6');
const actions = [...new Set([...schemas.keys()].map((k) => k.replace(/\.(req|conf)$/, '')))].sort();
for (const a of actions) generated[a] = { req: sample(schemas.get(`${a}.req`) ?? {}), conf: sample(schemas.get(`${a}.conf`) ?? {}) };
writeFileSync(file, `${JSON.stringify({ generated, curated: previous.curated ?? {} }, null, 2)}\n`);
console.log(`${actions.length} actions`);
