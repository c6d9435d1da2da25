// What a charge point told about itself, for the operator (dashboard, API): vendor, model and firmware
// from its BootNotification, each connector's status from its StatusNotifications, in the 1.6 and the
// 2.x shapes; and the recently disconnected charge points with why they went. Pure: no I/O, the time
// is passed in. Fed from the CP's CALLs as decoded (before validation, which may be off): every value
// is client input, so a string is kept only when it is a string, cut to MAX_FACT_LENGTH, and at most
// MAX_CONNECTORS connectors are kept. Whoever shows them escapes them (api/escape.ts). [SPEC §9]

import { cutText } from '../ocpp/quote.js';

/** Longest string kept (the schemas allow at most 50; validation may be off). */
export const MAX_FACT_LENGTH = 64;
/** Connectors (EVSE and connector pairs) kept per charge point; further ones are ignored. */
export const MAX_CONNECTORS = 32;
/**
 * Longest Basic username remembered for a disconnected charge point: without authentication it is
 * whatever the client sent (up to the header size, ~16 KiB), and 500 of those would not be "a few MB".
 */
export const MAX_REMEMBERED_USERNAME = 256;

export interface ConnectorStatus {
  /** 2.x only (1.6 has no EVSE). */
  readonly evseId: number | null;
  /** 1.6: 0 is the charge point as a whole. */
  readonly connectorId: number;
  /** 1.6 `status` (Available, Charging, Faulted, ...); 2.x `connectorStatus` (Available, Occupied, ...). */
  readonly status: string;
  /** 1.6 only: `errorCode` (NoError, GroundFailure, ...). */
  readonly errorCode: string | null;
  /** 1.6 only: `info`, the vendor's free text. */
  readonly info: string | null;
  /** When the gateway received it (the CP's own timestamp may be anything). */
  readonly updatedAt: string;
}

export interface CpFactsView {
  readonly vendor: string | null;
  readonly model: string | null;
  readonly firmwareVersion: string | null;
  readonly serialNumber: string | null;
  /** 2.x BootNotification `reason` (PowerUp, RemoteReset, ...). */
  readonly bootReason: string | null;
  /** When the last BootNotification arrived. */
  readonly bootedAt: string | null;
  /** Sorted by EVSE, then connector. */
  readonly connectors: readonly ConnectorStatus[];
}

export const NO_FACTS: CpFactsView = { vendor: null, model: null, firmwareVersion: null, serialNumber: null, bootReason: null, bootedAt: null, connectors: [] };

type Payload = Readonly<Record<string, unknown>>;

function text(v: unknown): string | null {
  if (typeof v !== 'string' || v === '') return null;
  // MAX_FACT_LENGTH characters and "…", never half of a surrogate pair.
  return cutText(v, MAX_FACT_LENGTH + 1);
}

function index(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

function object(v: unknown): Payload | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Payload) : undefined;
}

export class CpFacts {
  #boot: Omit<CpFactsView, 'connectors'> = NO_FACTS;
  /** Made on the first StatusNotification with a connector (most idle CPs only booted: no Map). */
  #connectors: Map<string, ConnectorStatus> | undefined;

  /** One CALL from the charge point; anything but BootNotification and StatusNotification is ignored. */
  observe(action: string, payload: object, at: number): void {
    if (action === 'BootNotification') this.#bootNotification(payload as Payload, at);
    else if (action === 'StatusNotification') this.#statusNotification(payload as Payload, at);
  }

