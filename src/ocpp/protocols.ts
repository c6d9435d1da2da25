// The OCPP-J vocabulary in one import: frame constants (message-types.ts) and what differs per version
// (one profile per version in ocpp/profiles/).
export * from './message-types.js';
export { PROFILES, PROTOCOL_NAMES, PROTOCOLS, isProtocol, type ErrorCodeSpellings, type Protocol, type ProtocolProfile, type ProtocolRules } from './profiles/index.js';
