// OCPP 1.6 (JSON, "OCPP-J 1.6 specification" and the 1.6 Security Whitepaper).
import { CALL, CALLERROR, CALLRESULT } from '../message-types.js';
import type { ErrorCodeSpellings, ProtocolProfile } from './profile.js';

export const V16_CODES: ErrorCodeSpellings = {
  rpcFramework: 'FormationViolation', // [OCPP-J 1.6 §4.2.3] 1.6 has no RpcFrameworkError
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

export const OCPP16 = {
  name: 'ocpp1.6',
  title: 'OCPP 1.6',
  messageTypes: new Set([CALL, CALLRESULT, CALLERROR]),
  codes: V16_CODES,
  // [OCPP-J 1.6 §4.2.3] table of valid error codes
  errorCodes: new Set(['NotImplemented', 'NotSupported', 'InternalError', 'ProtocolError', 'SecurityError', 'FormationViolation', 'PropertyConstraintViolation', 'OccurenceConstraintViolation', 'TypeConstraintViolation', 'GenericError']),
  schemas: { fromJsonSchemaDir: true, bundledFile: 'ocpp-rpc/lib/schemas/ocpp1_6.json' },
  rules: {
    // [OCPP-J 1.6 §4.1.3] a message with an unknown MessageTypeId is ignored
    unknownMessageType: 'ignore',
    invalidCallResult: 'report', // 1.6 has no way to refuse a CALLRESULT
    maxErrorDescriptionLength: undefined, // [OCPP-J 1.6 §4.2.3] no bound given
  },
  // [OCPP 1.6 §4, §5] the Central System's operations, and the 1.6 Security Whitepaper's (CertificateSigned ... SignedUpdateFirmware)
  csmsActions: new Set([
    'CancelReservation', 'ChangeAvailability', 'ChangeConfiguration', 'ClearCache', 'ClearChargingProfile', 'DataTransfer', 'GetCompositeSchedule',
    'GetConfiguration', 'GetDiagnostics', 'GetLocalListVersion', 'RemoteStartTransaction', 'RemoteStopTransaction', 'ReserveNow', 'Reset', 'SendLocalList',
    'SetChargingProfile', 'TriggerMessage', 'UnlockConnector', 'UpdateFirmware',
    'CertificateSigned', 'DeleteCertificate', 'ExtendedTriggerMessage', 'GetInstalledCertificateIds', 'GetLog', 'InstallCertificate', 'SignedUpdateFirmware',
  ]),
} as const satisfies ProtocolProfile;
