// @ts-check
// What the example CSMS answers to a charge point's CALL. The common actions have hand-written
// answers; every other action of the version gets the smallest payload its response schema accepts
// (required properties only, the first value of each enum), read from the schema files that ship
// with the ocpp-rpc package. Replace the hand-written ones with your own business rules.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** The schema file of each OCPP version (ids "urn:Action.conf" in 1.6/2.0.1, "urn:ActionResponse" in 2.1). */
export const SCHEMA_FILES = {
  'ocpp1.6': 'ocpp-rpc/lib/schemas/ocpp1_6.json',
  'ocpp2.0.1': 'ocpp-rpc/lib/schemas/ocpp2_0_1.json',
  'ocpp2.1': 'ocpp-rpc/lib/schemas/ocpp2_1.json',
};

/** @typedef {Record<string, any>} Json */
/** @typedef {keyof typeof SCHEMA_FILES} Protocol */

/** @type {Map<string, Map<string, Json>>} */
const responseSchemas = new Map();

/**
 * The response schema of every action of `protocol`, by action name.
 * @param {Protocol} protocol
 * @returns {Map<string, Json>}
 */
export function responseSchemasOf(protocol) {
  let byAction = responseSchemas.get(protocol);
  if (byAction === undefined) {
    byAction = new Map();
    for (const schema of /** @type {Json[]} */ (require(SCHEMA_FILES[protocol]))) {
      const m = /^urn:(\w+?)(?:\.conf|Response)$/.exec(String(schema.$id ?? schema.id ?? ''));
      if (m) byAction.set(/** @type {string} */ (m[1]), schema);
    }
    responseSchemas.set(protocol, byAction);
  }
  return byAction;
}

/**
 * The smallest value `schema` accepts. The OCPP schemas only use type, properties, required, enum,
 * items/minItems, minimum, maxLength, format and "#/definitions/…" references.
 * @param {Json} schema
 * @param {Json} root the schema file's top level, where references point
 * @returns {unknown}
 */
export function minimal(schema, root = schema) {
  if (typeof schema.$ref === 'string') return minimal(root.definitions[schema.$ref.replace('#/definitions/', '')], root);
  if (Array.isArray(schema.enum)) return schema.enum[0];
  switch (schema.type) {
    case 'object':
      return Object.fromEntries((schema.required ?? []).map((/** @type {string} */ name) => [name, minimal(schema.properties[name], root)]));
    case 'array':
      return Array.from({ length: schema.minItems ?? 0 }, () => minimal(schema.items, root));
    case 'string':
      if (schema.format === 'date-time') return new Date().toISOString();
      if (schema.format === 'uri') return 'https://example.invalid/';
      return 'x'.repeat(schema.minLength ?? 0);
    case 'integer':
    case 'number':
      return Math.ceil(schema.minimum ?? 0);
    case 'boolean':
      return false;
    default:
      return {};
  }
}

/**
 * The business rules. `ctx` carries what the CSMS decided at start (heartbeat interval) and the
 * transaction counter. Every function gets the CP's request payload.
 * @typedef {{ heartbeatInterval: number, nextTransactionId: () => number }} Context
 * @typedef {(payload: Json, ctx: Context) => Json} Rule
 */

const now = () => new Date().toISOString();

/** @type {Record<string, Rule>} */
const OCPP16 = {
  BootNotification: (_p, ctx) => ({ status: 'Accepted', currentTime: now(), interval: ctx.heartbeatInterval }),
  Heartbeat: () => ({ currentTime: now() }),
  Authorize: () => ({ idTagInfo: { status: 'Accepted' } }),
  StartTransaction: (_p, ctx) => ({ transactionId: ctx.nextTransactionId(), idTagInfo: { status: 'Accepted' } }),
  StopTransaction: (p) => (p.idTag !== undefined ? { idTagInfo: { status: 'Accepted' } } : {}),
  StatusNotification: () => ({}),
  MeterValues: () => ({}),
  DataTransfer: () => ({ status: 'UnknownVendorId' }),
};

/** OCPP 2.0.1 and 2.1 answer these the same way. @type {Record<string, Rule>} */
const OCPP2 = {
  BootNotification: (_p, ctx) => ({ status: 'Accepted', currentTime: now(), interval: ctx.heartbeatInterval }),
  Heartbeat: () => ({ currentTime: now() }),
  Authorize: () => ({ idTokenInfo: { status: 'Accepted' } }),
  TransactionEvent: (p) => (p.idToken !== undefined ? { idTokenInfo: { status: 'Accepted' } } : {}),
  StatusNotification: () => ({}),
  MeterValues: () => ({}),
  NotifyReport: () => ({}),
  NotifyEvent: () => ({}),
  DataTransfer: () => ({ status: 'UnknownVendorId' }),
};

export class Answers {
  /** @param {{ heartbeatInterval: number }} options */
  constructor({ heartbeatInterval }) {
    let lastTransactionId = 0;
    /** @type {Context} */
    this.ctx = { heartbeatInterval, nextTransactionId: () => ++lastTransactionId };
  }

  /**
   * The answer to `action` from a CP speaking `protocol`; undefined when the version has no such action.
   * @param {Protocol} protocol
   * @param {string} action
   * @param {Json} payload
   * @returns {{ payload: Json, rule: 'hand-written' | 'from schema' } | undefined}
   */
  answer(protocol, action, payload) {
    const rules = protocol === 'ocpp1.6' ? OCPP16 : OCPP2;
    if (Object.hasOwn(rules, action)) return { payload: /** @type {Rule} */ (rules[action])(payload, this.ctx), rule: 'hand-written' };
    const schema = responseSchemasOf(protocol).get(action);
    if (schema === undefined) return undefined;
    return { payload: /** @type {Json} */ (minimal(schema)), rule: 'from schema' };
  }
}
