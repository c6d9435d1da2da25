// The deployment kit in deploy/: the systemd unit (checked by systemd's own tools where they exist), the
// container recipe (checked without a container engine: every COPY source exists and passes
// .dockerignore, the stages hand over what they build, the health check script works against a real
// gateway), and the example production configuration (passes check-config).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { hashPassword } from '../src/auth/password-hash.js';
import { parseDuration } from '../src/config/units.js';
import { TestPki } from './support/certs.js';
import { defer } from './support/cleanup.js';
import { within } from './support/harness.js';
import { run, runToEnd, startProcess, type Ran } from './support/process.js';

const ROOT = new URL('..', import.meta.url).pathname;
const T = { timeout: 60_000 };
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** A temporary folder, removed when the test ends. */
function scratch(t: TestContext, name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `ocpp-gw-${name}-`));
  defer(t, () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs a program to its end in the project root, with `env` added to this process's environment. */
function exec(cmd: string, args: string[], options: { env?: Record<string, string>; ms?: number } = {}): Promise<Ran> {
  return runToEnd(cmd, args, { env: { ...process.env, ...options.env }, ...(options.ms !== undefined ? { ms: options.ms } : {}) });
}

/** Where a program is, or undefined: the systemd checks run only where systemd's tools are installed. */
function which(program: string): string | undefined {
  for (const dir of (process.env['PATH'] ?? '').split(':').concat(['/usr/sbin', '/usr/bin', '/bin'])) {
    const path = join(dir, program);
    if (dir !== '' && existsSync(path)) return path;
  }
  return undefined;
}

// ---- systemd -------------------------------------------------------------------------------------

const UNIT = 'deploy/systemd/ocpp-gateway.service';

/** A unit file as section -> key -> values (a key may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = new Map();
      sections.set(section[1] ?? '', current);
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(current !== undefined && eq > 0, `${UNIT}: a line outside a section or without '=': ${line}`);
    const key = line.slice(0, eq);
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

const productionConfig = () => parseYaml(read('deploy/config.production.yaml')) as { ocpp: { max_connections: number }; shutdown_timeout: string };

test('[SPEC §2] systemd unit: config path, dedicated user, hardening, restart, descriptors for every charger', () => {
  const service = parseUnit(read(UNIT)).get('Service');
  assert.ok(service, 'a [Service] section');
  const one = (key: string) => {
    const values = service.get(key);
    assert.equal(values?.length, 1, `${key} once in [Service]`);
    return values?.[0] ?? '';
  };
  assert.match(one('ExecStart'), /^\/opt\/ocpp-gateway\/bin\/ocpp-gateway --config \/etc\/ocpp-gateway\/config\.yaml$/);
  assert.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID'); // SIGHUP reloads certificates and auth.file
  assert.equal(one('User'), 'ocpp-gateway');
  assert.equal(one('ConfigurationDirectory'), 'ocpp-gateway');
  assert.equal(one('StateDirectory'), 'ocpp-gateway');
  assert.equal(one('NoNewPrivileges'), 'yes');
  assert.equal(one('ProtectSystem'), 'strict');
  assert.equal(one('CapabilityBoundingSet'), '');
  assert.equal(one('Restart'), 'on-failure');
  // One descriptor per charger, two with mqtt.client_mode per_client, for the production config's limit.
  const config = productionConfig();
  assert.ok(Number(one('LimitNOFILE')) >= 2 * config.ocpp.max_connections + 1024, 'LimitNOFILE covers 2 x ocpp.max_connections');
  // systemd must not SIGKILL a graceful shutdown that is still within shutdown_timeout.
  const stop = /^(\d+)s$/.exec(one('TimeoutStopSec'));
  const shutdown = parseDuration(config.shutdown_timeout);
  assert.ok(stop && typeof shutdown === 'number' && Number(stop[1]) * 1000 > shutdown + 1000, 'TimeoutStopSec beyond shutdown_timeout');
});

const analyze = which('systemd-analyze');
test('[SPEC §2] systemd unit passes `systemd-analyze verify` and `security` with a low exposure', { ...T, skip: analyze ? false : 'systemd-analyze is not installed here: the unit was not verified by systemd' }, async (t) => {
  // verify also checks that ExecStart's program exists: point it at this checkout's bin (executable)
  // instead of /opt/ocpp-gateway/bin/ocpp-gateway, which only an installation creates.
  const dir = scratch(t, 'unit');
  const unit = join(dir, 'ocpp-gateway.service');
  writeFileSync(unit, read(UNIT).replace('ExecStart=/opt/ocpp-gateway/bin/ocpp-gateway ', `ExecStart=${join(ROOT, 'bin/ocpp-gateway.js')} `));
  const verify = await exec(analyze as string, ['verify', unit]);
  assert.equal(verify.code, 0, verify.stderr);
  // verify exits 0 on unknown keys and unparsable values too; it reports them on stderr naming the file.
  assert.deepEqual(verify.stderr.split('\n').filter((l) => l.includes('ocpp-gateway.service')), []);

  const security = await exec(analyze as string, ['security', '--offline=yes', '--threshold=20', unit]);
  if (/unrecognized option|unknown option/i.test(security.stderr)) {
    t.diagnostic('this systemd-analyze has no `security --offline`: exposure not checked');
    return;
  }
  // --threshold=20 is an overall exposure of 2.0 on the 0-10 scale systemd prints.
  assert.equal(security.code, 0, `${security.stdout.split('\n').filter((l) => l.includes('Overall')).join('')} ${security.stderr}`);
});

const sysusers = which('systemd-sysusers');
test('[SPEC §2] the sysusers.d file creates the unit\'s user, without a login shell', { ...T, skip: sysusers ? false : 'systemd-sysusers is not installed here: the sysusers.d file was not applied' }, async (t) => {
  const root = scratch(t, 'sysusers');
  mkdirSync(join(root, 'etc'));
  const r = await exec(sysusers as string, [`--root=${root}`, join(ROOT, 'deploy/systemd/ocpp-gateway.sysusers')]);
  assert.equal(r.code, 0, r.stderr);
  const user = readFileSync(join(root, 'etc/passwd'), 'utf8').split('\n').find((l) => l.startsWith('ocpp-gateway:'));
  assert.match(user ?? '', /^ocpp-gateway:x:\d+:\d+:[^:]*:\/var\/lib\/ocpp-gateway:\/usr\/sbin\/nologin$/);
  assert.match(readFileSync(join(root, 'etc/group'), 'utf8'), /^ocpp-gateway:x:\d+:/m);
});

// ---- container -----------------------------------------------------------------------------------

interface Instruction { op: string; args: string; line: number }

/** Containerfile instructions, continuation lines joined, comments dropped. */
function instructions(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) return;
    if (pending === '') start = i + 1;
    pending += (pending === '' ? '' : ' ') + line.replace(/\\$/, '').trim();
    if (line.endsWith('\\')) return;
    const m = /^(\S+)\s+(.*)$/.exec(pending);
    assert.ok(m, `Containerfile:${start}: ${pending}`);
    out.push({ op: (m[1] ?? '').toUpperCase(), args: m[2] ?? '', line: start });
    pending = '';
  });
  return out;
}

