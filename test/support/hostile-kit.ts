// Helpers for the crash and flood tests: deadlines on every wait, a service that answers Heartbeats,
// a good charge point's round trip, metric reads and deep JSON. [SPEC §8]
import type { TestContext } from 'node:test';
import type { RPCClient } from 'ocpp-rpc';
import type { Gateway } from '../../src/gateway.js';
import { Service, within as harnessWithin, type Received } from './harness.js';

/** `work`, or a clear failure after `ms` (the harness's `within`, arguments in this kit's order). */
export function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  return harnessWithin(work, what, ms);
}

/** A service that answers charge point CALLs on up/request with a Heartbeat-style result (all but `silentFor`'s). */
export async function answeringService(t: TestContext, mqttUrl: string, silentFor: (cpId: string) => boolean = () => false): Promise<Service> {
  const svc = await Service.connect(t, mqttUrl, ['ocpp/+/up/request/#', 'ocpp/+/event/#', 'ocpp/+/up/error/#', 'ocpp/+/up/response/#', 'ocpp/+/up/resulterror/#']);
  svc.client.on('message', (topic) => {
    const parts = topic.split('/');
    if (parts[2] !== 'up' || parts[3] !== 'request' || silentFor(parts[1] ?? '')) return;
    void svc.publish(`ocpp/${parts[1]}/dn/response/${parts[4]}/${parts[5]}`, { currentTime: new Date().toISOString() });
  });
  return svc;
}

/** One Heartbeat round trip of a good charge point, with a deadline. */
export async function roundTrip(cp: RPCClient, ms = 5000): Promise<void> {
  const answer = (await within(cp.call('Heartbeat', {}) as Promise<unknown>, ms, 'Heartbeat answer for the good charge point')) as { currentTime?: unknown };
  if (typeof answer.currentTime !== 'string') throw new Error(`unexpected Heartbeat answer ${JSON.stringify(answer)}`);
}

/** A counter from /api/v1/stats' source: metric name without the prefix, labels joined by ",". */
export async function metric(gw: Gateway, name: string, labels: string): Promise<number> {
  const snapshot = await gw.metrics.snapshot();
  const m = snapshot[name];
  return typeof m === 'object' ? (m[labels] ?? 0) : 0;
}

/** Waits for a message the service received (or receives) matching `match`. */
export function received(svc: Service, match: (m: Received) => boolean, ms: number, what: string): Promise<Received> {
  return within(svc.waitFor(match), ms, what);
}

/** `levels` nested objects, ~6 bytes a level: 20,000 levels are the 120 KB crash frame. */
export function deepJson(levels: number): string {
  return `${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}`;
}

/** Yields to the event loop (timers and I/O run), so loops in the tests can never spin in microtasks. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A good charge point calling Heartbeat in a loop until stopped: counts answers and failures. Each
 * turn yields to the event loop, so a call that fails at once cannot spin in microtasks.
 */
export function heartbeatLoop(cp: RPCClient): { readonly ok: () => number; readonly failures: string[]; reached(n: number, ms: number): Promise<void>; stop(): Promise<void> } {
  let ok = 0;
  let running = true;
  const failures: string[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const loop = (async () => {
    while (running) {
      try {
        await roundTrip(cp, 10_000);
        ok++;
        for (const w of waiters.splice(0)) if (ok >= w.n) w.resolve(); else waiters.push(w);
      } catch (err) {
        failures.push(String(err));
      }
      await turn();
    }
  })();
  return {
    ok: () => ok,
    failures,
    reached: (n, ms) => within(ok >= n ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ n, resolve })), ms, `${n} good round trips (have ${ok})`),
    stop: async () => {
      running = false;
      await within(loop, 15_000, 'the end of the good charge point loop');
    },
  };
}
