// OCPP-J frame constants shared by every version (no imports: profiles and codec both build on it).
export type MessageTypeId = 2 | 3 | 4 | 5 | 6;
export const CALL = 2;
export const CALLRESULT = 3;
export const CALLERROR = 4;
export const CALLRESULTERROR = 5; // [OCPP-J 2.1 §4.2.4]
export const SEND = 6; // [OCPP-J 2.1 §4.2.5]

/** Longest messageId any version allows. [OCPP-J 1.6 §4.1.4] [OCPP-J 2.0.1 §4.1.4] */
export const MAX_MESSAGE_ID_LENGTH = 36;

/**
 * Longest action name accepted from a charge point. OCPP-J sets none, but every action of 1.6, 2.0.1
 * and 2.1 is under 40 characters, and the action becomes a topic level (percent-encoded, up to 3 bytes
 * a character) whose length MQTT bounds: a longer one is a malformed frame. [SPEC §4, §6]
 */
export const MAX_ACTION_LENGTH = 64;
