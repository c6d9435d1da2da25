// Log lines a charge point causes, rate-limited per event id: a CP that sends two million bad frames
// gets log.max_cp_lines lines per event id and window, then one `log.suppressed` line per event id
// with the count. Cheap when over budget: a map lookup and a counter, no line built. [SPEC §8]
import type { Logger } from './log.js';
import type { Clock } from '../session/clock.js';
import { WindowBudget } from '../session/budget.js';

export type CpLogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface CpLogOptions {
  readonly cpId: string;
  /** log.max_cp_lines (0 = unlimited) per log.cp_lines_window. */
  readonly maxLines: number;
  readonly windowMs: number;
  /** Timers for the summary; the connection passes its guarded ones. */
  readonly clock: Pick<Clock, 'now' | 'setTimeout' | 'clearTimeout'>;
  /** A line was dropped (for the metric). */
  readonly onDropped: (msg: string) => void;
}

export class CpLog {
  readonly #log: Logger;
  readonly #o: CpLogOptions;
  /** One budget per event id; the ids are the code's constants, so this stays a handful of entries. */
  readonly #budgets = new Map<string, WindowBudget>();
  #summaryTimer: unknown;

  constructor(log: Logger, options: CpLogOptions) {
    this.#log = log;
    this.#o = options;
  }

  /**
   * Writes the line if this charge point's budget for `msg` allows it. `fields` carry the cpId; a
   * function is called only for a line that is written (fields costly to build, a frame's text).
   */
  line(level: CpLogLevel, fields: object | (() => object), msg: string): void {
    if (!this.#log.isLevelEnabled(level)) return;
    let budget = this.#budgets.get(msg);
    if (budget === undefined) this.#budgets.set(msg, (budget = new WindowBudget(this.#o.maxLines, this.#o.windowMs)));
    const now = this.#o.clock.now();
    if (budget.take(msg, now)) {
      this.#log[level](typeof fields === 'function' ? fields() : fields, msg);
      return;
    }
    this.#o.onDropped(msg);
    this.#summaryTimer ??= this.#o.clock.setTimeout(() => {
      this.#summaryTimer = undefined;
      this.flush();
    }, Math.max(0, budget.windowEndsAt - now));
  }

  /** One `log.suppressed` line per event id that dropped lines since the last summary. */
  flush(): void {
    if (this.#summaryTimer !== undefined) {
      this.#o.clock.clearTimeout(this.#summaryTimer);
      this.#summaryTimer = undefined;
    }
    for (const [msg, budget] of this.#budgets) {
      const dropped = budget.drain()?.get(msg);
      if (dropped !== undefined) this.#log.warn({ cpId: this.#o.cpId, event: msg, count: dropped, windowMs: this.#o.windowMs }, 'log.suppressed');
    }
  }
}
