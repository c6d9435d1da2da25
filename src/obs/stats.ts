// Gateway-wide counters, read by the API. Every limit hit and every drop is counted here.
export class Stats {
  connects = 0;
  readonly disconnects: Record<string, number> = {};
  readonly upgradeRefusals: Record<string, number> = {};
  readonly gatewayErrors: Record<string, number> = {};
  readonly rejected: Record<string, number> = {};
  /** Keyed "direction:code", e.g. "upstream:OccurenceConstraintViolation". */
  readonly validationFailures: Record<string, number> = {};
  framesIn = 0;
  framesOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  publishes = 0;
  publishFailures = 0;
  concurrentForwarded = 0;

  static bump(table: Record<string, number>, key: string): void {
    table[key] = (table[key] ?? 0) + 1;
  }
}
