// The list of OCPP versions the gateway speaks: the one place it lives. Newest first, which is also
// the default preference of ocpp.protocols. [SPEC §3]
import type { ProtocolProfile } from './profile.js';
import { OCPP16 } from './v16.js';
import { OCPP201 } from './v201.js';
import { OCPP21 } from './v21.js';

export type { ErrorCodeSpellings, ProtocolProfile, ProtocolRules } from './profile.js';

export const PROFILES = [OCPP21, OCPP201, OCPP16] as const;

/** Subprotocol names, newest first. */
export type Protocol = (typeof PROFILES)[number]['name'];

export const PROTOCOL_NAMES: readonly Protocol[] = PROFILES.map((p) => p.name);

export const PROTOCOLS: Readonly<Record<Protocol, ProtocolProfile>> = Object.fromEntries(PROFILES.map((p) => [p.name, p])) as unknown as Record<Protocol, ProtocolProfile>;

export function isProtocol(name: string): name is Protocol {
  return Object.hasOwn(PROTOCOLS, name);
}
