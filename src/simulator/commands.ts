// Answers of a simulated charge point to the CSMS's commands. The commands it models act on its state
// (a remote start really starts a transaction, a reset really reconnects and boots); any other action
// of the version gets the smallest answer its response schema accepts. Every answer is checked against
// the version's schema before it is sent.
import { createRPCError } from 'ocpp-rpc';
import type { Connector, SimulatedChargePoint } from './charge-point.js';

type Payload = Record<string, unknown>;
type Handler = (cp: SimulatedChargePoint, p: Payload) => Payload;

const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);
const obj = (v: unknown): Payload => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Payload) : {});

/** The connectors a ChangeAvailability/TriggerMessage names: id 0 or none = all; undefined = no such connector. */
function targets(cp: SimulatedChargePoint, id: number | undefined): Connector[] | undefined {
  if (id === undefined || id === 0) return cp.connectors;
  const c = cp.connectors[id - 1];
  return c === undefined ? undefined : [c];
}

function changeAvailability(cp: SimulatedChargePoint, id: number | undefined, operative: boolean): Payload {
  const list = targets(cp, id);
  if (list === undefined) return { status: 'Rejected' };
  let scheduled = false;
  for (const c of list) {
    if (c.tx !== undefined && c.operative !== operative) {
      c.scheduledOperative = operative; // applied when the transaction ends
      scheduled = true;
    } else cp.afterAnswer(() => cp.setOperative(c, operative));
  }
  return { status: scheduled ? 'Scheduled' : 'Accepted' };
}

/** TriggerMessage: the message follows the answer. [OCPP 1.6 §5.17] [OCPP 2.0.1 F06] */
function trigger(cp: SimulatedChargePoint, requested: string, id: number | undefined): Payload {
  const list = targets(cp, id);
  if (list === undefined) return { status: 'Rejected' };
  const each = (fn: (c: Connector) => Promise<void>) => () => list.reduce((p, c) => p.then(() => fn(c)), Promise.resolve());
  let send: (() => unknown) | undefined;
  switch (requested) {
    case 'BootNotification':
      // 2.x: a station already accepted refuses to boot again (F06.FR.17).
      if (!cp.v16 && cp.state === 'accepted') return { status: 'Rejected' };
      send = () => cp.bootAgain();
      break;
    case 'Heartbeat':
      send = () => cp.call('Heartbeat', {});
      break;
    case 'StatusNotification':
      send = each((c) => cp.sendStatus(c));
      break;
    case 'MeterValues':
      send = each((c) => cp.sendMeterValues(c, 'Trigger', true));
      break;
    case 'TransactionEvent': {
      const running = list.filter((c) => c.tx !== undefined && c.tx !== 'starting');
      if (running.length === 0) return { status: 'Rejected' };
      send = () => running.reduce((p, c) => p.then(() => cp.sendMeterValues(c, 'Trigger')), Promise.resolve());
      break;
    }
    case 'DiagnosticsStatusNotification':
    case 'FirmwareStatusNotification':
    case 'LogStatusNotification':
      send = () => cp.call(requested, { status: 'Idle' });
      break;
    default:
      return { status: 'NotImplemented' };
  }
  cp.afterAnswer(send);
  return { status: 'Accepted' };
}

function remoteStart(cp: SimulatedChargePoint, connectorId: number | undefined, idTag: string, remoteStartId: number | undefined): Payload {
  const c = cp.state === 'accepted' ? cp.freeConnector(connectorId) : undefined;
  if (c === undefined) return { status: 'Rejected' };
  cp.afterAnswer(() => cp.startTransaction(c, { idTag, remoteStartId }));
  return { status: 'Accepted' };
}

function remoteStop(cp: SimulatedChargePoint, transactionId: unknown): Payload {
  const found = cp.transaction(transactionId);
  if (found === undefined) return { status: 'Rejected' };
  cp.afterAnswer(() => cp.stopTransaction(found[0], 'Remote'));
  return { status: 'Accepted' };
}

const V16: Record<string, Handler> = {
  Reset: (cp, p) => {
    cp.afterAnswer(() => cp.reboot(p['type'] === 'Hard' ? 'HardReset' : 'SoftReset'));
    return { status: 'Accepted' };
  },
  GetConfiguration: (cp, p) => {
    const asked = Array.isArray(p['key']) ? (p['key'] as unknown[]).map(String) : undefined;
    const known = cp.settings.filter((s) => asked === undefined || asked.includes(s.key));
    const unknownKey = (asked ?? []).filter((k) => !cp.settings.some((s) => s.key === k));
    return { configurationKey: known.map((s) => ({ key: s.key, readonly: s.readonly, value: s.get() })), ...(unknownKey.length > 0 ? { unknownKey } : {}) };
  },
  ChangeConfiguration: (cp, p) => {
    const setting = cp.settings.find((s) => s.key === p['key']);
    if (setting === undefined) return { status: 'NotSupported' };
    return { status: !setting.readonly && setting.set(String(p['value'])) ? 'Accepted' : 'Rejected' };
  },
  RemoteStartTransaction: (cp, p) => remoteStart(cp, int(p['connectorId']), String(p['idTag']), undefined),
  RemoteStopTransaction: (cp, p) => remoteStop(cp, p['transactionId']),
  TriggerMessage: (cp, p) => trigger(cp, String(p['requestedMessage']), int(p['connectorId'])),
  ChangeAvailability: (cp, p) => changeAvailability(cp, int(p['connectorId']), p['type'] === 'Operative'),
  UnlockConnector: (cp, p) => ({ status: cp.connectors[(int(p['connectorId']) ?? 0) - 1] === undefined ? 'NotSupported' : 'Unlocked' }),
  DataTransfer: () => ({ status: 'UnknownVendorId' }),
};