  #bootNotification(p: Payload, at: number): void {
    // [OCPP 1.6 §6.2] chargePointVendor, chargePointModel, ...; [OCPP 2.0.1 / 2.1] chargingStation {vendorName, model, ...}
    const station = object(p['chargingStation']);
    this.#boot = station === undefined
      ? { vendor: text(p['chargePointVendor']), model: text(p['chargePointModel']), firmwareVersion: text(p['firmwareVersion']), serialNumber: text(p['chargePointSerialNumber'] ?? p['chargeBoxSerialNumber']), bootReason: null, bootedAt: new Date(at).toISOString() }
      : { vendor: text(station['vendorName']), model: text(station['model']), firmwareVersion: text(station['firmwareVersion']), serialNumber: text(station['serialNumber']), bootReason: text(p['reason']), bootedAt: new Date(at).toISOString() };
  }

  #statusNotification(p: Payload, at: number): void {
    const connectorId = index(p['connectorId']);
    // 2.x names it connectorStatus and adds evseId; 1.6 has status and errorCode.
    const twoX = 'connectorStatus' in p || 'evseId' in p;
    const status = text(twoX ? p['connectorStatus'] : p['status']);
    const evseId = twoX ? index(p['evseId']) : null;
    if (connectorId === undefined || status === null || evseId === undefined) return;
    const key = `${evseId ?? '-'}/${connectorId}`;
    const connectors = (this.#connectors ??= new Map());
    if (!connectors.has(key) && connectors.size >= MAX_CONNECTORS) return;
    connectors.set(key, {
      evseId, connectorId, status,
      errorCode: twoX ? null : text(p['errorCode']),
      info: twoX ? null : text(p['info']),
      updatedAt: new Date(at).toISOString(),
    });
  }

  view(): CpFactsView {
    const connectors = [...(this.#connectors?.values() ?? [])].sort((a, b) => (a.evseId ?? -1) - (b.evseId ?? -1) || a.connectorId - b.connectorId);
    return { ...this.#boot, connectors };
  }
}

/**
 * The connection's facts after one decoded frame from its charge point: made on the first CALL that
 * carries any (most frames are not one), otherwise `facts` as it was.
 */
export function noteFacts(facts: CpFacts | undefined, frame: { readonly type: number; readonly action?: string; readonly payload?: object }, at: number): CpFacts | undefined {
  if (frame.type !== 2 || (frame.action !== 'BootNotification' && frame.action !== 'StatusNotification') || frame.payload === undefined) return facts;
  const f = facts ?? new CpFacts();
  f.observe(frame.action, frame.payload, at);
  return f;
}

/** How long and how many disconnected charge points are remembered. */
export interface RecentLimits {
  readonly maxEntries: number;
  readonly maxAgeMs: number;
}

/** 500 charge points, for 24 hours: at most ~3 MB even with every connector table full and long usernames (cut at 256). */
export const RECENT_DISCONNECTS: RecentLimits = { maxEntries: 500, maxAgeMs: 24 * 60 * 60 * 1000 };

export interface DisconnectedCp {
  readonly cpId: string;
  readonly protocol: string;
  readonly remoteAddress: string;
  readonly username: string | null;
  readonly connectedAt: string;
  readonly disconnectedAt: string;
  /** The close reason (errors.md), e.g. closed_by_cp, kicked, keepalive_timeout. */
  readonly reason: string;
  /** The WebSocket close code. */
  readonly code: number;
  /** What the charge point had told about itself. */
  readonly facts: CpFactsView;
}

/** What a connection hands over when it ends. */
export interface EndedConnection {
  readonly cpId: string;
  readonly protocol: string;
  readonly remoteAddress: string;
  readonly username: string | undefined;
  readonly connectedAt: number;
  readonly facts: CpFacts | undefined;
}

/**
 * The charge points that disconnected recently, newest first, one entry per cpId (its last
 * disconnect). Bounded both ways: past maxEntries the oldest goes, past maxAgeMs an entry goes.
 */
export class RecentDisconnects {
  /** Insertion order = disconnect order: the first entry is the oldest. */
  readonly #byId = new Map<string, { at: number; entry: DisconnectedCp }>();

  constructor(readonly limits: RecentLimits = RECENT_DISCONNECTS) {}

  add(conn: EndedConnection, reason: string, code: number, at: number): void {
    this.#byId.delete(conn.cpId);
    this.#byId.set(conn.cpId, {
      at,
      entry: {
        cpId: conn.cpId, protocol: conn.protocol, remoteAddress: conn.remoteAddress, username: conn.username === undefined ? null : cutText(conn.username, MAX_REMEMBERED_USERNAME),
        connectedAt: new Date(conn.connectedAt).toISOString(), disconnectedAt: new Date(at).toISOString(), reason, code,
        facts: conn.facts?.view() ?? NO_FACTS,
      },
    });
    this.#prune(at);
  }

  /** Newest first; entries older than maxAgeMs at `now` are dropped first. */
  list(now: number): DisconnectedCp[] {
    this.#prune(now);
    return [...this.#byId.values()].reverse().map((e) => e.entry);
  }

  get(cpId: string, now: number): DisconnectedCp | undefined {
    this.#prune(now);
    return this.#byId.get(cpId)?.entry;
  }

  get size(): number {
    return this.#byId.size;
  }

  #prune(now: number): void {
    for (const [cpId, e] of this.#byId) {
      if (this.#byId.size <= this.limits.maxEntries && now - e.at <= this.limits.maxAgeMs) break;
      this.#byId.delete(cpId);
    }
  }
}
