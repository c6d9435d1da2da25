// Cleanups in reverse order of creation (node:test runs t.after hooks first-in-first-out), so a
// broker started first is stopped last, after the gateway and clients that use it.
import type { TestContext } from 'node:test';

const stacks = new WeakMap<TestContext, Array<() => unknown>>();

export function defer(t: TestContext, fn: () => unknown): void {
  let stack = stacks.get(t);
  if (stack === undefined) {
    const created: Array<() => unknown> = [];
    stack = created;
    stacks.set(t, created);
    t.after(async () => {
      while (created.length > 0) await created.pop()?.();
    });
  }
  stack.push(fn);
}
