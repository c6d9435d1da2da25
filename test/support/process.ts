// The gateway as a child process, for tests of signals, exit codes and crashes. It runs the sources as
// `npm run dev` does (no build step, so the tests see the code as it is); the built package that
// `npm start` and the installed `ocpp-gateway` run is tested in test/package.e2e.test.ts.
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { within } from './harness.js';

const ROOT = new URL('../..', import.meta.url).pathname;
export const EPHEMERAL_FLAGS = ['--ocpp-host', '127.0.0.1', '--ocpp-port', '0', '--mqtt-port', '0', '--mqtt-ws-port', '0', '--api-port', '0', '--set', 'mqtt.embedded.host=127.0.0.1'];

export interface Started { child: ChildProcess; ports: { ocpp: number; mqtt: number; mqttWs: number; api: number }; exit: Promise<number | null>; stderr: () => string }

/** `npm run dev` runs `node <its Node flags> --import tsx src/cli.ts`; spawn exactly that (not through npm), so signals reach the gateway itself. */
export function startCommand(): string[] {
  const script = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts['dev'] ?? '';
  assert.match(script, /^node (--[\w-]+=\S+ )*--import tsx src\/cli\.ts$/);
  return script.split(' ').slice(1);
}

/** Every child still running when the test file's process ends is killed: a failed test never leaves one behind. */
const LIVE = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of LIVE) child.kill('SIGKILL');
});

/** How long a gateway process may take to log gateway.started (it compiles every version's schemas; CI machines are busy). */
export const START_MS = 60_000;

export function run(args: string[], env: Record<string, string> = {}): { child: ChildProcess; exit: Promise<number | null>; stderr: () => string } {
  const child = spawn(process.execPath, [...startCommand(), ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  LIVE.add(child);
  child.once('exit', () => LIVE.delete(child));
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, exit, stderr: () => err };
}

export async function startProcess(t: TestContext, args: string[] = []): Promise<Started> {
  const r = run([...EPHEMERAL_FLAGS, ...args]);
  t.after(() => { if (r.child.exitCode === null) r.child.kill('SIGKILL'); });
  // A start that never comes is killed at the deadline, which ends the loop below with the error.
  const deadline = setTimeout(() => r.child.kill('SIGKILL'), START_MS);
  t.after(() => clearTimeout(deadline));
  const lines = createInterface({ input: r.child.stdout as NodeJS.ReadableStream });
  for await (const line of lines) {
    const entry = JSON.parse(line) as { msg: string; ocpp?: { port: number }; mqtt?: { port: number; wsPort: number }; api?: { port: number } };
    if (entry.msg === 'gateway.started') {
      lines.on('line', () => undefined); // keep draining stdout
      return { ...r, ports: { ocpp: entry.ocpp?.port ?? 0, mqtt: entry.mqtt?.port ?? 0, mqttWs: entry.mqtt?.wsPort ?? 0, api: entry.api?.port ?? 0 } };
    }
  }
  throw new Error(`gateway exited before starting: ${r.stderr()}`);
}

/** A child process read line by line: what it printed so far, and a bounded wait for a line. */
export interface LineProcess { child: ChildProcess; lines: string[]; waitForLine(re: RegExp, what: string): Promise<string>; exit: Promise<number | null> }

/** Spawns `node <args>` in the project root (killed at the end of the test) and collects its stdout lines. */
export function lineProcess(t: TestContext, args: string[]): LineProcess {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  LIVE.add(child);
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => {
    LIVE.delete(child);
    resolve(code);
  }));
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  const lines: string[] = [];
  const waiters: Array<{ re: RegExp; resolve: (l: string) => void }> = [];
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    lines.push(line);
    for (const w of [...waiters]) if (w.re.test(line)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(line); }
  });
  return {
    child,
    lines,
    exit,
    waitForLine: (re, what) => {
      const seen = lines.find((l) => re.test(l));
      if (seen !== undefined) return Promise.resolve(seen);
      return within(new Promise<string>((resolve) => waiters.push({ re, resolve })), `${what} (stderr: ${stderr.slice(-2000)})`);
    },
  };
}

export interface Ran { code: number | null; stdout: string; stderr: string }

/** Runs a program to its end, killed after `ms` (and the wait itself bounded). `env` is the whole environment. */
export async function runToEnd(cmd: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; ms?: number } = {}): Promise<Ran> {
  const ms = options.ms ?? 20_000;
  const child = spawn(cmd, args, { cwd: options.cwd ?? ROOT, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'], timeout: ms });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await within(new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c) => resolve(c));
  }), `${cmd} ${args.join(' ')} to finish`, ms + 5_000);
  return { code, stdout, stderr };
}