/**
 * Whether .dockerignore lets a path into the build context. The file is an allow-list (`*`, then
 * `!path` lines): the last line that matches the path or one of its parents decides. Any other
 * pattern fails the test, so this matcher never silently disagrees with Docker's.
 */
function allowedByDockerignore(path: string): boolean {
  let allowed = true;
  for (const raw of read('.dockerignore').split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const negated = line.startsWith('!');
    const pattern = negated ? line.slice(1) : line;
    assert.ok(pattern === '*' || !/[*?[\]]/.test(pattern), `.dockerignore: the test's matcher does not know the pattern ${line}`);
    if (pattern === '*' || path === pattern || path.startsWith(`${pattern}/`)) allowed = negated;
  }
  return allowed;
}

test('[SPEC §2] Containerfile: node:20-slim stages, every COPY source exists and is in the build context, non-root, health check on /readyz', () => {
  const all = instructions(read('deploy/container/Containerfile'));
  const stages: Array<{ alias: string; workdir: string; has: Set<string>; steps: Instruction[] }> = [];
  for (const ins of all) {
    if (ins.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      assert.equal(m?.[1], 'node:20-slim', `Containerfile:${ins.line}: the base image matches engines.node (>= 20)`);
      stages.push({ alias: m?.[2] ?? '', workdir: '/', has: new Set(), steps: [] });
      continue;
    }
    const stage = stages.at(-1);
    assert.ok(stage, `Containerfile:${ins.line}: ${ins.op} before FROM`);
    stage.steps.push(ins);
    if (ins.op === 'WORKDIR') stage.workdir = ins.args;
    if (ins.op !== 'COPY') continue;
    assert.ok(!ins.args.startsWith('['), `Containerfile:${ins.line}: COPY in shell form`);
    const words = ins.args.split(/\s+/);
    const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
    const paths = words.filter((w) => !w.startsWith('--'));
    const dest = paths.pop() ?? '';
    for (const source of paths) {
      if (from === undefined) {
        assert.ok(existsSync(join(ROOT, source)), `Containerfile:${ins.line}: COPY source ${source} does not exist`);
        assert.ok(allowedByDockerignore(source), `Containerfile:${ins.line}: COPY source ${source} is left out by .dockerignore`);
      } else {
        // From an earlier stage: something that stage copied in or built under its WORKDIR.
        const producer = stages.find((s) => s.alias === from);
        assert.ok(producer, `Containerfile:${ins.line}: no stage ${from}`);
        assert.ok(source.startsWith(`${producer.workdir}/`), `Containerfile:${ins.line}: ${source} outside ${from}'s WORKDIR`);
        const name = source.slice(producer.workdir.length + 1).split('/')[0] ?? '';
        const runs = producer.steps.filter((s) => s.op === 'RUN').map((s) => s.args).join(' && ');
        const built = (name === 'node_modules' && /\bnpm ci\b/.test(runs)) || (name === 'dist' && /\bnpm run build\b/.test(runs) && (JSON.parse(read('tsconfig.build.json')) as { compilerOptions: { outDir: string } }).compilerOptions.outDir === 'dist');
        assert.ok(producer.has.has(name) || built, `Containerfile:${ins.line}: stage ${from} neither copies nor builds ${name}`);
      }
      stage.has.add(dest === './' || dest === '.' ? (source.split('/').pop() ?? '') : (dest.split('/')[0] ?? ''));
    }
  }
  assert.equal(stages.length, 2, 'a build stage and a runtime stage');
  const runtime = stages[1];
  assert.ok(runtime);
  const last = (op: string) => runtime.steps.filter((s) => s.op === op).at(-1);
  const user = last('USER');
  assert.ok(user && !/^(root|0)(:|$)/.test(user.args), 'the runtime stage runs as a non-root user');
  const entry = JSON.parse(last('ENTRYPOINT')?.args ?? '[]') as string[];
  assert.deepEqual(entry, ['node', '--max-semi-space-size=64', `${runtime.workdir}/bin/ocpp-gateway.js`]);
  assert.ok(runtime.has.has('bin') && runtime.has.has('dist') && runtime.has.has('node_modules') && runtime.has.has('package.json'));
  assert.deepEqual(JSON.parse(last('CMD')?.args ?? '[]'), ['--config', '/etc/ocpp-gateway/config.yaml']);
  const health = /^(?:--\S+\s+)*CMD\s+(\[.*\])$/.exec(last('HEALTHCHECK')?.args ?? '');
  assert.deepEqual(JSON.parse(health?.[1] ?? '[]'), ['node', `${runtime.workdir}/deploy/container/healthcheck.mjs`]);
  assert.ok(runtime.has.has('deploy'), 'the health check script is copied into the image');
  assert.ok(user.line < (last('ENTRYPOINT')?.line ?? 0), 'USER before ENTRYPOINT');
  // Nothing that must stay out of an image gets into the build context.
  for (const path of ['node_modules', 'dist', '.git', 'test/cli.e2e.test.ts', 'deploy/config.production.yaml']) assert.equal(allowedByDockerignore(path), false, `${path} is in the build context`);
});

