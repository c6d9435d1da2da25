// Starts each benchmark target as its own process and reports its ports and pids (for /proc sampling).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { shippedNodeFlags, startGatewayProcess } from './gateway-process.js';
import { processTree } from './proc-tree.js';

/**
 * `diy` is the lean DIY bridge (ocpp-rpc strict + aedes in the same process, bench/targets/diy-lean.ts);
 * `diy-mqttjs-hop` is the first DIY target, which publishes through an MQTT.js connection to its own aedes.
 * `gateway-workers2` is the gateway with ocpp.workers=2: a primary (embedded broker, API) and two workers.
 */
export type TargetName = 'gateway' | 'gateway-baseline' | 'gateway-workers2' | 'diy-tuned' | 'gateway-mosquitto' | 'gateway-mosquitto-per-client' | 'diy' | 'diy-mqttjs-hop' | 'pipe' | 'floor';

/** Node flags for the gateway process (e.g. --cpu-prof), from the bench's own flags. */
export interface TargetOptions { nodeArgs?: string[] }

export interface RunningTarget {
  name: TargetName;
  pid: number;
  /** Other processes whose CPU and RSS belong to the target (the external broker, the gateway's workers). */
  helperPids: number[];
  ocppPort: number;
  mqttPort: number;
  stop(): Promise<void>;
}

const ROOT = new URL('../..', import.meta.url).pathname;
/** Limits off: the benchmarks measure throughput, not the admission control. */
export const BENCH_GATEWAY_SETTINGS = ['ocpp.max_connect_rate=1000000', 'ocpp.connect_burst=1000000', 'ocpp.max_connect_rate_per_address=0', 'ocpp.max_connections_per_address=1000000'];

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  });
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as { port: number };
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

async function startMosquitto(): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'bench-mosq-'));
  writeFileSync(join(dir, 'm.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_queued_messages 100000\nset_tcp_nodelay true\nlog_dest stderr\nlog_type error\nlog_type notice\nlog_type information\n`);
  const child = spawn('mosquitto', ['-c', join(dir, 'm.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let log = '';
    child.stderr?.on('data', (d: Buffer) => {
      log += d.toString();
      if (log.includes(' running')) resolve(); // logged once the listener is open
    });
    child.once('exit', (code) => reject(new Error(`mosquitto exited ${code}: ${log}`)));
  });
  return { child, port };
}

async function startScript(name: string, nodeArgs: string[] = []): Promise<{ child: ChildProcess; ocppPort: number; mqttPort: number }> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(ROOT, 'bench/targets', `${name}.ts`)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  for await (const line of lines) {
    const m = JSON.parse(line) as { ready?: { ocppPort: number; mqttPort: number } };
    if (m.ready) {
      lines.on('line', () => undefined);
      return { child, ...m.ready };
    }
  }
  throw new Error(`${name} exited before it was ready`);
}

export async function startTarget(name: TargetName, extraSettings: string[] = [], opts: TargetOptions = {}): Promise<RunningTarget> {
  switch (name) {
    case 'gateway': {
      const gw = await startGatewayProcess([...BENCH_GATEWAY_SETTINGS, ...extraSettings], opts.nodeArgs);
      return { name, pid: gw.pid, helperPids: [], ocppPort: gw.ocppPort, mqttPort: gw.mqttPort, stop: gw.stop };
    }
    case 'gateway-workers2': {
      // The workers are the primary's children (node:cluster forks them); /proc counts a process's own CPU
      // only (a live child's is not in the parent's), so they are sampled as helpers. The primary logs
      // gateway.started after every worker is ready, so they are all there when this reads the tree.
      const gw = await startGatewayProcess([...BENCH_GATEWAY_SETTINGS, 'ocpp.workers=2', ...extraSettings], opts.nodeArgs);
      const workers = processTree(gw.pid).slice(1);
      if (workers.length !== 2) {
        await gw.stop();
        throw new Error(`gateway-workers2: expected 2 worker processes under pid ${gw.pid}, found ${workers.length}`);
      }
      return { name, pid: gw.pid, helperPids: workers, ocppPort: gw.ocppPort, mqttPort: gw.mqttPort, stop: gw.stop };
    }
    case 'gateway-baseline': {
      // Another commit's gateway (flag --baseline=DIR: a checkout with dist/ built and node_modules), so a
      // lever is measured before and after in one run, under the same machine load.
      const root = process.env['BENCH_BASELINE_DIR'];
      if (root === undefined || root === '') throw new Error('target gateway-baseline needs --baseline=DIR (a checkout of the baseline commit with dist/ built)');
      const gw = await startGatewayProcess([...BENCH_GATEWAY_SETTINGS, ...extraSettings], opts.nodeArgs, root);
      return { name, pid: gw.pid, helperPids: [], ocppPort: gw.ocppPort, mqttPort: gw.mqttPort, stop: gw.stop };
    }
    case 'gateway-mosquitto':
    case 'gateway-mosquitto-per-client': {
      const mosq = await startMosquitto();
      const mode = name === 'gateway-mosquitto-per-client' ? ['mqtt.client_mode=per_client'] : [];
      const gw = await startGatewayProcess([...BENCH_GATEWAY_SETTINGS, `mqtt.url=mqtt://127.0.0.1:${mosq.port}`, ...mode, ...extraSettings], opts.nodeArgs);
      return { name, pid: gw.pid, helperPids: [mosq.child.pid as number], ocppPort: gw.ocppPort, mqttPort: mosq.port, stop: async () => { await gw.stop(); await stopChild(mosq.child); } };
    }
    case 'diy-tuned': {
      // The lean DIY with the Node flags the gateway ships with: what a DIY gains from them too.
      const t = await startScript('diy-lean', [...shippedNodeFlags(), ...(opts.nodeArgs ?? [])]);
      return { name, pid: t.child.pid as number, helperPids: [], ocppPort: t.ocppPort, mqttPort: t.mqttPort, stop: () => stopChild(t.child) };
    }
    case 'diy':
    case 'diy-mqttjs-hop':
    case 'pipe':
    case 'floor': {
      const t = await startScript(name === 'diy' ? 'diy-lean' : name, opts.nodeArgs);
      return { name, pid: t.child.pid as number, helperPids: [], ocppPort: t.ocppPort, mqttPort: t.mqttPort, stop: () => stopChild(t.child) };
    }
  }
}
