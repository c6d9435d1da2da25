// Starts the gateway CLI as its own process on ephemeral ports and reads its actual ports from the log.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface GatewayProcess {
  child: ChildProcess;
  pid: number;
  ocppPort: number;
  mqttPort: number;
  apiPort: number;
  stop(): Promise<void>;
}

const ROOT = new URL('../..', import.meta.url).pathname;

/**
 * The Node flags the gateway ships with, read from the shebang of `root`'s bin/ocpp-gateway.js
 * (`#!/usr/bin/env -S node --max-semi-space-size=64`): the bench runs the gateway as operators do.
 */
export function shippedNodeFlags(root = ROOT): string[] {
  const first = readFileSync(join(root, 'bin/ocpp-gateway.js'), 'utf8').split('\n', 1)[0] ?? '';
  const words = first.replace(/^#!\S*env\s+(-S\s+)?/, '').split(/\s+/).filter((w) => w !== '');
  return words.slice(1).filter((w) => w.startsWith('--'));
}

/**
 * `nodeArgs` go before the script (e.g. `--cpu-prof`, `--cpu-prof-dir=DIR`: written when the gateway exits).
 * `root`: the checkout whose bin/ and dist/ run (another commit's, for a before/after in one run).
 */
export async function startGatewayProcess(sets: string[] = [], nodeArgs: string[] = [], root = ROOT): Promise<GatewayProcess> {
  const args = [...shippedNodeFlags(root), ...nodeArgs, 'bin/ocpp-gateway.js', '--ocpp-host', '127.0.0.1', '--ocpp-port', '0', '--mqtt-port', '0', '--mqtt-ws-port', '0', '--api-port', '0', '--log-level', 'info', '--set', 'mqtt.embedded.host=127.0.0.1'];
  for (const s of sets) args.push('--set', s);
  // The log goes to a file, as an operator's goes to a file or journald, not to a pipe that this
  // process (busy with the load and the service) would have to drain and split into lines: the gateway's
  // logging then costs what it costs an operator, and none of it lands in the bench process's CPU.
  const logDir = mkdtempSync(join(tmpdir(), 'bench-gw-log-'));
  const logFile = join(logDir, 'gateway.log');
  const out = openSync(logFile, 'w');
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', out, 'inherit'] });
  closeSync(out);
  const cleanup = () => rmSync(logDir, { recursive: true, force: true });
  try {
    const started = await startedLine(child, logFile);
    return {
      child,
      pid: child.pid as number,
      ocppPort: started.ocpp?.port ?? 0,
      mqttPort: started.mqtt?.port ?? 0,
      apiPort: started.api?.port ?? 0,
      stop: () => new Promise((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) {
          cleanup();
          return resolve();
        }
        child.once('exit', () => {
          cleanup();
          resolve();
        });
        child.kill('SIGTERM');
      }),
    };
  } catch (err) {
    child.kill('SIGKILL');
    cleanup();
    throw err;
  }
}

interface StartedLine { msg: string; worker?: number; ocpp?: { port: number }; mqtt?: { port: number }; api?: { port: number } }

/**
 * Reads the log file as it grows until the primary's `gateway.started` line (with ocpp.workers > 1 each
 * worker logs its own first, without ports; the primary's, once every worker is ready, is the one that
 * counts). Rejects when the gateway exits first or after 120 s.
 */
function startedLine(child: ChildProcess, logFile: string): Promise<StartedLine> {
  return new Promise((resolve, reject) => {
    let offset = 0;
    let partial = '';
    const finish = (err: Error | undefined, line?: StartedLine) => {
      clearInterval(poll);
      clearTimeout(deadline);
      watcher.close();
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(line as StartedLine);
    };
    const readNew = () => {
      const fd = openSync(logFile, 'r');
      try {
        const buf = Buffer.alloc(64 * 1024);
        for (;;) {
          const n = readSync(fd, buf, 0, buf.length, offset);
          if (n === 0) break;
          offset += n;
          partial += buf.subarray(0, n).toString('utf8');
        }
      } finally {
        closeSync(fd);
      }
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const text of lines) {
        if (text === '') continue;
        const e = JSON.parse(text) as StartedLine;
        if (e.msg === 'gateway.started' && e.worker === undefined) return finish(undefined, e);
      }
    };
    const onExit = () => finish(new Error(`the gateway exited before starting (log: ${logFile})`));
    child.once('exit', onExit);
    const watcher = watch(logFile, () => readNew());
    // fs.watch may coalesce or miss events: a slow poll as well.
    const poll = setInterval(readNew, 250);
    const deadline = setTimeout(() => finish(new Error('the gateway did not log gateway.started within 120 s')), 120_000);
    readNew();
  });
}
