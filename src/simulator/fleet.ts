// A fleet of simulated charge points: started at a paced rate, summarised on one line every few
// seconds, stopped all at once (every timer cleared, every connection closed).
import type { Protocol } from '../ocpp/protocols.js';
import { cut, emptyStats, SimulatedChargePoint, type ChargePointOptions, type FleetStats } from './charge-point.js';
import { versionSchemas } from './schemas.js';

/** Upper bound of --cps: one process, one event loop; more charge points = more simulator processes. */
export const MAX_CPS = 1000;
/** Upper bound of --ramp: the gateway's per-address connect rate (ocpp.max_connect_rate_per_address) is 100/s. */
export const MAX_RAMP = 100;

export interface FleetOptions extends Omit<ChargePointOptions, 'protocol'> {
  /** The versions the charge points speak, taken in turn: CP 1 the first, CP 2 the second, ... */
  readonly protocols: readonly Protocol[];
  readonly cps: number;
  /** cpIds are prefix + a number padded to three digits or more: SIM001, SIM002, ... */
  readonly prefix: string;
  /** Connections started per second. */
  readonly rampPerSecond: number;
  /** Seconds between summary lines; 0 = none. */
  readonly summaryIntervalS: number;
}

export class Fleet {
  readonly stats: FleetStats = emptyStats();
  readonly chargePoints: SimulatedChargePoint[];
  readonly #options: FleetOptions;
  readonly #log: (line: string) => void;
  readonly #ramp = new Set<NodeJS.Timeout>();
  #summary: NodeJS.Timeout | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: FleetOptions, log: (line: string) => void) {
    if (!Number.isInteger(options.cps) || options.cps < 1 || options.cps > MAX_CPS) throw new Error(`cps must be an integer from 1 to ${MAX_CPS}`);
    if (options.protocols.length === 0) throw new Error('at least one protocol');
    this.#options = options;
    this.#log = log;
    const width = Math.max(3, String(options.cps).length);
    this.chargePoints = Array.from({ length: options.cps }, (_, i) => {
      const protocol = options.protocols[i % options.protocols.length] as Protocol;
      return new SimulatedChargePoint(`${options.prefix}${String(i + 1).padStart(width, '0')}`, { ...options, protocol }, versionSchemas(protocol), this.stats, log);
    });
  }

  start(): void {
    const gapMs = 1000 / this.#options.rampPerSecond;
    this.chargePoints.forEach((cp, i) => {
      const t = setTimeout(() => {
        this.#ramp.delete(t);
        cp.start();
      }, i * gapMs);
      this.#ramp.add(t);
    });
    if (this.#options.summaryIntervalS > 0) this.#summary = setInterval(() => this.#log(this.summary()), this.#options.summaryIntervalS * 1000);
  }

  summary(): string {
    const s = this.stats;
    const line =
      `${this.#options.protocols.join('+')} ${s.online}/${this.chargePoints.length} online, ${s.accepted} accepted, ${s.waiting} waiting for boot | ` +
      `${s.txActive} tx active, ${s.txDone} done, ${s.meterValues} meter values | ${s.callsOk} calls ok, ${s.callsFailed} failed | ` +
      `${s.commands} commands answered | ${s.reconnects} reconnects`;
    const error = s.lastError === undefined ? '' : ` | last error: ${cut(s.lastError)}`;
    s.lastError = undefined;
    return line + error;
  }

  /** Stops every charge point; resolves when every connection is closed and no timer is left. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      for (const t of this.#ramp) clearTimeout(t);
      this.#ramp.clear();
      clearInterval(this.#summary);
      await Promise.all(this.chargePoints.map((cp) => cp.stop()));
    })();
    return this.#stopping;
  }
}
