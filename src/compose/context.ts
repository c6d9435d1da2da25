// What every builder of the composition root gets: the frozen config, the logger, the clock, and
// where to register its shutdown work. `late` holds what is built after a builder ran but used by
// callbacks it installed (the embedded broker counts refusals in metrics made later).
import type { Config } from '../config/schema.js';
import type { Clock } from '../session/clock.js';
import type { Logger } from '../obs/log.js';
import type { Metrics } from '../obs/metrics.js';

export interface ComposeContext {
  readonly config: Readonly<Config>;
  readonly log: Logger;
  readonly clock: Clock;
  /** Shutdown work for a start that fails part way; run last-in first-out. */
  readonly cleanups: Array<() => Promise<void> | void>;
  readonly late: { metrics?: Metrics };
}

/**
 * Logs `event` at most once per interval (the first, then how many were not logged): for refusals a
 * web page can repeat in a loop.
 */
export function sampledWarn(log: Logger, clock: Clock, event: string, intervalMs = 10_000): (fields: Record<string, unknown>) => void {
  let last = -Infinity;
  let notLogged = 0;
  return (fields) => {
    const now = clock.now();
    if (now - last < intervalMs) {
      notLogged++;
      return;
    }
    log.warn({ ...fields, notLogged }, event);
    last = now;
    notLogged = 0;
  };
}
