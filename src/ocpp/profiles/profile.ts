// What one OCPP-J version is, as data: the codec, the channel, the schema loader and the upgrade read
// a profile and never test a version string themselves. One file per version beside this one;
// index.ts lists them. docs/architecture.md says how to add a version.
import type { MessageTypeId } from '../message-types.js';

/** The OCPP error codes the gateway itself emits, by role; spellings differ per version. */
export interface ErrorCodeSpellings {
  /** Frame is not OCPP-J (bad JSON, wrong arity, bad element types, a reused messageId). */
  readonly rpcFramework: string;
  /** Unknown MessageTypeId (only where the version answers one). */
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

/** The protocol rules where versions differ: what is answered, what is ignored. */
export interface ProtocolRules {
  /**
   * A frame whose MessageTypeId the version does not define: `answer` with a CALLERROR
   * (codes.messageTypeNotSupported), or `ignore` (nothing sent; reported and counted as a bad message).
   */
  readonly unknownMessageType: 'answer' | 'ignore';
  /**
   * A CALLRESULT from the CP that fails its schema: the service always gets a gateway error
   * (`invalid_response`); `callresulterror` also tells the CP with a CALLRESULTERROR.
   */
  readonly invalidCallResult: 'report' | 'callresulterror';
  /** Longest errorDescription the version allows in a CALLERROR; undefined = no bound in the spec. */
  readonly maxErrorDescriptionLength: number | undefined;
}

/** Where the version's JSON schemas come from. */
export interface SchemaSource {
  /** Module path of the bundled schema list (an array of JSON schemas with `$id`). */
  readonly bundledFile: string;
  /** Whether `json_schema_dir` (a folder of official files, as in EMQX) replaces the bundled set. */
  readonly fromJsonSchemaDir: boolean;
}

export interface ProtocolProfile {
  /** The WebSocket subprotocol, also the version's name in config, topics and events. */
  readonly name: string;
  /** For people: "OCPP 2.0.1". */
  readonly title: string;
  readonly messageTypes: ReadonlySet<MessageTypeId>;
  /** The codes the gateway emits, by role. */
  readonly codes: ErrorCodeSpellings;
  /** Every errorCode the version defines: a CALLERROR from the service must use one of these. */
  readonly errorCodes: ReadonlySet<string>;
  readonly schemas: SchemaSource;
  readonly rules: ProtocolRules;
  /**
   * The actions the CSMS initiates (CSMS → charge point), from the specification's message lists;
   * DataTransfer goes both ways and is listed. The dashboard's CALL form offers these.
   */
  readonly csmsActions: ReadonlySet<string>;
}
