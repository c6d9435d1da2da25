// What the per-version suite needs to know about each OCPP version: the peers that speak it, valid
// and invalid payloads for the messages it exercises, and the spellings OCPP-J gives its error codes.
// kitChecks() in version-suite.ts holds the payloads to the official OCA schemas.
import { PROTOCOLS, type Protocol, type ProtocolProfile } from '../../src/ocpp/profiles/index.js';

/** The charge point libraries the suite drives; raw frames go through the harness's rawSocket. */
export type Library = 'ocpp-ws-io' | 'ocpp-rpc';

export interface Exchange {
  readonly action: string;
  readonly request: Record<string, unknown>;
  readonly response: Record<string, unknown>;
}

export interface VersionKit {
  readonly protocol: Protocol;
  /** Short, topic-safe: prefixes the cpIds of this version's scenarios. */
  readonly tag: string;
  readonly profile: ProtocolProfile;
  /** Folder of the official schemas under /work/shared/ocpp-schemas, and how a file is named. */
  readonly officialSchemas: { readonly dir: string; readonly file: (action: string, kind: 'req' | 'conf') => string };
  readonly libraries: readonly Library[];
  /** The codes OCPP-J spells for this version, written out here (not read from the profile). [SPEC §6] */
  readonly spelled: { readonly rpcFramework: string; readonly occurrence: string; readonly formation: string; readonly messageTypeNotSupported: string | undefined };
  readonly boot: Exchange;
  readonly heartbeat: Exchange;
  /** CP → CSMS transaction messages, in the order a session sends them. */
  readonly transactions: readonly Exchange[];
  /** CSMS → CP device-model commands (read, then write). */
  readonly commands: readonly [Exchange, Exchange];
  /** A CALLRESULT to commands[0] that fails its schema, and the code it fails with (a role of codes). */
  readonly invalidCommandResult: { readonly payload: Record<string, unknown>; readonly role: 'occurrence' };
  /** BootNotification payloads that fail the schema: a required field missing, an unknown property. */
  readonly bootMissingRequired: Record<string, unknown>;
  readonly bootExtraProperty: Record<string, unknown>;
  /** An errorCode of another version's table, absent from this one. */
  readonly foreignErrorCode: string;
}

const NOW = '2026-11-23T10:00:00.000Z';

const v16: VersionKit = {
  protocol: 'ocpp1.6',
  tag: 'v16',
  profile: PROTOCOLS['ocpp1.6'],
  officialSchemas: { dir: 'v16', file: (action, kind) => (kind === 'req' ? `${action}.json` : `${action}Response.json`) },
  libraries: ['ocpp-ws-io', 'ocpp-rpc'],
  spelled: { rpcFramework: 'FormationViolation', occurrence: 'OccurenceConstraintViolation', formation: 'FormationViolation', messageTypeNotSupported: undefined },
  boot: {
    action: 'BootNotification',
    request: { chargePointVendor: 'Acme', chargePointModel: 'Rapid-50', firmwareVersion: '1.2.3' },
    response: { status: 'Accepted', currentTime: NOW, interval: 300 },
  },
  heartbeat: { action: 'Heartbeat', request: {}, response: { currentTime: NOW } },
  transactions: [
    { action: 'StartTransaction', request: { connectorId: 1, idTag: 'TAG-16', meterStart: 1000, timestamp: NOW }, response: { transactionId: 161, idTagInfo: { status: 'Accepted' } } },
    {
      action: 'MeterValues',
      request: { connectorId: 1, transactionId: 161, meterValue: [{ timestamp: NOW, sampledValue: [{ value: '1500', measurand: 'Energy.Active.Import.Register', unit: 'Wh' }] }] },
      response: {},
    },
    { action: 'StopTransaction', request: { transactionId: 161, meterStop: 2000, timestamp: NOW, reason: 'Local' }, response: { idTagInfo: { status: 'Accepted' } } },
  ],
  commands: [
    { action: 'GetConfiguration', request: { key: ['HeartbeatInterval'] }, response: { configurationKey: [{ key: 'HeartbeatInterval', readonly: false, value: '300' }] } },
    { action: 'ChangeConfiguration', request: { key: 'HeartbeatInterval', value: '60' }, response: { status: 'Accepted' } },
  ],
  invalidCommandResult: { payload: { configurationKey: [{ readonly: false }] }, role: 'occurrence' },
  bootMissingRequired: { chargePointVendor: 'Acme' },
  bootExtraProperty: { chargePointVendor: 'Acme', chargePointModel: 'Rapid-50', colour: 'red' },
  foreignErrorCode: 'RpcFrameworkError',
};

