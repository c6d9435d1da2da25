// The package as a user installs it: `npm pack` (whose prepack builds dist/ from scratch), the tarball
// installed into a fresh project, and its `ocpp-gateway` command run from there: the production path,
// with neither tsx nor the TypeScript sources nor a compiler.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { until, within } from './support/harness.js';
import { EPHEMERAL_FLAGS, runToEnd, type Ran } from './support/process.js';

const ROOT = new URL('..', import.meta.url).pathname;

/**
 * The environment for child npm and gateway processes: without the npm_* variables `npm test` sets
 * (npm_config_local_prefix and the like would point a nested npm back at this checkout).
 */
function cleanEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => !e[0].toLowerCase().startsWith('npm_') && e[1] !== undefined));
}

/** Runs a program to its end in `cwd`, with the clean environment, killed after `ms`. */
function exec(cmd: string, args: string[], cwd: string, ms: number): Promise<Ran> {
  return runToEnd(cmd, args, { cwd, env: cleanEnv(), ms });
}

test('[SPEC §2] npm pack: the tarball installs into a fresh project; its ocpp-gateway runs --help, check-config, and serves until SIGTERM', { timeout: 240_000 }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'ocpp-gw-pack-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));

  // 1. Pack. --json keeps stdout to the report (lifecycle output goes to stderr).
  const pack = await exec('npm', ['pack', '--json', '--pack-destination', work], ROOT, 150_000);
  assert.equal(pack.code, 0, pack.stderr);
  const [report] = JSON.parse(pack.stdout) as Array<{ filename: string; files: Array<{ path: string }> }>;
  assert.ok(report);
  const files = report.files.map((f) => f.path);
  for (const needed of ['package.json', 'bin/ocpp-gateway.js', 'dist/cli.js', 'dist/gateway.js', 'deploy/systemd/ocpp-gateway.service', 'deploy/config.production.yaml', 'docs/deploy.md', 'deploy/grafana/ocpp-gateway.json', 'deploy/prometheus/alerts.yml']) assert.ok(files.includes(needed), `${needed} is in the package`);
  if (existsSync(join(ROOT, 'examples'))) assert.ok(files.some((f) => f.startsWith('examples/')), 'examples/ is in the package');
  const stray = files.filter((f) => /^(src|test|bench|scripts|node_modules|docs\/screenshots)\//.test(f) || f.endsWith('.ts') || f.endsWith('.tsbuildinfo'));
  assert.deepEqual(stray, [], 'sources, tests, build state and the screenshots stay out of the package');
  const tarball = join(work, report.filename);

  // 2. Install into a fresh project: from the npm cache alone where it has everything, else the registry.
  // At the same time, a global install under a prefix, the layout docs/deploy.md and the systemd unit use.
  const project = join(work, 'project');
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'ocpp-gateway-install-probe', version: '0.0.0', private: true }));
  const prefix = join(work, 'opt');
  const install = async (args: string[], cwd: string): Promise<Ran> => {
    const offline = await exec('npm', ['install', '--offline', '--no-audit', '--no-fund', ...args, tarball], cwd, 90_000);
    if (offline.code === 0) return offline;
    t.diagnostic(`offline install failed (${offline.stderr.split('\n').find((l) => l.includes('ENOTCACHED')) ?? offline.stderr.slice(0, 200)}); installing with the registry`);
    return exec('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', ...args, tarball], cwd, 120_000);
  };
  const [local, prefixed] = await Promise.all([install([], project), install(['--global', '--prefix', prefix], work)]);
  assert.equal(local.code, 0, local.stderr);
  assert.equal(prefixed.code, 0, prefixed.stderr);
  const installed = join(project, 'node_modules');
  assert.equal(existsSync(join(installed, 'tsx')), false, 'tsx is not installed: production does not need it');
  assert.equal(existsSync(join(installed, 'typescript')), false, 'typescript is not installed');
  assert.equal(existsSync(join(installed, 'ocpp-gateway/src')), false);
  // The command npm links, run by this node (its #! line would pick whichever node is on PATH).
  const bin = join(installed, '.bin/ocpp-gateway');
  assert.ok(existsSync(bin), 'npm links the ocpp-gateway command');

  // 3. --help and check-config.
  const help = await exec(process.execPath, [bin, '--help'], project, 20_000);
  assert.equal(help.code, 0, help.stderr);
  assert.match(help.stdout, /--config <file>/);
  assert.match(help.stdout, /check-config/);
  const config = join(project, 'config.yaml');
  writeFileSync(config, 'ocpp:\n  port: 0\nupstream:\n  awaiting_timeout: 10s\n');
  const check = await exec(process.execPath, [bin, 'check-config', '--config', config], project, 20_000);
  assert.equal(check.code, 0, check.stderr);
  assert.match(check.stdout, /configuration is valid/);
  const bad = await exec(process.execPath, [bin, 'check-config', '--config', config, '--set', 'ocpp.port=99999'], project, 20_000);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /ocpp\.port/);

  // 4. Serve on ephemeral ports until /readyz is 200, then SIGTERM: exit 0.
  const child = spawn(process.execPath, [bin, '--config', config, ...EPHEMERAL_FLAGS], { cwd: project, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const started = new Promise<{ api?: { port: number } }>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const entry = JSON.parse(line) as { msg: string; api?: { port: number } };
      if (entry.msg === 'gateway.started') resolve(entry);
    });
    lines.once('close', () => reject(new Error(`the installed gateway exited before starting: ${stderr}`)));
  });
  const api = (await within(started, 'gateway.started from the installed package', 30_000)).api?.port ?? 0;
  assert.ok(api > 0);
  let status = 0;
  await until(async () => (status = (await fetch(`http://127.0.0.1:${api}/readyz`, { signal: AbortSignal.timeout(5_000) })).status) === 200, `/readyz 200 (last ${status})`);
  child.kill('SIGTERM');
  assert.equal(await within(exit, 'the installed gateway to exit after SIGTERM', 20_000), 0, stderr);

  // 5. The global install puts the command where the systemd unit's ExecStart expects it, under the
  // prefix (/opt/ocpp-gateway in production), and the package under lib/node_modules.
  const unitExec = /^ExecStart=\/opt\/ocpp-gateway\/(\S+) /m.exec(readFileSync(join(ROOT, 'deploy/systemd/ocpp-gateway.service'), 'utf8'))?.[1] ?? '';
  assert.equal(unitExec, 'bin/ocpp-gateway');
  const globalHelp = await exec(process.execPath, [join(prefix, unitExec), '--help'], work, 20_000);
  assert.equal(globalHelp.code, 0, globalHelp.stderr);
  assert.ok(existsSync(join(prefix, 'lib/node_modules/ocpp-gateway/deploy/systemd/ocpp-gateway.service')));

  // The package ships what it documents: its version and the unit that runs it.
  const manifest = JSON.parse(readFileSync(join(installed, 'ocpp-gateway/package.json'), 'utf8')) as { version: string; bin: Record<string, string> };
  assert.equal(manifest.bin['ocpp-gateway'], 'bin/ocpp-gateway.js');
  assert.equal(manifest.version, (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version);
});