test('[SPEC §9] the container health check exits 0 on a ready gateway, 1 on 503 or no answer', T, async (t) => {
  const check = (port: number) => exec(process.execPath, [join(ROOT, 'deploy/container/healthcheck.mjs')], { env: { OCPP_GW_API__HOST: '0.0.0.0', OCPP_GW_API__PORT: String(port) } });
  const gw = await startProcess(t);
  const ready = await check(gw.ports.api);
  assert.equal(ready.code, 0, ready.stderr);

  // An API that answers 503 (what /readyz says while the broker is unreachable).
  const notReady: Server = createServer((req, res) => res.writeHead(req.url === '/readyz' ? 503 : 404).end('{"status":"not ready"}'));
  await new Promise<void>((resolve) => notReady.listen(0, '127.0.0.1', resolve));
  defer(t, () => new Promise((resolve) => notReady.close(resolve)));
  const busy = await check((notReady.address() as { port: number }).port);
  assert.equal(busy.code, 1);
  assert.match(busy.stderr, /readyz answered 503/);

  gw.child.kill('SIGTERM');
  assert.equal(await within(gw.exit, 'the gateway to exit'), 0);
  const gone = await check(gw.ports.api);
  assert.equal(gone.code, 1);
  assert.match(gone.stderr, /healthcheck: http:\/\/127\.0\.0\.1:\d+\/readyz: /);
});

