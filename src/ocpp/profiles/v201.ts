// OCPP 2.0.1 (Part 4, OCPP-J).
import { CALL, CALLERROR, CALLRESULT } from '../message-types.js';
import type { ErrorCodeSpellings, ProtocolProfile } from './profile.js';
import { V16_CODES } from './v16.js';

export const V2_CODES: ErrorCodeSpellings = {
  ...V16_CODES,
  rpcFramework: 'RpcFrameworkError', // [OCPP-J 2.0.1 §4.3]
  messageTypeNotSupported: 'MessageTypeNotSupported',
  formation: 'FormatViolation',
  occurrence: 'OccurrenceConstraintViolation',
};

/** [OCPP-J 2.0.1 §4.3] [OCPP-J 2.1 §4.3] the error codes of 2.x */
export const V2_ERROR_CODES: ReadonlySet<string> = new Set([
  'FormatViolation', 'GenericError', 'InternalError', 'MessageTypeNotSupported', 'NotImplemented', 'NotSupported',
  'OccurrenceConstraintViolation', 'PropertyConstraintViolation', 'ProtocolError', 'RpcFrameworkError', 'SecurityError', 'TypeConstraintViolation',
]);

export const OCPP201 = {
  name: 'ocpp2.0.1',
  title: 'OCPP 2.0.1',
  messageTypes: new Set([CALL, CALLRESULT, CALLERROR]),
  codes: V2_CODES,
  errorCodes: V2_ERROR_CODES,
  schemas: { fromJsonSchemaDir: false, bundledFile: 'ocpp-rpc/lib/schemas/ocpp2_0_1.json' },
  rules: {
    // [OCPP-J 2.0.1 §4.1.3] an unknown MessageTypeId is answered with MessageTypeNotSupported
    unknownMessageType: 'answer',
    invalidCallResult: 'report', // 2.0.1 has no way to refuse a CALLRESULT
    maxErrorDescriptionLength: 255, // [OCPP-J 2.0.1 §4.2.3] errorDescription string[0..255]
  },
  // OCPP 2.0.1 Part 2 (Specification), the messages the CSMS sends
  csmsActions: new Set([
    'CancelReservation', 'CertificateSigned', 'ChangeAvailability', 'ClearCache', 'ClearChargingProfile', 'ClearDisplayMessage', 'ClearVariableMonitoring',
    'CostUpdated', 'CustomerInformation', 'DataTransfer', 'DeleteCertificate', 'GetBaseReport', 'GetChargingProfiles', 'GetCompositeSchedule',
    'GetDisplayMessages', 'GetInstalledCertificateIds', 'GetLocalListVersion', 'GetLog', 'GetMonitoringReport', 'GetReport', 'GetTransactionStatus',
    'GetVariables', 'InstallCertificate', 'PublishFirmware', 'RequestStartTransaction', 'RequestStopTransaction', 'ReserveNow', 'Reset', 'SendLocalList',
    'SetChargingProfile', 'SetDisplayMessage', 'SetMonitoringBase', 'SetMonitoringLevel', 'SetNetworkProfile', 'SetVariableMonitoring', 'SetVariables',
    'TriggerMessage', 'UnlockConnector', 'UnpublishFirmware', 'UpdateFirmware',
  ]),
} as const satisfies ProtocolProfile;
