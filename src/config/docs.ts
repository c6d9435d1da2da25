// Renders docs/configuration.md from the schema, so the reference cannot drift from the code.
import { z } from 'zod';
import { ENV_PREFIX } from './load.js';
import { configSchema } from './schema.js';

interface JsonSchemaNode {
  'x-type'?: string;
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchemaNode>;
  anyOf?: JsonSchemaNode[];
}

function typeOf(node: JsonSchemaNode): string {
  if (node['x-type'] !== undefined) return node['x-type'];
  if (node.enum) return node.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (node.anyOf) return node.anyOf.map(typeOf).join(' or ');
  return Array.isArray(node.type) ? node.type.join(' or ') : (node.type ?? 'any');
}

function rows(node: JsonSchemaNode, path: string[], out: string[]): void {
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const p = [...path, key];
    if (child.properties) {
      out.push('', `## \`${p.join('.')}\``, '', child.description ?? '', '', '| key | type | default | environment | meaning |', '|---|---|---|---|---|');
      rows(child, p, out);
      continue;
    }
    const def = JSON.stringify(child.default ?? '');
    const env = ENV_PREFIX + p.map((s) => s.toUpperCase()).join('__');
    out.push(`| \`${p.join('.')}\` | ${typeOf(child)} | \`${def}\` | \`${env}\` | ${(child.description ?? '').replace(/\|/g, '\\|')} |`);
  }
}

export function renderConfigDocs(): string {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchemaNode;
  const top: string[] = [];
  const sections: string[] = [];
  const topLevel: JsonSchemaNode = { properties: {} };
  const nested: JsonSchemaNode = { properties: {} };
  for (const [k, v] of Object.entries(schema.properties ?? {})) ((v.properties ? nested : topLevel).properties as Record<string, JsonSchemaNode>)[k] = v;
  rows(nested, [], sections);
  rows(topLevel, [], top);
  return [
    '# Configuration reference',
    '',
    '<!-- Generated from src/config/schema.ts by `npm run docs:config`; test/docs.test.ts fails when it is stale. -->',
    '',
    'Sources, later wins: defaults < config file (`--config FILE`, YAML or JSON) < environment < flags',
    '(`--ocpp-port`, …, and `--set key.path=value` for any key). An unknown key, a bad value, a rule between',
    'keys, a URL or file the gateway could not use, or two listeners on one port stops the start with one',
    'line per problem (all of them at once) naming the key and where its value came from (config file,',
    'environment variable or flag); `ocpp-gateway check-config` runs the same checks and prints the same',
    'lines (see [operations.md](operations.md#checking-a-configuration)).',
    'Durations: `500ms`, `30s`, `5m`, `1h` or a number of milliseconds. Sizes: `256KiB`, `1MiB`, `10kB` or a',
    'number of bytes. Lists: a YAML/JSON list, or a comma-separated string in the environment and flags.',
    '',
    '## Top level',
    '',
    '| key | type | default | environment | meaning |',
    '|---|---|---|---|---|',
    ...top,
    ...sections,
    '',
  ].join('\n');
}
