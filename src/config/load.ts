// Configuration sources, later wins: schema defaults < file (YAML/JSON) < environment (OCPP_GW_*) <
// flags. The result is validated once and frozen; every problem is reported as one line naming the key.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { configSchema, type Config } from './schema.js';

export const ENV_PREFIX = 'OCPP_GW_';

export interface ConfigSources {
  /** Path of a YAML or JSON file. */
  file?: string | undefined;
  /** Usually process.env; only OCPP_GW_* variables are read. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Flat key paths ("mqtt.url") from CLI flags and --set, applied last. */
  overrides?: ReadonlyArray<readonly [string, unknown]>;
}

export type ConfigResult =
  | { ok: true; config: Readonly<Config>; warnings: string[] }
  | { ok: false; errors: string[] };

type Tree = Record<string, unknown>;

function isTree(v: unknown): v is Tree {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Sets a dotted key path in a nested object, creating levels as needed. */
export function setPath(tree: Tree, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = tree;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (isTree(next)) node = next;
    else {
      const created: Tree = {};
      node[part] = created;
      node = created;
    }
  }
  node[parts[parts.length - 1] as string] = value;
}

function deepMerge(base: Tree, over: Tree): Tree {
  const out: Tree = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isTree(b) && isTree(v) ? deepMerge(b, v) : v;
  }
  return out;
}

export function envToTree(env: Readonly<Record<string, string | undefined>>): Tree {
  const tree: Tree = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined) continue;
    const path = name.slice(ENV_PREFIX.length).split('__').map((p) => p.toLowerCase()).join('.');
    setPath(tree, path, value);
  }
  return tree;
}

function readConfigFile(file: string): Tree | string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return `config file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
  }
  try {
    const parsed: unknown = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
    if (parsed === null || parsed === undefined) return {};
    if (!isTree(parsed)) return `config file ${file}: the top level must be a mapping of keys`;
    return parsed;
  } catch (err) {
    return `config file ${file}: not valid ${file.endsWith('.json') ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`;
  }
}

export function formatIssue(issue: z.core.$ZodIssue): string[] {
  const at = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys.map((k) => `${at === '' ? k : `${at}.${k}`}: unknown key`);
  }
  if (issue.code === 'invalid_union' || issue.code === 'invalid_type') {
    return [`${at}: wrong type (${issue.message.replace(/^Invalid input: /, '')})`];
  }
  return [`${at}: ${issue.message}`];
}

export function loadConfig(sources: ConfigSources): ConfigResult {
  let tree: Tree = {};
  if (sources.file !== undefined) {
    const fromFile = readConfigFile(sources.file);
    if (typeof fromFile === 'string') return { ok: false, errors: [fromFile] };
    tree = fromFile;
  }
  if (sources.env) tree = deepMerge(tree, envToTree(sources.env));
  const flags: Tree = {};
  for (const [path, value] of sources.overrides ?? []) setPath(flags, path, value);
  tree = deepMerge(tree, flags);

  const parsed = configSchema.safeParse(tree);
  if (!parsed.success) return { ok: false, errors: parsed.error.issues.flatMap(formatIssue) };

  const warnings: string[] = [];
  const embeddedTouched = isTree(tree['mqtt']) && isTree((tree['mqtt'] as Tree)['embedded']);
  if (parsed.data.mqtt.url !== '' && embeddedTouched) {
    warnings.push('mqtt.embedded.* is ignored because mqtt.url selects an external broker');
  }
  return { ok: true, config: deepFreeze(parsed.data), warnings };
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
