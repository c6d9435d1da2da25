// What the gateway knows of each enabled OCPP version before any listener opens: the compiled
// message checks (a bad json_schema_dir stops the start), the actions a CALL can name (the API's list
// and the metric labels), and the request schemas the API derives its CALL form from.
import type { Config, Protocol } from '../config/schema.js';
import { StartupError } from '../errors.js';
import { configuredSchemas, MessageChecks } from '../validation/checks.js';
import { bundledSchemas, schemaKey, type SchemaMap } from '../validation/schema-source.js';
import type { ComposeContext } from './context.js';

export interface Catalog {
  readonly checks: MessageChecks;
  /** The actions a CALL can name per protocol (those with a schema). */
  actionsOf(protocol: Protocol): string[];
  /** The request schema of an action; read on first use. */
  requestSchema(protocol: Protocol, action: string): Record<string, unknown> | undefined;
}

export function buildCatalog({ config, log }: ComposeContext): Catalog {
  let checks: MessageChecks;
  try {
    checks = new MessageChecks(config, { log });
  } catch (err) {
    throw new StartupError((err as Error).message);
  }
  const actionLists = new Map<Protocol, string[]>();
  const actionsOf = (protocol: Protocol): string[] => {
    let list = actionLists.get(protocol);
    if (list === undefined) {
      list = checks.validator(protocol)?.actions('req') ?? [...new Set([...bundledSchemas(protocol).keys()].filter((k) => k.endsWith('.req')).map((k) => k.slice(0, -4)))].sort();
      actionLists.set(protocol, list);
    }
    return list;
  };
  const schemaMaps = new Map<Protocol, SchemaMap>();
  const requestSchema = (protocol: Protocol, action: string): Record<string, unknown> | undefined => {
    let map = schemaMaps.get(protocol);
    if (map === undefined) schemaMaps.set(protocol, (map = configuredSchemas(config as Config, protocol)));
    return map.get(schemaKey(action, 'req'));
  };
  return { checks, actionsOf, requestSchema };
}
