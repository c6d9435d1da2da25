// `ocpp-gateway simulate`: a fleet of simulated charge points against a running gateway.
import { Command, InvalidArgumentError, Option } from 'commander';
import { escapeControls } from '../api/escape.js';
import { PROTOCOL_NAMES, isProtocol, type Protocol } from '../ocpp/protocols.js';
import { Fleet, MAX_CPS, MAX_RAMP } from './fleet.js';

/** How long a stop may take before the process gives up on a clean exit. */
const STOP_DEADLINE_MS = 10_000;

function integer(min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) throw new InvalidArgumentError(`an integer from ${min} to ${max}`);
    return n;
  };
}

function seconds(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 86_400) throw new InvalidArgumentError('seconds from 0 to 86400 (decimals allowed)');
  return n;
}

interface SimulateFlags {
  cps: number;
  protocol: Protocol[];
  url: string;
  prefix: string;
  password?: string;
  connectors: number;
  duration: number;
  ramp: number;
  txGap: number;
  txLength: number;
  meterInterval: number;
  summaryInterval: number;
}

/** "ocpp1.6" or a comma-separated list "ocpp1.6,ocpp2.1": the charge points take them in turn. */
function protocols(v: string): Protocol[] {
  const list = v.split(',').map((p) => p.trim());
  for (const p of list) if (!isProtocol(p)) throw new InvalidArgumentError(`${p === '' ? 'an empty name' : p} is not one of ${PROTOCOL_NAMES.join(', ')}`);
  return list as Protocol[];
}

function timestamp(): string {
  return new Date().toISOString().slice(11, 23);
}

export function addSimulateCommand(program: Command): void {
  program
    .command('simulate')
    .description('run simulated charge points against a gateway: boot, status, heartbeats, transactions with meter values, answers to commands (docs/simulator.md)')
    .addOption(new Option('--cps <n>', `how many charge points (at most ${MAX_CPS})`).argParser(integer(1, MAX_CPS)).default(10))
    .addOption(new Option('--protocol <names>', `OCPP version they speak (${PROTOCOL_NAMES.join(', ')}); a comma-separated list mixes versions, the CPs taking them in turn`).argParser(protocols).default(['ocpp1.6'], 'ocpp1.6'))
    .option('--url <url>', 'the gateway\'s OCPP endpoint, without the cpId', 'ws://127.0.0.1:33033/ocpp')
    .option('--prefix <text>', 'cpId prefix: SIM001, SIM002, ...', 'SIM')
    .option('--password <password>', 'HTTP Basic password of every charge point (security profile 1/2; user = cpId)')
    .addOption(new Option('--connectors <n>', 'connectors (1.6) / EVSEs (2.x) per charge point').argParser(integer(1, 10)).default(2))
    .addOption(new Option('--duration <seconds>', 'stop after this long; 0 = until SIGINT/SIGTERM').argParser(seconds).default(0))
    .addOption(new Option('--ramp <per-second>', `connections started per second (at most ${MAX_RAMP})`).argParser(integer(1, MAX_RAMP)).default(20))
    .addOption(new Option('--tx-gap <seconds>', 'mean idle time of a connector between transactions; 0 = remote starts only').argParser(seconds).default(30))
    .addOption(new Option('--tx-length <seconds>', 'mean length of a transaction; 0 = until stopped remotely').argParser(seconds).default(120))
    .addOption(new Option('--meter-interval <seconds>', 'meter values during a transaction, every (MeterValueSampleInterval / TxUpdatedInterval at boot)').argParser(seconds).default(15))
    .addOption(new Option('--summary-interval <seconds>', 'one summary line every; 0 = only at the end').argParser(seconds).default(5))
    .action(async (flags: SimulateFlags) => {
      if (flags.meterInterval < 0.1) throw new Error('simulate --meter-interval: at least 0.1 s');
      if (!/^wss?:\/\/[^/]/.test(flags.url)) throw new Error(`simulate --url ${flags.url}: a ws:// or wss:// URL`);
      const log = (line: string) => process.stdout.write(`${timestamp()} ${escapeControls(line)}\n`);
      const fleet = new Fleet({
        url: flags.url.replace(/\/+$/, ''),
        protocols: flags.protocol,
        password: flags.password,
        connectors: flags.connectors,
        txGapS: flags.txGap,
        txLengthS: flags.txLength,
        meterIntervalS: flags.meterInterval,
        cps: flags.cps,
        prefix: flags.prefix,
        rampPerSecond: flags.ramp,
        summaryIntervalS: flags.summaryInterval,
      }, log);
      log(`simulating ${flags.cps} ${flags.protocol.join('+')} charge points at ${flags.url}/${fleet.chargePoints[0]?.id ?? ''}… (${flags.ramp}/s)`);
      fleet.start();

      let durationTimer: NodeJS.Timeout | undefined;
      let onSignal: (signal: string) => void = () => undefined;
      const why = await new Promise<string>((resolve) => {
        onSignal = resolve;
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        if (flags.duration > 0) durationTimer = setTimeout(() => resolve(`${flags.duration} s elapsed`), flags.duration * 1000);
      });
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
      clearTimeout(durationTimer);
      log(`${why}: stopping`);
      // Every timer and socket is gone after stop, so the process ends by itself; if something still
      // holds it, say so and leave with 1 rather than hang.
      setTimeout(() => {
        process.stderr.write('ocpp-gateway: simulate: still busy 10 s after stopping; exiting\n');
        process.exit(1);
      }, STOP_DEADLINE_MS).unref();
      await fleet.stop();
      log(fleet.summary());
    });
}
