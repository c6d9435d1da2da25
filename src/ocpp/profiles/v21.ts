// OCPP 2.1 (Part 4, OCPP-J, Edition 1): adds CALLRESULTERROR and SEND.
import { CALL, CALLERROR, CALLRESULT, CALLRESULTERROR, SEND } from '../message-types.js';
import type { ProtocolProfile } from './profile.js';
import { OCPP201, V2_CODES, V2_ERROR_CODES } from './v201.js';

export const OCPP21 = {
  name: 'ocpp2.1',
  title: 'OCPP 2.1',
  // [OCPP-J 2.1 §4.2.4] CALLRESULTERROR, [OCPP-J 2.1 §4.2.5] SEND
  messageTypes: new Set([CALL, CALLRESULT, CALLERROR, CALLRESULTERROR, SEND]),
  codes: V2_CODES,
  errorCodes: V2_ERROR_CODES,
  schemas: { fromJsonSchemaDir: false, bundledFile: 'ocpp-rpc/lib/schemas/ocpp2_1.json' },
  rules: {
    // [OCPP-J 2.1 §4.4] an unknown MessageTypeId is ignored (2.0.1 answered it)
    unknownMessageType: 'ignore',
    // [OCPP-J 2.1 §4.2.4] a CALLRESULT that fails validation is answered with CALLRESULTERROR
    invalidCallResult: 'callresulterror',
    maxErrorDescriptionLength: 255, // [OCPP-J 2.1 §4.2.3] errorDescription string[0..255]
  },
  // OCPP 2.1 Part 2 (Specification), the messages the CSMS sends: those of 2.0.1 and the new ones
  csmsActions: new Set([
    ...OCPP201.csmsActions,
    'AdjustPeriodicEventStream', 'AFRRSignal', 'ChangeTransactionTariff', 'ClearDERControl', 'ClearTariffs', 'GetDERControl', 'GetPeriodicEventStream',
    'GetTariffs', 'NotifyAllowedEnergyTransfer', 'NotifyWebPaymentStarted', 'RequestBatterySwap', 'SetDefaultTariff', 'SetDERControl',
    'UpdateDynamicSchedule', 'UsePriorityCharging',
  ]),
} as const satisfies ProtocolProfile;
