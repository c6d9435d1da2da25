// The Node flags a worker process starts with (ocpp.workers > 1). [docs/operations.md "Node flags"]
//
// node:cluster gives each worker the primary's own flags. The gateway ships with
// --max-semi-space-size=64, a CPU lever for one busy process (scavenges a quarter as often), whose price
// is a young generation that grows to 2 × 64 MiB under a burst and stays committed afterwards. With N
// workers that price is paid N times: on 6 workers, with the shipped flag everywhere the host's RSS was
// 2.3 GiB with 72,000 CPs connected; with 16 MiB everywhere, 1.9 GiB with all 100,000 (docs/performance.md,
// Scale). Each worker carries 1/N of the load, so its allocation rate, and what a larger young
// generation saves, shrink with N too: workers run with V8's own default for 64-bit, 16 MiB; the
// primary keeps the shipped flag.

/** V8's default maximum semi-space on 64-bit platforms, MiB. */
export const WORKER_SEMI_SPACE_MIB = 16;

const SEMI_SPACE = /^--max[-_]semi[-_]space[-_]size(=.*)?$/;

/** The primary's execArgv with its semi-space flag (either spelling, `=N` or `N` as the next word) replaced. */
export function workerExecArgv(primary: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < primary.length; i++) {
    const m = SEMI_SPACE.exec(primary[i]!);
    if (m === null) {
      out.push(primary[i]!);
      continue;
    }
    if (m[1] === undefined && i + 1 < primary.length && /^\d+$/.test(primary[i + 1]!)) i++;
  }
  out.push(`--max-semi-space-size=${WORKER_SEMI_SPACE_MIB}`);
  return out;
}
