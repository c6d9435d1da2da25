// ocpp-gateway [--config FILE] [flags]          run the gateway
// ocpp-gateway check-config [--config FILE] ... validate a configuration, list every error
// ocpp-gateway hash-password                    read a password on stdin, print a hash for auth.file
// ocpp-gateway clients list|show|kick|call      the HTTP API from a terminal (cli-clients.ts)
// ocpp-gateway simulate --cps N --protocol P   simulated charge points (simulator/)
import './obs/quiet-debug.js'; // first: before aedes, mqtt-packet and MQTT.js load `debug`
import { Command, Option } from 'commander';
import { loadConfig, type ConfigResult } from './config/load.js';
import { configProblems } from './config/check.js';
import { hashPassword } from './auth/password-hash.js';
import cluster from 'node:cluster';
import { startGateway } from './gateway.js';
import { startCluster } from './cluster/primary.js';
import { runWorker } from './cluster/worker.js';
import { StartupError } from './transport/listen.js';
import { addClientCommands } from './cli-clients.js';
import { addSimulateCommand } from './simulator/command.js';
import { loggerFor, redactUrl, type Logger } from './obs/log.js';
import { VERSION } from './obs/version.js';

/** Flags that stand for config keys. [SPEC §2] */
const FLAG_KEYS: ReadonlyArray<readonly [flag: string, attribute: string, key: string, help: string]> = [
  ['--ocpp-host <host>', 'ocppHost', 'ocpp.host', 'OCPP WebSocket listener address (ocpp.host)'],
  ['--ocpp-port <port>', 'ocppPort', 'ocpp.port', 'OCPP WebSocket listener port (ocpp.port)'],
  ['--mqtt-url <url>', 'mqttUrl', 'mqtt.url', 'use an external broker instead of the embedded one (mqtt.url)'],
  ['--mqtt-port <port>', 'mqttPort', 'mqtt.embedded.port', 'embedded broker TCP port (mqtt.embedded.port)'],
  ['--mqtt-ws-port <port>', 'mqttWsPort', 'mqtt.embedded.ws_port', 'embedded broker WebSocket port (mqtt.embedded.ws_port)'],
  ['--workers <n|auto>', 'workers', 'ocpp.workers', 'worker processes behind the OCPP port(s); auto = one per core (ocpp.workers)'],
  ['--api-host <host>', 'apiHost', 'api.host', 'HTTP API address (api.host)'],
  ['--api-port <port>', 'apiPort', 'api.port', 'HTTP API port (api.port)'],
  ['--log-level <level>', 'logLevel', 'log.level', 'fatal|error|warn|info|debug|trace|silent (log.level)'],
  ['--log-format <format>', 'logFormat', 'log.format', 'json|pretty|auto: auto = pretty on a terminal, else JSON lines (log.format)'],
];

function withConfigFlags(cmd: Command): Command {
  cmd.option('-c, --config <file>', 'configuration file (YAML or JSON)');
  for (const [flag, , , help] of FLAG_KEYS) cmd.option(flag, help);
  cmd.addOption(new Option('--set <key=value>', 'set any configuration key, e.g. --set upstream.awaiting_timeout=10s (repeatable)').argParser((v: string, prev: string[] = []) => [...prev, v]));
  return cmd;
}

function configFromFlags(opts: Record<string, unknown>): ConfigResult {
  // Each override carries its flag, so that an error names it (--mqtt-url, --set mqtt.url). [SPEC §2]
  const overrides: Array<[string, unknown, string]> = [];
  const errors: string[] = [];
  for (const [flag, attribute, key] of FLAG_KEYS) if (opts[attribute] !== undefined) overrides.push([key, opts[attribute], flag.split(' ')[0] as string]);
  for (const pair of (opts['set'] as string[] | undefined) ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) errors.push(`--set ${pair}: expected key.path=value`);
    else overrides.push([pair.slice(0, eq), pair.slice(eq + 1), `--set ${pair.slice(0, eq)}`]);
  }
  // Embedded-broker flags with an external broker are ignored with a warning. [SPEC §2]
  const external = opts['mqttUrl'] !== undefined || (process.env['OCPP_GW_MQTT__URL'] ?? '') !== '';
  const ignored = external ? overrides.filter(([k]) => k.startsWith('mqtt.embedded.')) : [];
  const result = loadConfig({ file: opts['config'] as string | undefined, env: process.env, overrides: overrides.filter((o) => !ignored.includes(o)) });
  if (result.ok) for (const [k] of ignored) result.warnings.push(`${k} is ignored because an external broker is used (mqtt.url)`);
  if (errors.length === 0) return result;
  // A malformed --set is listed with everything else, not alone.
  return result.ok
    ? { ok: false, errors, fallback: { config: result.config, origins: result.origins } }
    : { ...result, errors: [...errors, ...result.errors] };
}

