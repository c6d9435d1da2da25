// Which messages are checked: message_format_checking (direction), exemptions per action and per
// cpId, and log_only. Validators are compiled once, at startup, per protocol. [SPEC §6]
import type { Config, Protocol } from '../config/schema.js';
import { PROTOCOLS } from '../ocpp/protocols.js';
import { bundledSchemas, directorySchemas, type SchemaKind } from './schema-source.js';
import { SchemaValidator, type ValidationResult } from './validator.js';

export type Direction = 'upstream' | 'dnstream';

/** What a channel asks; undefined means "not checked" (direction off, or exempt). */
export interface PayloadChecker {
  readonly logOnly: boolean;
  check(direction: Direction, action: string, kind: SchemaKind, payload: unknown): ValidationResult | undefined;
}

export class MessageChecks {
  readonly #validators = new Map<Protocol, SchemaValidator>();
  readonly #directions: ReadonlySet<Direction>;
  readonly #exemptActions: ReadonlySet<string>;
  readonly #exemptCpIds: ReadonlySet<string>;
  readonly #logOnly: boolean;

  constructor(config: Readonly<Config>) {
    const mode = config.message_format_checking;
    this.#directions = new Set<Direction>(mode === 'all' ? ['upstream', 'dnstream'] : mode === 'disable' ? [] : [mode]);
    this.#exemptActions = new Set(config.validation.exempt_actions);
    this.#exemptCpIds = new Set(config.validation.exempt_cp_ids);
    this.#logOnly = config.validation.log_only;
    if (this.#directions.size === 0) return;
    for (const protocol of config.ocpp.protocols as Protocol[]) {
      // json_schema_dir holds official OCPP 1.6 files, as in EMQX; other versions use the bundled set.
      const schemas = protocol === 'ocpp1.6' && config.json_schema_dir !== '' ? directorySchemas(config.json_schema_dir, config.json_schema_id_prefix) : bundledSchemas(protocol);
      this.#validators.set(protocol, new SchemaValidator(PROTOCOLS[protocol], schemas));
    }
  }

  get enabled(): boolean {
    return this.#directions.size > 0;
  }

  validator(protocol: Protocol): SchemaValidator | undefined {
    return this.#validators.get(protocol);
  }

  /** The checker for one connection, or undefined when nothing of it is checked. */
  forConnection(protocol: Protocol, cpId: string): PayloadChecker | undefined {
    const validator = this.#validators.get(protocol);
    if (validator === undefined || this.#exemptCpIds.has(cpId)) return undefined;
    const directions = this.#directions;
    const exempt = this.#exemptActions;
    return {
      logOnly: this.#logOnly,
      check: (direction, action, kind, payload) => (directions.has(direction) && !exempt.has(action) ? validator.validate(action, kind, payload) : undefined),
    };
  }
}
