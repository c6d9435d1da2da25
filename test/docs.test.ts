// Docs that must match the code.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { API_REFUSALS, CLOSE_REASONS, CONNECTION_DROPS, GATEWAY_ERRORS, REJECTED_REASONS, UPGRADE_REFUSALS } from '../src/errors.js';
import { renderConfigDocs } from '../src/config/docs.js';

const doc = (name: string) => readFileSync(new URL(`../docs/${name}`, import.meta.url), 'utf8');

function row(text: string, id: string): string | undefined {
  return text.split('\n').find((l) => l.startsWith(`| \`${id}\` |`));
}

test('docs/errors.md lists every registry id with its code', () => {
  const text = doc('errors.md');
  for (const [id, r] of Object.entries(UPGRADE_REFUSALS)) assert.match(row(text, id) ?? '', new RegExp(`\\| ${r.status} \\|`), id);
  for (const [id, r] of Object.entries(API_REFUSALS)) assert.match(row(text, id) ?? '', new RegExp(`\\| ${r.status} \\|`), id);
  for (const [id, r] of Object.entries(CLOSE_REASONS)) assert.match(row(text, id) ?? '', r.code === null ? /\(the CP's\)/ : new RegExp(`\\| ${r.code} \\|`), id);
  for (const id of [...Object.keys(GATEWAY_ERRORS), ...Object.keys(REJECTED_REASONS)]) assert.ok(row(text, id), id);
  for (const id of Object.keys(CONNECTION_DROPS)) assert.match(row(text, id) ?? '', /\| closed \|/, id);
  // and nothing documented that the registry does not have
  const all = new Set([...Object.keys(UPGRADE_REFUSALS), ...Object.keys(API_REFUSALS), ...Object.keys(CLOSE_REASONS), ...Object.keys(GATEWAY_ERRORS), ...Object.keys(REJECTED_REASONS), ...Object.keys(CONNECTION_DROPS)]);
  for (const m of text.matchAll(/^\| `([a-z_0-9]+)` \|/gm)) assert.ok(all.has(m[1] as string), `documented but not in src/errors.ts: ${m[1]}`);
});

test('docs/configuration.md is generated from the schema (run npm run docs:config)', () => {
  assert.equal(doc('configuration.md'), renderConfigDocs());
});