/**
 * A start that cannot happen (bad configuration, a port in use, a broker that refuses us): one plain
 * line per error on stderr and exit 1 [SPEC §2]; everything after the logger exists is a log line on
 * stdout. URL passwords masked in case a line quotes mqtt.url or auth.http.url. [SPEC §8]
 */
function fail(lines: string[]): never {
  for (const line of lines) process.stderr.write(`ocpp-gateway: ${redactUrl(line)}\n`);
  process.exit(1);
}

/**
 * What Node itself would write to stderr as plain text becomes a log line: process warnings (its own
 * printer is removed) and a crash outside every connection's guard, after which the process exits 1
 * as Node would (pino's exit hook flushes the line first).
 */
function logProcessOutput(log: Logger): void {
  process.removeAllListeners('warning');
  process.on('warning', (w: Error & { code?: string }) => log.warn({ name: w.name, code: w.code, err: w.message }, 'process.warning'));
  process.on('uncaughtException', (err: unknown) => {
    const e = err instanceof Error ? err : new Error(String(err));
    log.fatal({ err: e.message, stack: e.stack }, 'process.crashed');
    process.exit(1);
  });
}

async function run(opts: Record<string, unknown>): Promise<void> {
  const result = configFromFlags(opts);
  // The same list as check-config: a start with a bad configuration names every problem at once.
  if (!result.ok) fail(await configProblems(result));
  const log = loggerFor(result.config);
  logProcessOutput(log);
  for (const w of result.warnings) log.warn({ detail: w }, 'config.warning');
  let gateway;
  try {
    // [SPEC §7] ocpp.workers > 1: this process is the primary of N workers (src/cluster/).
    gateway = result.config.ocpp.workers > 1
      ? await startCluster({ config: result.config, log, origins: result.origins })
      : await startGateway({ config: result.config, log, origins: result.origins });
  } catch (err) {
    if (err instanceof StartupError) fail(err.message.split('\n'));
    throw err;
  }
  const stop = (signal: string) => {
    log.info({ signal }, 'gateway.signal');
    // The primary waits for its workers' own shutdown (each bounded by shutdown_timeout) first.
    const force = setTimeout(() => process.exit(0), result.config.shutdown_timeout + (result.config.ocpp.workers > 1 ? 3000 : 1000));
    force.unref();
    gateway.close().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    log.info({ signal: 'SIGHUP' }, 'gateway.signal');
    void gateway.reload();
  });
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

export async function main(argv: string[]): Promise<void> {
  const program = withConfigFlags(new Command('ocpp-gateway'))
    .description('OCPP-J gateway: charge points over WebSocket, bridged to MQTT')
    .version(VERSION, '-V, --version', 'print the version and exit')
    .enablePositionalOptions()
    .action((opts: Record<string, unknown>) => run(opts));

  withConfigFlags(program.command('check-config'))
    .description('validate the configuration (file, environment, flags); exit 0 if valid, 1 with every error')
    .action(async (opts: Record<string, unknown>) => {
      // Everything the start would refuse, in one pass (config/check.ts, the start's own list).
      const result = configFromFlags(opts);
      const problems = await configProblems(result);
      if (problems.length > 0) fail(problems);
      if (result.ok) for (const w of result.warnings) process.stderr.write(`ocpp-gateway: warning: ${w}\n`);
      process.stdout.write('configuration is valid\n');
    });

  program
    .command('hash-password')
    .description('read a password on standard input (without the trailing newline) and print a hash for auth.file')
    .option('--keep-newline', 'hash the input exactly, trailing newline included')
    .action(async (opts: { keepNewline?: boolean }) => {
      let input = await readStdin();
      if (!opts.keepNewline && input.at(-1) === 0x0a) input = input.subarray(0, input.at(-2) === 0x0d ? -2 : -1);
      process.stdout.write(`${await hashPassword(input)}\n`);
    });

  addClientCommands(program);
  addSimulateCommand(program);

  try {
    await program.parseAsync(argv);
  } catch (err) {
    fail([(err as Error).message]);
  }
}

// A worker of ocpp.workers > 1 runs this file too: it takes its configuration from the primary.
if (cluster.isWorker) await runWorker(logProcessOutput);
else await main(process.argv);