/** 2.0.1 and 2.1 share these. */
const V2: Record<string, Handler> = {
  Reset: (cp, p) => {
    if (p['evseId'] !== undefined) return { status: 'Rejected' }; // resetting one EVSE is not modelled
    if (p['type'] === 'OnIdle' && cp.connectors.some((c) => c.tx !== undefined)) {
      cp.resetWhenIdle = true;
      return { status: 'Scheduled' };
    }
    cp.afterAnswer(() => cp.reboot('ImmediateReset'));
    return { status: 'Accepted' };
  },
  GetVariables: (cp, p) => ({
    getVariableResult: (Array.isArray(p['getVariableData']) ? (p['getVariableData'] as unknown[]) : []).map((d) => {
      const { component, variable, attributeType } = obj(d);
      const echo = { component, variable, ...(attributeType !== undefined ? { attributeType } : {}) };
      const status = variableStatus(cp, obj(component), obj(variable), attributeType);
      if (typeof status === 'string') return { attributeStatus: status, ...echo };
      return { attributeStatus: 'Accepted', attributeValue: status.get(), ...echo };
    }),
  }),
  SetVariables: (cp, p) => ({
    setVariableResult: (Array.isArray(p['setVariableData']) ? (p['setVariableData'] as unknown[]) : []).map((d) => {
      const { component, variable, attributeType, attributeValue } = obj(d);
      const echo = { component, variable, ...(attributeType !== undefined ? { attributeType } : {}) };
      const status = variableStatus(cp, obj(component), obj(variable), attributeType);
      if (typeof status === 'string') return { attributeStatus: status, ...echo };
      return { attributeStatus: !status.readonly && status.set(String(attributeValue)) ? 'Accepted' : 'Rejected', ...echo };
    }),
  }),
  RequestStartTransaction: (cp, p) => remoteStart(cp, int(p['evseId']), String(obj(p['idToken'])['idToken'] ?? ''), int(p['remoteStartId'])),
  RequestStopTransaction: (cp, p) => remoteStop(cp, p['transactionId']),
  GetTransactionStatus: (cp, p) => ({ messagesInQueue: false, ...(p['transactionId'] !== undefined ? { ongoingIndicator: cp.transaction(p['transactionId']) !== undefined } : {}) }),
  TriggerMessage: (cp, p) => trigger(cp, String(p['requestedMessage']), int(obj(p['evse'])['id'])),
  ChangeAvailability: (cp, p) => changeAvailability(cp, int(obj(p['evse'])['id']), p['operationalStatus'] === 'Operative'),
  UnlockConnector: (cp, p) => {
    const c = cp.connectors[(int(p['evseId']) ?? 0) - 1];
    if (c === undefined || p['connectorId'] !== 1) return { status: 'UnknownConnector' };
    return { status: c.tx !== undefined ? 'OngoingAuthorizedTransaction' : 'Unlocked' };
  },
  DataTransfer: () => ({ status: 'UnknownVendorId' }),
};

/** The setting a component/variable pair names, or the GetVariables/SetVariables status saying why not. */
function variableStatus(cp: SimulatedChargePoint, component: Payload, variable: Payload, attributeType: unknown) {
  const ofComponent = cp.settings.filter((s) => s.component === component['name']);
  if (ofComponent.length === 0) return 'UnknownComponent';
  const setting = ofComponent.find((s) => s.variable === variable['name']);
  if (setting === undefined) return 'UnknownVariable';
  if (attributeType !== undefined && attributeType !== 'Actual') return 'NotSupportedAttributeType';
  return setting;
}

/** The answer to one command; throws an OCPP error (sent as CALLERROR) for an action the version lacks. */
export function answerCommand(cp: SimulatedChargePoint, action: string, payload: Payload): Payload {
  const table = cp.v16 ? V16 : V2;
  const handler = Object.hasOwn(table, action) ? table[action] : undefined;
  const answer = handler !== undefined ? handler(cp, payload) : cp.schemas.minimalAnswer(action);
  if (answer === undefined) throw createRPCError('NotImplemented', `${action} is not an action of ${cp.options.protocol}`);
  const problem = cp.schemas.problem(action, 'conf', answer);
  if (problem !== undefined) throw createRPCError('InternalError', `the simulator's answer to ${action} does not fit its schema: ${problem}`);
  return answer;
}
