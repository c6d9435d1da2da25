// Configuration sources, later wins: schema defaults < file (YAML/JSON) < environment (OCPP_GW_*) <
// flags. The result is validated once and frozen; every problem is reported as one line naming the key
// and the source of its value. Single-key errors and the rules between keys come in one pass: after a
// key fails, the rules run on a copy with the failed keys at their defaults. [SPEC §2]
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { configSchema, configShape, type Config } from './schema.js';
import { ConfigOrigins, keyOf, mentions } from './origins.js';

export const ENV_PREFIX = 'OCPP_GW_';

export interface ConfigSources {
  /** Path of a YAML or JSON file. */
  file?: string | undefined;
  /** Usually process.env; only OCPP_GW_* variables are read. */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Flat key paths ("mqtt.url") from CLI flags and --set, applied last; the third element is the flag
   * as the user wrote it ("--mqtt-url"), for messages (default "--set <key>").
   */
  overrides?: ReadonlyArray<readonly [key: string, value: unknown, flag?: string]>;
}

export type ConfigResult =
  | { ok: true; config: Readonly<Config>; warnings: string[]; origins: ConfigOrigins }
  | {
    ok: false;
    errors: string[];
    /**
     * The configuration with every failed key at its default (absent when the file itself could not
     * be read), so that later checks (startupProblems) can still run in the same pass.
     */
    fallback?: { config: Readonly<Config>; origins: ConfigOrigins };
  };

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

export function envToTree(env: Readonly<Record<string, string | undefined>>, origins?: ConfigOrigins): Tree {
  const tree: Tree = {};
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || value === undefined) continue;
    const path = name.slice(ENV_PREFIX.length).split('__').map((p) => p.toLowerCase()).join('.');
    setPath(tree, path, value);
    origins?.set(path, { kind: 'env', variable: name });
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
  const origins = new ConfigOrigins();
  let tree: Tree = {};
  if (sources.file !== undefined) {
    const fromFile = readConfigFile(sources.file);
    if (typeof fromFile === 'string') return { ok: false, errors: [fromFile] };
    tree = fromFile;
    origins.setTree(tree, { kind: 'file', file: sources.file });
  }
  if (sources.env) tree = deepMerge(tree, envToTree(sources.env, origins));
  const flags: Tree = {};
  for (const [path, value, flag] of sources.overrides ?? []) {
    setPath(flags, path, value);
    origins.set(path, { kind: 'flag', flag: flag ?? `--set ${path}` });
  }
  tree = deepMerge(tree, flags);

  const parsed = configSchema.safeParse(tree);
  if (parsed.success) {
    const warnings: string[] = [];
    const embeddedTouched = isTree(tree['mqtt']) && isTree((tree['mqtt'] as Tree)['embedded']);
    if (parsed.data.mqtt.url !== '' && embeddedTouched) {
      warnings.push('mqtt.embedded.* is ignored because mqtt.url selects an external broker');
    }
    return { ok: true, config: deepFreeze(parsed.data), warnings, origins };
  }

  // Single-key errors first; then the same input with those keys removed (their defaults apply), until
  // every key parses, and the rules between keys on that. A rule that names a key already reported
  // is left out: it would only repeat the first error.
  const errors: string[] = [];
  const failed: string[] = [];
  let rest = structuredClone(tree);
  let shaped: Config | undefined;
  let stuck = false;
  for (let round = 0; round < 8 && !stuck; round++) {
    const attempt = configShape.safeParse(rest);
    if (attempt.success) {
      shaped = attempt.data;
      break;
    }
    for (const issue of attempt.error.issues) {
      const lines = formatIssue(issue);
      errors.push(...lines.map((l) => origins.annotate(l)));
      failed.push(...lines.map(keyOf).filter((k) => k !== undefined));
      const paths = issue.code === 'unrecognized_keys' ? issue.keys.map((k) => [...issue.path, k]) : [issue.path];
      for (const path of paths) if (!deletePath(rest, path.map(String))) stuck = true;
    }
  }
  if (shaped === undefined) return { ok: false, errors };
  const ruled = configSchema.safeParse(rest);
  if (!ruled.success) {
    for (const line of ruled.error.issues.flatMap(formatIssue)) {
      if (!failed.some((k) => mentions(line, k))) errors.push(origins.annotate(line));
    }
  }
  return { ok: false, errors, fallback: { config: deepFreeze(shaped), origins } };
}

/** Removes the value at `path` (or the nearest mapping entry above it); false when there is none. */
function deletePath(tree: Tree, path: string[]): boolean {
  let node = tree;
  for (const [i, part] of path.entries()) {
    if (!Object.hasOwn(node, part)) return false;
    const next = node[part];
    if (i === path.length - 1 || !isTree(next)) {
      delete node[part];
      return true;
    }
    node = next;
  }
  return false;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
