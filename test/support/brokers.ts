// External brokers started by the tests on free loopback ports, stopped at the end of the test.
import type { TestContext } from 'node:test';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defer } from './cleanup.js';

/** Ports this process has handed out: the kernel may offer a just-closed port again (seen in CI). */
const handedOut = new Set<number>();

/** A loopback port that was free a moment ago and that this process has not handed out before. */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const srv = createServer();
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    const { port } = srv.address() as { port: number };
    await new Promise<void>((resolve) => srv.close(() => resolve()));
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error('no fresh free port in 50 attempts');
}

export function findBinary(name: string): string | undefined {
  return ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'].map((d) => join(d, name)).find((p) => existsSync(p));
}

/** A folder for one broker's files, removed at the end of the test (after the broker is stopped). */
function brokerDir(t: TestContext, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  defer(t, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A broker process started by a test: stop() kills it; logged(text) resolves once its log shows text. */
export interface BrokerProcess {
  readonly stop: () => void;
  readonly logged: (text: string) => Promise<void>;
}

/**
 * Spawns a broker, stopped at the end of the test; resolves once its log (stdout or stderr) shows
 * `ready`. With `group`, the broker runs in a process group of its own and stop() kills the whole
 * group (RabbitMQ's start script runs the Erlang VM as a child).
 */
async function spawnUntilLogged(t: TestContext, bin: string, args: string[], ready: string, options: { env?: NodeJS.ProcessEnv; group?: boolean } = {}): Promise<BrokerProcess> {
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: options.group === true, ...(options.env ? { env: options.env } : {}) });
  const stop = () => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    if (options.group === true) process.kill(-child.pid, 'SIGKILL');
    else child.kill('SIGKILL');
  };
  defer(t, stop);
  let log = '';
  const waiters: Array<{ text: string; resolve: () => void }> = [];
  const onData = (d: Buffer) => {
    log += d.toString();
    for (const w of [...waiters]) {
      if (log.includes(w.text)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
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
  const dir = brokerDir(t, 'ocpp-gw-mosq-');
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
  const dir = brokerDir(t, 'ocpp-gw-nats-');
  const [natsPort, port] = [await freePort(), await freePort()];
  const conf = join(dir, 'nats.conf');
  writeFileSync(conf, `listen: 127.0.0.1:${natsPort}\nserver_name: ocpp_gw_test\njetstream { store_dir: "${join(dir, 'js')}" }\nmqtt { listen: 127.0.0.1:${port} }\n`);
  const proc = await spawnUntilLogged(t, bin, ['-c', conf], `Listening for MQTT clients on mqtt://127.0.0.1:${port}`);
  return { url: `mqtt://127.0.0.1:${port}`, port, ...proc };
}


/**
 * Starts a private RabbitMQ node with only the MQTT plugin (MQTT 3.1.1) on a free port: its own node
 * name, distribution port, data and log folders, so the machine's own RabbitMQ is never touched.
 * Started as the current user through the script under /usr/lib/rabbitmq (the one in /usr/sbin
 * switches to the rabbitmq user, and its VM then outlives a kill of the wrapper).
 */
export async function startRabbitMq(t: TestContext): Promise<{ url: string; port: number } & BrokerProcess> {
  const bin = ['/usr/lib/rabbitmq/bin/rabbitmq-server'].find((p) => existsSync(p));
  if (bin === undefined) throw new Error('rabbitmq-server is not installed (.ci/run installs it with apt-get)');
  const dir = brokerDir(t, 'ocpp-gw-rabbit-');
  const [port, distPort] = [await freePort(), await freePort()];
  // One user, made at first boot: anonymous MQTT clients act as it, and the behaviour suite's charge
  // point with a password (CP-7:secret) logs in as it, which per_client mode passes to the broker.
  const user = 'default_user = CP-7\ndefault_pass = secret\nmqtt.default_user = CP-7\nmqtt.default_pass = secret\n';
  writeFileSync(join(dir, 'rabbitmq.conf'), `listeners.tcp = none\nmqtt.listeners.tcp.default = 127.0.0.1:${port}\nmqtt.allow_anonymous = true\n${user}log.console = true\nlog.console.level = info\nlog.file = false\n`);
  writeFileSync(join(dir, 'enabled_plugins'), '[rabbitmq_mqtt].\n');
  const env = {
    ...process.env, HOME: dir, RABBITMQ_NODENAME: `ocppgw${port}@localhost`, RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'), RABBITMQ_LOG_BASE: join(dir, 'log'), RABBITMQ_PLUGINS_EXPAND_DIR: join(dir, 'plugins'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'), RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'), RABBITMQ_LOGS: '-',
  };
  const proc = await spawnUntilLogged(t, bin, [], 'Server startup complete', { env, group: true });
  return { url: `mqtt://127.0.0.1:${port}`, port, ...proc };
}
