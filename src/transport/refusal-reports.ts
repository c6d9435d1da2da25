// Reports of refused upgrades (the cp.upgrade_refused log line and the event/rejected message), budgeted
// per source address. Before an upgrade succeeds there is no connection to charge, and the cpId is
// the client's own choice, so the address is the client: a burst of refused upgrades from one
// address gets ocpp.max_rejected_events reports per window, then one summary line with the counts.
// Every refusal is still answered and counted in ocpp_gateway_upgrade_refusals_total. [SPEC §8]
import { WindowBudget } from '../session/budget.js';
import type { Clock } from '../session/clock.js';

export interface RefusalReportOptions {
  /** Reports per address and window; 0 = unlimited. */
  readonly maxReports: number;
  readonly windowMs: number;
  /** Addresses remembered at once; the least recently seen is summarised and forgotten beyond it. */
  readonly maxAddresses: number;
  readonly clock: Pick<Clock, 'now' | 'setTimeout' | 'clearTimeout'>;
  /** The refusals held back for one address since its last summary, by reason. */
  readonly onSummary: (source: string, held: ReadonlyMap<string, number>) => void;
}

export class RefusalReports {
  readonly #o: RefusalReportOptions;
  /** Insertion order = least recently seen first (an entry is re-inserted on every use). */
  readonly #budgets = new Map<string, WindowBudget>();
  #summaryTimer: unknown;

  constructor(options: RefusalReportOptions) {
    this.#o = options;
  }

  /** True: report this refusal (log line, event). False: held back, tallied for the next summary. */
  allow(source: string, reason: string): boolean {
    if (this.#o.maxReports === 0) return true;
    const now = this.#o.clock.now();
    let budget = this.#budgets.get(source);
    if (budget === undefined) budget = new WindowBudget(this.#o.maxReports, this.#o.windowMs);
    else this.#budgets.delete(source);
    this.#budgets.set(source, budget);
    if (this.#budgets.size > this.#o.maxAddresses) this.#forgetOldest();
    if (budget.take(reason, now)) return true;
    this.#summaryTimer ??= this.#o.clock.setTimeout(() => {
      this.#summaryTimer = undefined;
      this.flush();
    }, Math.max(0, budget.windowEndsAt - now));
    return false;
  }

  /** One summary per address that held reports back; called when a window ends and at shutdown. */
  flush(): void {
    if (this.#summaryTimer !== undefined) {
      this.#o.clock.clearTimeout(this.#summaryTimer);
      this.#summaryTimer = undefined;
    }
    for (const [source, budget] of this.#budgets) {
      const held = budget.drain();
      if (held !== undefined) this.#o.onSummary(source, held);
    }
  }

  get trackedAddresses(): number {
    return this.#budgets.size;
  }

  #forgetOldest(): void {
    const oldest = this.#budgets.keys().next();
    if (oldest.done === true) return;
    const held = this.#budgets.get(oldest.value)?.drain();
    this.#budgets.delete(oldest.value);
    if (held !== undefined) this.#o.onSummary(oldest.value, held);
  }
}