/** The 2.0.1 and 2.1 messages the suite uses have the same shape in both versions. */
function v2(protocol: 'ocpp2.0.1' | 'ocpp2.1', tag: string, libraries: readonly Library[], messageTypeNotSupported: string | undefined): VersionKit {
  const component = { name: 'OCPPCommCtrlr' };
  const variable = { name: 'HeartbeatInterval' };
  const txId = `TX-${tag}`;
  return {
    protocol,
    tag,
    profile: PROTOCOLS[protocol],
    officialSchemas: { dir: tag, file: (action, kind) => (kind === 'req' ? `${action}Request.json` : `${action}Response.json`) },
    libraries,
    spelled: { rpcFramework: 'RpcFrameworkError', occurrence: 'OccurrenceConstraintViolation', formation: 'FormatViolation', messageTypeNotSupported },
    boot: {
      action: 'BootNotification',
      request: { reason: 'PowerUp', chargingStation: { model: 'Rapid-50', vendorName: 'Acme', firmwareVersion: '2.0.0' } },
      response: { currentTime: NOW, interval: 300, status: 'Accepted' },
    },
    heartbeat: { action: 'Heartbeat', request: {}, response: { currentTime: NOW } },
    transactions: [
      {
        action: 'TransactionEvent',
        request: { eventType: 'Started', timestamp: NOW, triggerReason: 'Authorized', seqNo: 0, transactionInfo: { transactionId: txId, chargingState: 'EVConnected' }, idToken: { idToken: 'TAG-2X', type: 'ISO14443' }, evse: { id: 1, connectorId: 1 } },
        response: { idTokenInfo: { status: 'Accepted' } },
      },
      {
        action: 'TransactionEvent',
        request: {
          eventType: 'Updated',
          timestamp: NOW,
          triggerReason: 'MeterValuePeriodic',
          seqNo: 1,
          transactionInfo: { transactionId: txId, chargingState: 'Charging' },
          meterValue: [{ timestamp: NOW, sampledValue: [{ value: 1500.5, measurand: 'Energy.Active.Import.Register' }] }],
        },
        response: {},
      },
      {
        action: 'TransactionEvent',
        request: { eventType: 'Ended', timestamp: NOW, triggerReason: 'StopAuthorized', seqNo: 2, transactionInfo: { transactionId: txId, stoppedReason: 'Local' } },
        response: {},
      },
    ],
    commands: [
      {
        action: 'GetVariables',
        request: { getVariableData: [{ component, variable }] },
        response: { getVariableResult: [{ attributeStatus: 'Accepted', attributeValue: '300', component, variable }] },
      },
      {
        action: 'SetVariables',
        request: { setVariableData: [{ attributeValue: '60', component, variable }] },
        response: { setVariableResult: [{ attributeStatus: 'Accepted', component, variable }] },
      },
    ],
    invalidCommandResult: { payload: { getVariableResult: [] }, role: 'occurrence' },
    bootMissingRequired: { chargingStation: { model: 'Rapid-50', vendorName: 'Acme' } },
    bootExtraProperty: { reason: 'PowerUp', chargingStation: { model: 'Rapid-50', vendorName: 'Acme' }, colour: 'red' },
    foreignErrorCode: 'OccurenceConstraintViolation',
  };
}

export const KITS: readonly VersionKit[] = [v16, v2('ocpp2.0.1', 'v201', ['ocpp-ws-io', 'ocpp-rpc'], 'MessageTypeNotSupported'), v2('ocpp2.1', 'v21', ['ocpp-ws-io'], undefined)];

/** A valid 2.1 SEND payload (NotifyPeriodicEventStream), and one that fails its schema. */
export const PERIODIC_EVENT_STREAM = {
  action: 'NotifyPeriodicEventStream',
  valid: { id: 7, pending: 0, basetime: NOW, data: [{ t: 0, v: '230.1' }, { t: 1.5, v: '230.4' }] },
  invalid: { id: 7, pending: 0, basetime: NOW, data: [] },
} as const;
