// The schemas of one OCPP version for the simulator: the gateway's bundled set (errata applied) and
// its validators (src/validation), shared by every simulated charge point of the version.
import { PROTOCOLS, type Protocol } from '../ocpp/protocols.js';
import { bundledSchemas, schemaKey, type SchemaKind, type SchemaMap } from '../validation/schema-source.js';
import { SchemaValidator } from '../validation/validator.js';
import { minimalInstance } from './minimal.js';

export class VersionSchemas {
  readonly protocol: Protocol;
  readonly #schemas: SchemaMap;
  /**
   * One validator per schema, compiled when first needed: a simulated CP uses a dozen actions, and
   * compiling all 181 schemas of 2.1 would add seconds to every start.
   */
  readonly #validators = new Map<string, SchemaValidator>();

  readonly #all: SchemaValidator | undefined;

  /** `all`: a validator of every schema of the version, compiled already (tests check every action). */
  constructor(protocol: Protocol, all?: SchemaValidator) {
    this.protocol = protocol;
    this.#schemas = bundledSchemas(protocol);
    this.#all = all;
  }

  /** Why `payload` does not fit the schema of `action`, or undefined when it does. */
  problem(action: string, kind: SchemaKind, payload: unknown): string | undefined {
    const key = schemaKey(action, kind);
    let validator = this.#all ?? this.#validators.get(key);
    if (validator === undefined) {
      const schema = this.#schemas.get(key);
      if (schema === undefined) return `${this.protocol} has no ${kind === 'req' ? 'request' : 'response'} schema for ${action}`;
      validator = new SchemaValidator(PROTOCOLS[this.protocol], new Map([[key, schema]]));
      this.#validators.set(key, validator);
    }
    const r = validator.validate(action, kind, payload);
    if (r.ok) return undefined;
    if ('unknownAction' in r) return `${this.protocol} has no schema for ${key}`;
    return `${r.failure.code} at ${r.failure.path || '/'}: ${r.failure.reason}`;
  }

  /** The smallest answer the response schema of `action` accepts; undefined for an action the version lacks. */
  minimalAnswer(action: string): Record<string, unknown> | undefined {
    const schema = this.#schemas.get(schemaKey(action, 'conf'));
    return schema === undefined ? undefined : (minimalInstance(schema) as Record<string, unknown>);
  }
}

const cache = new Map<Protocol, VersionSchemas>();

export function versionSchemas(protocol: Protocol): VersionSchemas {
  let v = cache.get(protocol);
  if (v === undefined) {
    v = new VersionSchemas(protocol);
    cache.set(protocol, v);
  }
  return v;
}
