// Which messages are checked: message_format_checking (direction), exemptions per action and per
// cpId, and log_only. Validators are compiled once, at startup, per protocol (the bundled sets once per
// process). [SPEC §6]
import type { Config, Protocol } from '../config/schema.js';
import { PROTOCOLS } from '../ocpp/protocols.js';
import { bundledSchemas, directorySchemas, type SchemaKind, type SchemaMap } from './schema-source.js';
import { SchemaValidator, type ValidationResult } from './validator.js';

export type Direction = 'upstream' | 'dnstream';

/** What a channel asks; undefined means "not checked" (direction off, or exempt). */
export interface PayloadChecker {
  readonly logOnly: boolean;
  check(direction: Direction, action: string, kind: SchemaKind, payload: unknown): ValidationResult | undefined;
}

/**
 * The schemas one version is checked against. json_schema_dir holds official OCPP 1.6 files, as in
 * EMQX, and replaces the bundled 1.6 set only; 2.0.1 and 2.1 always use their bundled sets.
 */
export function configuredSchemas(config: Readonly<Config>, protocol: Protocol): SchemaMap {
  return fromSchemaDir(protocol, config) ? directorySchemas(config.json_schema_dir, config.json_schema_id_prefix) : bundledSchemas(protocol);
}

export interface MessageChecksOptions {
  /** For `validation.schemas_loaded`, once per enabled version. */
  readonly log?: { info(fields: Record<string, unknown>, event: string): void };
  /** Where a version's schemas come from; tests replace it. Default: configuredSchemas. */
  readonly schemas?: (protocol: Protocol) => SchemaMap;
}

/** Validators of the bundled schema sets, one per process, each schema compiled on its first use. */
const BUNDLED_VALIDATORS = new Map<Protocol, SchemaValidator>();

export class MessageChecks {
  readonly #validators = new Map<Protocol, SchemaValidator>();
  readonly #directions: ReadonlySet<Direction>;
  readonly #exemptActions: ReadonlySet<string>;
  readonly #exemptCpIds: ReadonlySet<string>;
  readonly #logOnly: boolean;

  /** Throws (one line, naming the version or json_schema_dir) when a version cannot be checked. */
  constructor(config: Readonly<Config>, options: MessageChecksOptions = {}) {
    const mode = config.message_format_checking;
    this.#directions = new Set<Direction>(mode === 'all' ? ['upstream', 'dnstream'] : mode === 'disable' ? [] : [mode]);
    this.#exemptActions = new Set(config.validation.exempt_actions);
    this.#exemptCpIds = new Set(config.validation.exempt_cp_ids);
    this.#logOnly = config.validation.log_only;
    if (this.#directions.size === 0) return;
    const load = options.schemas ?? ((protocol: Protocol) => configuredSchemas(config, protocol));
    for (const protocol of config.ocpp.protocols as Protocol[]) {
      // The bundled sets never change in a process: their compiled validators are shared by every
      // gateway it starts (compiling the three versions costs seconds of CPU).
      const shared = options.schemas === undefined && !fromSchemaDir(protocol, config) ? BUNDLED_VALIDATORS.get(protocol) : undefined;
      if (shared !== undefined) {
        this.#validators.set(protocol, shared);
        options.log?.info({ protocol, schemas: shared.size }, 'validation.schemas_loaded');
        continue;
      }
      const schemas = load(protocol);
      // Without schemas every CALL of that version would be answered NotImplemented: refuse to start.
      if (schemas.size === 0) {
        const source = fromSchemaDir(protocol, config) ? `json_schema_dir ${config.json_schema_dir}` : PROTOCOLS[protocol].schemas.bundledFile;
        throw new Error(`message_format_checking: no JSON schemas for ${protocol} (from ${source}); remove ${protocol} from ocpp.protocols or set message_format_checking: disable`);
      }
      // The bundled sets compile (test/validation.test.ts compiles every schema of them): compiled on
      // first use. An operator's json_schema_dir, or schemas handed in, compile now, so that a bad file
      // stops the start with its name instead of failing on the first message of its action.
      const bundled = options.schemas === undefined && !fromSchemaDir(protocol, config);
      const validator = new SchemaValidator(PROTOCOLS[protocol], schemas, { lazy: bundled });
      if (bundled) BUNDLED_VALIDATORS.set(protocol, validator);
      this.#validators.set(protocol, validator);
      options.log?.info({ protocol, schemas: validator.size }, 'validation.schemas_loaded');
    }
  }

  get enabled(): boolean {
    return this.#directions.size > 0;
  }

  validator(protocol: Protocol): SchemaValidator | undefined {
    return this.#validators.get(protocol);
  }

  /**
   * The checker for one connection, or undefined when nothing of it is checked. It depends on the
   * protocol only (exemptions are per cpId: those get none), so connections share one per protocol.
   */
  forConnection(protocol: Protocol, cpId: string): PayloadChecker | undefined {
    const validator = this.#validators.get(protocol);
    if (validator === undefined || this.#exemptCpIds.has(cpId)) return undefined;
    let checker = this.#checkers.get(protocol);
    if (checker === undefined) {
      const directions = this.#directions;
      const exempt = this.#exemptActions;
      checker = Object.freeze({
        logOnly: this.#logOnly,
        check: (direction: Direction, action: string, kind: SchemaKind, payload: unknown) => (directions.has(direction) && !exempt.has(action) ? validator.validate(action, kind, payload) : undefined),
      });
      this.#checkers.set(protocol, checker);
    }
    return checker;
  }

  readonly #checkers = new Map<Protocol, PayloadChecker>();
}

/** json_schema_dir (official files in a folder, as in EMQX) replaces the set of the versions whose profile says so. */
function fromSchemaDir(protocol: Protocol, config: Readonly<Config>): boolean {
  return config.json_schema_dir !== '' && PROTOCOLS[protocol].schemas.fromJsonSchemaDir;
}