// ---- production configuration --------------------------------------------------------------------

test('[SPEC §2] deploy/config.production.yaml passes check-config with its placeholder files made, the example env supplying the secrets', T, async (t) => {
  const env: Record<string, string> = {};
  for (const line of read('deploy/systemd/ocpp-gateway.env.example').split('\n')) {
    const m = /^(OCPP_GW_[A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) env[m[1] ?? ''] = m[2] ?? '';
  }
  assert.deepEqual(Object.keys(env).sort(), ['OCPP_GW_API__KEY', 'OCPP_GW_MQTT__PASSWORD']);
  const text = read('deploy/config.production.yaml');
  // Every file the configuration names (string values), not the paths its comments mention.
  const values = (node: unknown): string[] => typeof node === 'string' ? [node] : typeof node === 'object' && node !== null ? Object.values(node).flatMap(values) : [];
  const placeholders = values(parseYaml(text)).filter((v) => v.startsWith('/etc/ocpp-gateway/')).sort();
  assert.deepEqual(placeholders, ['/etc/ocpp-gateway/credentials.yaml', '/etc/ocpp-gateway/tls/broker-ca.pem', '/etc/ocpp-gateway/tls/server.key', '/etc/ocpp-gateway/tls/server.pem']);

  // As found in the repository, the placeholder files are all that is missing.
  const asShipped = run(['check-config', '--config', join(ROOT, 'deploy/config.production.yaml')], env);
  const code = await within(asShipped.exit, 'check-config to exit');
  const missing = asShipped.stderr().trim().split('\n').filter((l) => l !== '');
  assert.equal(code, missing.length === 0 ? 0 : 1);
  for (const line of missing) assert.ok(placeholders.some((p) => line.includes(`cannot read ${p}`)), line);

  // With those files made, in a copy whose /etc/ocpp-gateway/ is a temporary folder, it is valid.
  const etc = scratch(t, 'etc');
  mkdirSync(join(etc, 'tls'));
  const pki = new TestPki();
  defer(t, () => rmSync(pki.dir, { recursive: true, force: true }));
  const ca = pki.ca('broker-ca');
  const server = pki.server('server', pki.ca('cp-ca'), 'ec');
  copyFileSync(ca.cert, join(etc, 'tls/broker-ca.pem'));
  copyFileSync(server.cert, join(etc, 'tls/server.pem'));
  copyFileSync(server.key, join(etc, 'tls/server.key'));
  writeFileSync(join(etc, 'credentials.yaml'), `CP1: "${await hashPassword(Buffer.from('a charger password'))}"\n`);
  const config = join(etc, 'config.yaml');
  writeFileSync(config, text.replaceAll('/etc/ocpp-gateway/', `${etc}/`));
  const ok = run(['check-config', '--config', config], env);
  let out = '';
  ok.child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  assert.equal(await within(ok.exit, 'check-config to exit'), 0, ok.stderr());
  assert.match(out, /configuration is valid/);
  assert.equal(ok.stderr(), '');
});

test('[docs/operations.md] every way of starting the gateway passes the same Node flags (the young-generation size), and the command runs with them', async () => {
  const shebang = readFileSync(join(ROOT, 'bin/ocpp-gateway.js'), 'utf8').split('\n', 1)[0] ?? '';
  const m = /^#!\/usr\/bin\/env -S node (.+)$/.exec(shebang);
  assert.ok(m, `the shebang passes flags with env -S: ${shebang}`);
  const flags = (m[1] as string).trim();
  assert.match(flags, /^--max-semi-space-size=\d+$/);
  const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  assert.equal(scripts['start'], `node ${flags} bin/ocpp-gateway.js`);
  assert.equal(scripts['dev'], `node ${flags} --import tsx src/cli.ts`);
  const containerfile = readFileSync(join(ROOT, 'deploy/container/Containerfile'), 'utf8');
  assert.ok(containerfile.includes(`ENTRYPOINT ["node", "${flags}", "/opt/ocpp-gateway/bin/ocpp-gateway.js"]`), 'the container entry point');
  // The shebang's command works (this is how the npm bin link and systemd start it): env -S splits it
  // and node takes the flag. (The bin itself needs dist/, which a fresh checkout has not built.)
  const ran = await runToEnd('/usr/bin/env', ['-S', `node ${flags} -p process.execArgv[0]`], { ms: 30_000 });
  assert.equal(ran.code, 0, ran.stderr);
  assert.equal(ran.stdout.trim(), flags);
});
