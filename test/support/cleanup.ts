// Cleanups in reverse order of creation (node:test runs t.after hooks first-in-first-out), so a
// broker started first is stopped last, after the gateway and clients that use it.
import type { TestContext } from 'node:test';

const CLEANUP_MS = 30_000;

const stacks = new WeakMap<TestContext, Array<() => unknown>>();

export function defer(t: TestContext, fn: () => unknown): void {
  let stack = stacks.get(t);
  if (stack === undefined) {
    const created: Array<() => unknown> = [];
    stack = created;
    stacks.set(t, created);
    t.after(async () => {
      // Each cleanup has a deadline too: a close that never finishes fails the test instead of hanging CI.
      while (created.length > 0) {
        const fn = created.pop();
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<never>((_resolve, reject) => {
          timer = setTimeout(() => reject(new Error(`a cleanup did not finish within ${CLEANUP_MS} ms: ${String(fn).slice(0, 120)}`)), CLEANUP_MS);
        });
        try {
          await Promise.race([Promise.resolve().then(() => fn?.()), deadline]);
        } finally {
          clearTimeout(timer);
        }
      }
    });
  }
  stack.push(fn);
}
