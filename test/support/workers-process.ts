// The gateway as a process with --workers N (the CLI's primary and its workers), for the workers
// tests and for the behaviour suite. [SPEC §7]
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { GatewayFactory } from './behaviour-suite.js';
import { defer } from './cleanup.js';
import { within } from './harness.js';
import { EPHEMERAL_FLAGS, START_MS, lineProcess, startCommand, type LineProcess } from './process.js';

/** The sources as `npm run dev` runs them, its Node flags included (the workers inherit them). */
export const CLI = startCommand();

export interface Workers {
  p: LineProcess;
  ocppUrl: string;
  /** The wss:// listener, when ocpp.tls is set (host localhost, for the certificate's name). */
  wssUrl: string | undefined;
  /** The embedded broker's address (the primary hosts it); undefined with an external broker. */
  mqttUrl: string | undefined;
  api: string;
  pids: number[];
}

/** Waits (polling what the process printed, with a deadline) for a line matching `re` after line `from`. */
export async function lineAfter(p: LineProcess, re: RegExp, what: string, from = 0, ms = START_MS): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const found = p.lines.slice(from).find((l) => re.test(l));
    if (found !== undefined) return found;
    if (p.child.exitCode !== null) throw new Error(`the gateway exited (${p.child.exitCode}) while waiting for ${what}`);
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const STARTED = /"msg":"gateway\.started"/;

/** Starts the CLI with --workers n on ephemeral ports; at the test's end SIGTERM (and a bounded wait for its exit). */
export async function startWorkers(t: TestContext, args: string[] = [], n = 2): Promise<Workers> {
  const holder: { p?: LineProcess } = {};
  defer(t, async () => {
    const p = holder.p;
    if (p === undefined || p.child.exitCode !== null) return;
    p.child.kill('SIGTERM');
    await within(p.exit, 'the gateway to exit', START_MS);
  });
  const p = lineProcess(t, [...CLI, ...EPHEMERAL_FLAGS, '--workers', String(n), ...args]);
  holder.p = p;
  // The primary's gateway.started comes after every worker's (theirs carry "worker").
  const line = await lineAfter(p, new RegExp(`"workers":${n}.*${STARTED.source}`), 'the primary to log gateway.started');
  const entry = JSON.parse(line) as { ocpp: { port: number }; ocppTls: { port: number } | null; mqtt?: { port?: number }; api: { port: number }; pids: number[] };
  assert.equal(p.lines.filter((l) => STARTED.test(l) && /"worker":\d/.test(l)).length, n, 'each worker logged its own start');
  return {
    p,
    ocppUrl: `ws://127.0.0.1:${entry.ocpp.port}/ocpp`,
    wssUrl: entry.ocppTls ? `wss://localhost:${entry.ocppTls.port}/ocpp` : undefined,
    mqttUrl: entry.mqtt?.port !== undefined ? `mqtt://127.0.0.1:${entry.mqtt.port}` : undefined,
    api: `http://127.0.0.1:${entry.api.port}`,
    pids: entry.pids,
  };
}

/**
 * The behaviour suite's gateway as a --workers 2 process: the settings become --set flags. Only
 * ocpp1.6 is enabled (the suite speaks it alone), so that three processes compile one schema set.
 */
export const workersGateway: GatewayFactory = async (t, settings) => {
  const args = Object.entries({ 'ocpp.protocols': 'ocpp1.6', ...settings }).flatMap(([k, v]) => ['--set', `${k}=${String(v)}`]);
  const w = await startWorkers(t, args);
  return {
    ocppUrl: w.ocppUrl,
    mqttUrl: w.mqttUrl ?? '',
    apiUrl: w.api,
    queueLength: async (cpId) => {
      const res = await within(fetch(`${w.api}/api/v1/clients/${encodeURIComponent(cpId)}`), `GET client ${cpId}`);
      return res.status === 200 ? ((await res.json()) as { queueLength: number }).queueLength : undefined;
    },
  };
};
