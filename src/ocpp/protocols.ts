// What differs between OCPP-J versions, as data: the codec, channel and bridge read this table and
// never test a version string themselves. Adding a version is adding a row.
import type { Protocol } from '../config/schema.js';

export type MessageTypeId = 2 | 3 | 4 | 5 | 6;
export const CALL = 2;
export const CALLRESULT = 3;
export const CALLERROR = 4;
export const CALLRESULTERROR = 5; // [OCPP-J 2.1 §4.2.4]
export const SEND = 6; // [OCPP-J 2.1 §4.2.5]

/** The OCPP error codes the gateway itself emits, by role; spellings differ per version. */
export interface ErrorCodeSpellings {
  /** Frame is not OCPP-J (bad JSON, wrong arity, bad element types). */
  readonly rpcFramework: string;
  /** Unknown MessageTypeId. */
  readonly messageTypeNotSupported: string;
  readonly formation: string;
  readonly occurrence: string;
  readonly typeConstraint: string;
  readonly propertyConstraint: string;
  readonly protocolError: string;
  readonly notImplemented: string;
  readonly internalError: string;
  readonly genericError: string;
}

export interface ProtocolSpec {
  readonly name: Protocol;
  readonly messageTypes: ReadonlySet<MessageTypeId>;
  readonly codes: ErrorCodeSpellings;
}

const V16_CODES: ErrorCodeSpellings = {
  rpcFramework: 'FormationViolation', // [OCPP-J 1.6 §4.2.3] no RpcFrameworkError in 1.6
  messageTypeNotSupported: 'FormationViolation',
  formation: 'FormationViolation',
  occurrence: 'OccurenceConstraintViolation', // (sic) [OCPP-J 1.6 §4.2.3]
  typeConstraint: 'TypeConstraintViolation',
  propertyConstraint: 'PropertyConstraintViolation',
  protocolError: 'ProtocolError',
  notImplemented: 'NotImplemented',
  internalError: 'InternalError',
  genericError: 'GenericError',
};

const V2_CODES: ErrorCodeSpellings = {
  ...V16_CODES,
  rpcFramework: 'RpcFrameworkError', // [OCPP-J 2.0.1 §4.3]
  messageTypeNotSupported: 'MessageTypeNotSupported',
  formation: 'FormatViolation',
  occurrence: 'OccurrenceConstraintViolation',
};

export const PROTOCOLS: Readonly<Record<Protocol, ProtocolSpec>> = {
  'ocpp1.6': { name: 'ocpp1.6', messageTypes: new Set([2, 3, 4]), codes: V16_CODES },
  'ocpp2.0.1': { name: 'ocpp2.0.1', messageTypes: new Set([2, 3, 4]), codes: V2_CODES },
  'ocpp2.1': { name: 'ocpp2.1', messageTypes: new Set([2, 3, 4, 5, 6]), codes: V2_CODES },
};

/** Longest messageId any version allows. [OCPP-J 1.6 §4.1.3] [OCPP-J 2.0.1 §4.1.4] */
export const MAX_MESSAGE_ID_LENGTH = 36;

/**
 * Longest action name accepted from a charge point. OCPP-J sets none, but every action of 1.6, 2.0.1
 * and 2.1 is under 40 characters, and the action becomes a topic level (percent-encoded, up to 3 bytes
 * a character) whose length MQTT bounds: a longer one is a malformed frame. [SPEC §4, §6]
 */
export const MAX_ACTION_LENGTH = 64;
