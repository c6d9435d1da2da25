// Starts the gateway CLI as its own process on ephemeral ports and reads its actual ports from the log.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

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
  const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  for await (const line of lines) {
    const e = JSON.parse(line) as { msg: string; worker?: number; ocpp?: { port: number }; mqtt?: { port: number }; api?: { port: number } };
    // With ocpp.workers > 1 each worker logs its own gateway.started (its broker is the primary's, no
    // ports of its own); the primary's line, once every worker is ready, is the one that counts.
    if (e.msg === 'gateway.started' && e.worker === undefined) {
      lines.on('line', () => undefined);
      return {
        child,
        pid: child.pid as number,
        ocppPort: e.ocpp?.port ?? 0,
        mqttPort: e.mqtt?.port ?? 0,
        apiPort: e.api?.port ?? 0,
        stop: () => new Promise((resolve) => {
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
      };
    }
  }
  throw new Error('the gateway exited before starting');
}
