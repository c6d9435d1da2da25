// External brokers started by the tests on free loopback ports, stopped at the end of the test.
import type { TestContext } from 'node:test';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defer } from './cleanup.js';

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export function findBinary(name: string): string | undefined {
  return ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'].map((d) => join(d, name)).find((p) => existsSync(p));
}

/** A broker process started by a test: stop() kills it; logged(text) resolves once its log shows text. */
export interface BrokerProcess {
  readonly stop: () => void;
  readonly logged: (text: string) => Promise<void>;
}

/** Spawns a broker, stopped at the end of the test; resolves once its log shows `ready`. */
async function spawnUntilLogged(t: TestContext, bin: string, args: string[], ready: string): Promise<BrokerProcess> {
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const stop = () => child.kill('SIGKILL');
  defer(t, stop);
  let log = '';
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  child.stderr?.on('data', (d: Buffer) => {
    log += d.toString();
    for (const w of [...waiters]) {
      if (log.includes(w.text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  });
  const logged = (text: string) => (log.includes(text) ? Promise.resolve() : new Promise<void>((resolve) => waiters.push({ text, resolve })));
  await new Promise<void>((resolve, reject) => {
    void logged(ready).then(resolve);
    child.once('exit', (code) => reject(new Error(`${bin} exited with ${code}: ${log}`)));
  });
  return { stop, logged };
}

/** Starts Mosquitto on a free port; resolves once it listens. */
export async function startMosquitto(t: TestContext, extraConfig = '', fixedPort?: number): Promise<{ url: string; port: number; dir: string } & BrokerProcess> {
  const bin = findBinary('mosquitto');
  if (bin === undefined) throw new Error('mosquitto is not installed (.ci/run installs it with apt-get)');
  const dir = mkdtempSync(join(tmpdir(), 'ocpp-gw-mosq-'));
  const port = fixedPort ?? (await freePort());
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest stderr\nlog_type error\nlog_type warning\nlog_type notice\nlog_type information\n${extraConfig}`);
  // "running" is logged once every listener is open ("Opening ... listen socket" comes before the bind).
  const proc = await spawnUntilLogged(t, bin, ['-c', conf], ' running');
  return { url: `mqtt://127.0.0.1:${port}`, port, dir, ...proc };
}

/** Starts nats-server with its MQTT listener (needs JetStream) on free ports; resolves once it listens. */
export async function startNats(t: TestContext): Promise<{ url: string; port: number } & BrokerProcess> {
  const bin = findBinary('nats-server');
  if (bin === undefined) throw new Error('nats-server is not installed (.ci/run installs it with apt-get)');
  const dir = mkdtempSync(join(tmpdir(), 'ocpp-gw-nats-'));
  const [natsPort, port] = [await freePort(), await freePort()];
  const conf = join(dir, 'nats.conf');
  writeFileSync(conf, `listen: 127.0.0.1:${natsPort}\nserver_name: ocpp_gw_test\njetstream { store_dir: "${join(dir, 'js')}" }\nmqtt { listen: 127.0.0.1:${port} }\n`);
  const proc = await spawnUntilLogged(t, bin, ['-c', conf], `Listening for MQTT clients on mqtt://127.0.0.1:${port}`);
  return { url: `mqtt://127.0.0.1:${port}`, port, ...proc };
}

