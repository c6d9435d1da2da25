// Payload validation with Ajv, each schema compiled once (at startup, or on the first message of its
// action when the set is known to compile — see `lazy`); a failure is reported as the OCPP error code for
// the connection's version, the first failing path and the validator's reason.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsImport from 'ajv-formats';
import type { ProtocolProfile } from '../ocpp/protocols.js';
import { cutText } from '../ocpp/quote.js';
import { codeForKeyword } from './error-codes.js';
import { DATE_TIME_FORMAT } from './date-time.js';
import { schemaKey, type SchemaKind, type SchemaMap } from './schema-source.js';

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsImport as unknown as (ajv: Ajv) => Ajv;

export interface ValidationFailure {
  /** OCPP error code in the connection's spelling. */
  readonly code: string;
  readonly keyword: string;
  /** JSON pointer of the first failing value ("" = the payload itself). */
  readonly path: string;
  readonly reason: string;
}

export type ValidationResult = { ok: true } | { ok: false; failure: ValidationFailure } | { ok: false; unknownAction: true };

/**
 * Longest property name quoted from a payload. The schemas' own names are all far shorter; a name the
 * charge point made up may be as long as the frame, and it appears in the CALLERROR (path and reason),
 * errorDetails, the log line and event/rejected. [SPEC §8]
 */
const MAX_QUOTED_NAME = 64;

/** A property name as one JSON-pointer token (RFC 6901: "~" -> "~0", "/" -> "~1"), cut to MAX_QUOTED_NAME. */
function pointerToken(name: string): string {
  return cutText(name, MAX_QUOTED_NAME).replaceAll('~', '~0').replaceAll('/', '~1');
}

function describe(e: ErrorObject): { path: string; reason: string } {
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    return { path: `${e.instancePath}/${pointerToken(missing)}`, reason: `required property "${missing}" is missing` };
  }
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    return { path: `${e.instancePath}/${pointerToken(extra)}`, reason: `property ${JSON.stringify(cutText(extra, MAX_QUOTED_NAME))} is not allowed` };
  }
  if (e.keyword === 'enum') {
    return { path: e.instancePath, reason: `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}` };
  }
  return { path: e.instancePath, reason: e.message ?? e.keyword };
}

/** The compiled validators of one protocol version. */
const VALID: ValidationResult = Object.freeze({ ok: true });

export interface SchemaValidatorOptions {
  /**
   * Compile each schema on the first message of its action instead of all at construction. For sets
   * known to compile (the bundled ones, every schema of which the test suite compiles): compiling the
   * three bundled versions costs ~1.5 s of CPU and ~50 MiB of RSS per process (~110 MiB with the
   * shipped `--max-semi-space-size=64`, whose young generation grows with the compiler's garbage),
   * paid once per worker, while a fleet uses a few dozen of the ~400 schemas. The first message of an
   * action in a process pays its compile (milliseconds) once.
   */
  readonly lazy?: boolean;
}

export class SchemaValidator {
  readonly #schemas: SchemaMap;
  /** Compiled validators by kind, then action: the lookup of every message builds no key string. */
  readonly #byKind: Record<SchemaKind, Map<string, ValidateFunction>> = { req: new Map(), conf: new Map() };
  readonly #spec: ProtocolProfile;
  readonly #ajv: Ajv;

  constructor(spec: ProtocolProfile, schemas: SchemaMap, options: SchemaValidatorOptions = {}) {
    this.#spec = spec;
    this.#schemas = schemas;
    this.#ajv = new Ajv({ strict: false, allErrors: false, validateSchema: false, messages: true });
    addFormats(this.#ajv);
    this.#ajv.addFormat('date-time', DATE_TIME_FORMAT);
    if (options.lazy !== true) for (const key of schemas.keys()) this.#compile(key);
  }

  /** Throws (one line naming the schema) when it does not compile. */
  #compile(key: string): ValidateFunction | undefined {
    const dot = key.lastIndexOf('.');
    const byAction = this.#byKind[key.slice(dot + 1) as SchemaKind];
    if (byAction === undefined) return undefined;
    let fn = byAction.get(key.slice(0, dot));
    if (fn !== undefined) return fn;
    try {
      fn = this.#ajv.compile({ ...this.#schemas.get(key), $id: `ocpp-gateway:${this.#spec.name}:${key}` });
    } catch (err) {
      throw new Error(`schema ${key} for ${this.#spec.name} does not compile: ${(err as Error).message}`);
    }
    byAction.set(key.slice(0, dot), fn);
    return fn;
  }

  /** Schemas in the set (compiled or not). */
  get size(): number {
    return this.#schemas.size;
  }

  /** Schemas compiled so far. */
  get compiled(): number {
    return this.#byKind.req.size + this.#byKind.conf.size;
  }

  actions(kind: SchemaKind): string[] {
    const suffix = `.${kind}`;
    return [...this.#schemas.keys()].filter((k) => k.endsWith(suffix)).map((k) => k.slice(0, -suffix.length)).sort();
  }

  validate(action: string, kind: SchemaKind, payload: unknown): ValidationResult {
    const fn = this.#byKind[kind].get(action) ?? (this.#schemas.has(schemaKey(action, kind)) ? this.#compile(schemaKey(action, kind)) : undefined);
    if (fn === undefined) return { ok: false, unknownAction: true };
    if (fn(payload)) return VALID;
    const first = fn.errors?.[0];
    if (first === undefined) return { ok: false, failure: { code: this.#spec.codes.formation, keyword: 'unknown', path: '', reason: 'invalid' } };
    const { path, reason } = describe(first);
    return { ok: false, failure: { code: codeForKeyword(first.keyword, this.#spec.codes), keyword: first.keyword, path, reason } };
  }
}
