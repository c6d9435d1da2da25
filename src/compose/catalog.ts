// What the gateway knows of each enabled OCPP version before any listener opens: the compiled
// message checks (a bad json_schema_dir stops the start), the actions a CALL can name (the API's list
// and the metric labels), and the request schemas the API derives its CALL form from.
import type { Config, Protocol } from '../config/schema.js';
import { StartupError } from '../errors.js';
import { configuredSchemas, MessageChecks } from '../validation/checks.js';
import { schemaKey, type SchemaMap } from '../validation/schema-source.js';
import type { ComposeContext } from './context.js';

export interface Catalog {
  readonly checks: MessageChecks;
  /** The actions a CALL can name per protocol (those with a schema). */
  actionsOf(protocol: Protocol): string[];
  /** The request schema of an action; read on first use. */
  requestSchema(protocol: Protocol, action: string): Record<string, unknown> | undefined;
}

/** What the API reads of the catalog: the CALL list and the CALL form's schemas. */
export type ApiCatalog = Pick<Catalog, 'actionsOf' | 'requestSchema'>;

/**
 * The API's view of the schemas without compiling them: the workers' primary (ocpp.workers > 1)
 * serves the API but checks no message, so it reads the schema sets and skips the ~2 s and the
 * memory of compiling them; each worker compiles its own, and a bad json_schema_dir stops the start
 * there. The action list is the set's request schemas, as SchemaValidator.actions gives it.
 */
export function schemaCatalog(config: Readonly<Config>): ApiCatalog {
  const schemaMaps = new Map<Protocol, SchemaMap>();
  const schemasOf = (protocol: Protocol): SchemaMap => {
    let map = schemaMaps.get(protocol);
    if (map === undefined) schemaMaps.set(protocol, (map = configuredSchemas(config as Config, protocol)));
    return map;
  };
  const actionLists = new Map<Protocol, string[]>();
  const actionsOf = (protocol: Protocol): string[] => {
    let list = actionLists.get(protocol);
    if (list === undefined) {
      list = [...schemasOf(protocol).keys()].filter((k) => k.endsWith('.req')).map((k) => k.slice(0, -4)).sort();
      actionLists.set(protocol, list);
    }
    return list;
  };
  const requestSchema = (protocol: Protocol, action: string): Record<string, unknown> | undefined => schemasOf(protocol).get(schemaKey(action, 'req'));
  return { actionsOf, requestSchema };
}

export function buildCatalog({ config, log }: ComposeContext): Catalog {
  let checks: MessageChecks;
  try {
    checks = new MessageChecks(config, { log });
  } catch (err) {
    throw new StartupError((err as Error).message);
  }
  return { checks, ...schemaCatalog(config) };
}
