// What an operator watches: log lines (JSON with level names, or pretty and coloured on a terminal),
// the opt-in per-CP frame log, /metrics with process metrics and build info, and the Grafana dashboard
// and Prometheus alert rules in deploy/, checked against a running gateway's /metrics. [SPEC §2, §8, §9]
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../src/config/load.js';
import { startGateway, type Gateway } from '../src/gateway.js';
import { createLogger } from '../src/obs/log.js';
import { FrameLogPolicy } from '../src/obs/frame-log.js';
import { JSON_OUTPUT, logOutput, prettyLine } from '../src/obs/pretty.js';
import { defer } from './support/cleanup.js';
import { EPHEMERAL, rawSocket, startTestGateway, until, within, type RawSocket } from './support/harness.js';
import { answeringService, metric } from './support/hostile-kit.js';
import { EPHEMERAL_FLAGS, run, startCommand } from './support/process.js';

const T = { timeout: 60_000 };
/** A gateway process compiles its sources and schemas at start: seconds, many more on a busy machine. */
const PROCESS = { timeout: 120_000 };
const START_MS = 60_000;
const ROOT = new URL('..', import.meta.url).pathname;
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
/** Raw characters that must never reach a terminal from client input (ESC, C1, bidi, line separators). */
const RAW_UNSAFE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e]/;

interface LogEntry { level: string; msg: string; [field: string]: unknown }

/** A gateway in this process whose log lines (JSON) are collected in `lines`. */
async function gatewayWithLog(t: TestContext, settings: Record<string, unknown>): Promise<{ gw: Gateway; lines: string[]; ocppUrl: string; mqttUrl: string }> {
  const loaded = loadConfig({ overrides: [...EPHEMERAL, ...Object.entries(settings)] });
  if (!loaded.ok) throw new Error(loaded.errors.join('; '));
  const lines: string[] = [];
  const log = createLogger('info', { write: (line: string) => void lines.push(line) }, [], JSON_OUTPUT);
  const gw = await within(startGateway({ config: loaded.config, log }), 'the gateway to start');
  defer(t, () => gw.close());
  return { gw, lines, ocppUrl: `ws://127.0.0.1:${gw.addresses.ocpp?.port ?? 0}${loaded.config.ocpp.path}`, mqttUrl: `mqtt://127.0.0.1:${gw.addresses.mqtt?.port ?? 0}` };
}

const entries = (lines: readonly string[]) => lines.map((l) => JSON.parse(l) as LogEntry);

test('[SPEC §2] JSON lines carry the level by name; pretty lines escape client text, put stacks below, redact, and colour only when asked', () => {
  const json: string[] = [];
  createLogger('debug', { write: (l: string) => void json.push(l) }).debug({ cpId: 'CP1' }, 'cp.connected');
  assert.deepEqual(JSON.parse(json[0] ?? '').level, 'debug');

  const secret = 'hunter2-secret';
  const write = (colour: boolean) => {
    const out: string[] = [];
    const log = createLogger('info', { write: (l: string) => void out.push(l) }, [secret], { format: 'pretty', colour });
    log.info({ cpId: 'CP\u001b[31m\u202eX', frame: '[2,"1","Heartbeat",{}]', note: 'two words', empty: '', n: 3, ok: true, obj: { v: 'a\u2028b' }, url: `mqtt://u:${secret}@h` }, 'cp.frame');
    log.error({ err: 'boom', stack: 'Error: boom\n    at handler (x.ts:1:2)' }, 'cp.internal_error');
    return out;
  };
  const plain = write(false);
  assert.match(plain[0] ?? '', /^\d\d:\d\d:\d\d\.\d{3}Z INFO  cp\.frame cpId=CP\\x1b\[31m\\u202eX frame=\[2,"1","Heartbeat",\{\}\] note="two words" empty="" n=3 ok=true obj=\{"v":"a\\u2028b"\} url=mqtt:\/\/u:\*\*\*@h\n$/);
  assert.equal(plain[1]?.split('\n').slice(1).join('\n'), '    Error: boom\n        at handler (x.ts:1:2)\n');
  assert.match(plain[1] ?? '', /ERROR cp\.internal_error err=boom\n/);
  for (const line of plain) assert.doesNotMatch(line.replace(/\n/g, ''), RAW_UNSAFE);
  assert.ok(!plain.join('').includes(secret));
  const coloured = write(true);
  assert.match(coloured[0] ?? '', /\u001b\[32mINFO /);
  assert.match(coloured[1] ?? '', /\u001b\[1;31mERROR/);
  // Only the gateway's own styling is raw ESC; the client's ESC is still escaped.
  assert.match(coloured[0] ?? '', /cpId=\u001b\[0mCP\\x1b\[31m/);
  assert.equal(prettyLine('not json\n', true), 'not json\n');
});

test('[SPEC §2] log.format: auto is pretty on a terminal only; colour on a terminal, or with FORCE_COLOR; NO_COLOR and TERM=dumb turn it off', () => {
  const tty = { isTTY: true };
  const pipe = { isTTY: false };
  assert.deepEqual(logOutput('auto', pipe, {}), { format: 'json', colour: false });
  assert.deepEqual(logOutput('auto', tty, {}), { format: 'pretty', colour: true });
  assert.deepEqual(logOutput('json', tty, {}), { format: 'json', colour: false });
  assert.deepEqual(logOutput('pretty', pipe, {}), { format: 'pretty', colour: false });
  assert.deepEqual(logOutput('pretty', pipe, { FORCE_COLOR: '1' }), { format: 'pretty', colour: true });
  assert.deepEqual(logOutput('pretty', tty, { NO_COLOR: '1' }), { format: 'pretty', colour: false });
  assert.deepEqual(logOutput('pretty', tty, { FORCE_COLOR: '0' }), { format: 'pretty', colour: false });
  assert.deepEqual(logOutput('pretty', tty, { TERM: 'dumb' }), { format: 'pretty', colour: false });
  assert.deepEqual(logOutput('pretty', tty, { NO_COLOR: '' }), { format: 'pretty', colour: true });
});

test('[SPEC §8] log.frames: every frame of the chosen CPs, in and out, escaped, cut at frame_max_chars, within frame_max_lines', T, async (t) => {
  const { gw, lines, ocppUrl, mqttUrl } = await gatewayWithLog(t, { 'log.frames': 'CP-F', 'log.frame_max_chars': 200, 'log.frame_max_lines': 8, message_format_checking: 'disable' });
  await answeringService(t, mqttUrl);
  const frames = (cpId: string) => entries(lines).filter((e) => e.msg === 'cp.frame' && e.cpId === cpId);
  const cp = await rawSocket(t, `${ocppUrl}/CP-F`);
  const other = await rawSocket(t, `${ocppUrl}/CP-OTHER`);
  const next = (raw: RawSocket) => within(raw.next(), 'an answer from the gateway') as Promise<unknown[]>;

  cp.send('[2,"h1","Heartbeat",{}]');
  const answer = await next(cp);
  other.send('[2,"o1","Heartbeat",{}]');
  await next(other);
  await until(() => frames('CP-F').length >= 2, 'two cp.frame lines');
  const [inLine, outLine] = frames('CP-F');
  assert.deepEqual(inLine && { level: inLine.level, direction: inLine['direction'], frame: inLine['frame'] }, { level: 'info', direction: 'in', frame: '[2,"h1","Heartbeat",{}]' });
  assert.equal(outLine?.['direction'], 'out');
  assert.deepEqual(JSON.parse(String(outLine?.['frame'])), answer, 'the out line is the frame the CP got');
  assert.equal(frames('CP-OTHER').length, 0, 'CP-OTHER is not in log.frames');

  // Client text: a raw ESC (a malformed frame, logged all the same, answered with a CALLERROR) and bidi
  // and line separators in a string.
  cp.send('[2,"x1","DataTransfer",{"vendorId":"\u001b[2J\u202eV\u2028"}]');
  await next(cp);
  await until(() => frames('CP-F').some((e) => String(e['frame']).includes('x1')), 'the hostile frame logged');
  const hostile = frames('CP-F').find((e) => String(e['frame']).includes('x1'));
  assert.equal(hostile?.['frame'], '[2,"x1","DataTransfer",{"vendorId":"\\x1b[2J\\u202eV\\u2028"}]');
  for (const e of frames('CP-F')) assert.doesNotMatch(String(e['frame']), RAW_UNSAFE);

  // A frame longer than frame_max_chars is cut, and says how long it was.
  const long = `[2,"l1","DataTransfer",{"vendorId":"V","data":"${'x'.repeat(500)}"}]`;
  cp.send(long);
  await next(cp);
  await until(() => frames('CP-F').some((e) => e['truncated'] === true), 'the long frame logged');
  const cut = frames('CP-F').find((e) => e['truncated'] === true);
  assert.deepEqual([String(cut?.['frame']).length, cut?.['chars']], [200, long.length]);
  assert.equal(String(cut?.['frame']), long.slice(0, 200));

  // Beyond frame_max_lines (8) per window: dropped, counted, summarised when the CP leaves.
  for (let i = 0; i < 5; i++) {
    cp.send(`[2,"b${i}","Heartbeat",{}]`);
    await next(cp);
  }
  cp.ws.close();
  await until(() => entries(lines).some((e) => e.msg === 'log.suppressed' && e['cpId'] === 'CP-F' && e['event'] === 'cp.frame'), 'the log.suppressed summary');
  const written = frames('CP-F').length;
  const summary = entries(lines).find((e) => e.msg === 'log.suppressed' && e['event'] === 'cp.frame');
  assert.equal(written, 8);
  // 8 CALLs in, 8 answers out: 16 frames, 8 written.
  assert.equal(summary?.['count'], 8);
  assert.equal(await metric(gw, 'log_lines_suppressed_total', 'cp.frame'), 8);
  for (const e of entries(lines)) assert.ok(LEVELS.has(e.level), `level ${String(e.level)} is a name`);
});

test('[SPEC §8] log.frames "*" selects every charge point; an empty list none', () => {
  const settings = { frame_max_chars: 100, frame_max_lines: 1, cp_lines_window: 60_000 };
  const log = createLogger('silent');
  const clock = { now: () => 0, setTimeout: () => undefined, clearTimeout: () => undefined };
  const open = (frames: string[], cpId: string) => FrameLogPolicy.from({ frames, ...settings })?.open(cpId, log, clock, () => undefined);
  assert.ok(open(['*'], 'ANY'));
  assert.ok(open(['A', 'B'], 'B'));
  assert.equal(open(['A', 'B'], 'C'), undefined);
  assert.equal(FrameLogPolicy.from({ frames: [], ...settings }), undefined);
});

/** A child-process gateway (the sources, as the tests' start command runs them) with a hook module: SIGUSR2 makes it warn or crash. */
function gatewayProcess(t: TestContext, args: string[], hook: 'warn' | 'crash', env: Record<string, string> = {}) {
  const code = hook === 'warn'
    ? `process.on('SIGUSR2', () => process.emitWarning('observability test warning', { code: 'OBS_TEST' }));`
    : `process.on('SIGUSR2', () => setImmediate(() => { throw new Error('observability test crash \\u001b[31m'); }));`;
  const child = spawn(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(code)}`, ...startCommand(), ...EPHEMERAL_FLAGS, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  return collect(child);
}

function collect(child: ChildProcess) {
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  return { child, exit, stdout: () => out, stderr: () => err, lines: () => out.split(/\r?\n/).filter((l) => l !== '') };
}

test('[SPEC §2] a gateway process: every stdout line is JSON with a level name, config warnings, Node warnings and signals included; stderr stays empty', PROCESS, async (t) => {
  const broker = await startTestGateway(t);
  // --mqtt-url with the embedded-broker flags of EPHEMERAL_FLAGS: config warnings.
  const gw = gatewayProcess(t, ['--mqtt-url', broker.mqttUrl, '--log-format', 'json'], 'warn');
  const logged = (msg: string) => gw.lines().some((l) => l.includes(`"msg":"${msg}"`));
  await until(() => logged('gateway.started') || gw.child.exitCode !== null, 'gateway.started', START_MS);
  gw.child.kill('SIGUSR2');
  await until(() => logged('process.warning'), 'the process.warning line');
  gw.child.kill('SIGTERM');
  assert.equal(await within(gw.exit, 'the gateway to exit'), 0);
  assert.equal(gw.stderr(), '');
  const all = entries(gw.lines());
  for (const e of all) assert.ok(LEVELS.has(e.level), `${e.msg}: level ${String(e.level)}`);
  const warnings = all.filter((e) => e.msg === 'config.warning');
  assert.ok(warnings.every((e) => e.level === 'warn'));
  assert.ok(warnings.some((e) => e['detail'] === 'mqtt.embedded.port is ignored because an external broker is used (mqtt.url)'));
  const warning = all.find((e) => e.msg === 'process.warning');
  assert.deepEqual([warning?.level, warning?.['code'], warning?.['err']], ['warn', 'OBS_TEST', 'observability test warning']);
  assert.deepEqual(all.filter((e) => e.msg === 'gateway.signal').map((e) => e['signal']), ['SIGTERM']);
  assert.ok(all.some((e) => e.msg === 'gateway.stopped'));
});

test('[SPEC §2] --log-format pretty on a pipe: human lines without colour; a crash is a FATAL line with its stack, exit 1, nothing on stderr', PROCESS, async (t) => {
  const gw = gatewayProcess(t, ['--log-format', 'pretty'], 'crash', { FORCE_COLOR: '0' });
  await until(() => gw.stdout().includes(' gateway.started ') || gw.child.exitCode !== null, 'gateway.started', START_MS);
  const started = gw.lines().find((l) => l.includes(' gateway.started '));
  assert.match(started ?? '', /^\d\d:\d\d:\d\d\.\d{3}Z INFO  gateway\.started ocpp=\{"host":"127\.0\.0\.1","port":\d+\}/);
  gw.child.kill('SIGUSR2');
  assert.equal(await within(gw.exit, 'the crashed gateway to exit'), 1);
  assert.equal(gw.stderr(), '');
  const out = gw.stdout();
  // A quoted value is a JSON string (ESC as \u001b); a bare one and the stack are escaped as in the dashboard (\x1b).
  assert.match(out, /FATAL process\.crashed err="observability test crash \\u001b\[31m"\n {4}Error: observability test crash \\x1b\[31m\n {8}at /);
  assert.ok(!out.includes('\u001b'), 'no colour, and the crash text is escaped');
  for (const line of gw.lines()) assert.ok(!line.startsWith('{'), `not JSON: ${line}`);
});

test('[SPEC §2] log.format auto on a terminal (a pseudo-terminal from script(1)): pretty and coloured', PROCESS, async (t) => {
  if (spawnSync('script', ['--version']).status !== 0) {
    t.skip('script(1) from util-linux is not installed: no pseudo-terminal to run the gateway on');
    return;
  }
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, ...startCommand(), ...EPHEMERAL_FLAGS].map(quote).join(' ');
  const env: Record<string, string> = { ...process.env as Record<string, string>, TERM: 'xterm' };
  delete env['NO_COLOR'];
  delete env['FORCE_COLOR'];
  const child = spawn('script', ['-qec', `echo "pid=$$"; exec ${command}`, '/dev/null'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  const gw = collect(child);
  await until(() => gw.stdout().includes('gateway.started') || child.exitCode !== null, 'gateway.started on the terminal', START_MS);
  const pid = Number(/pid=(\d+)/.exec(gw.stdout())?.[1]);
  assert.ok(pid > 0);
  process.kill(pid, 'SIGTERM');
  assert.equal(await within(gw.exit, 'the gateway on the terminal to exit'), 0);
  const out = gw.stdout();
  assert.match(out, /\u001b\[32mINFO \u001b\[0m \u001b\[1mgateway\.started\u001b\[0m/);
  assert.doesNotMatch(out, /^\{/m, 'no JSON lines on a terminal');
});

test('--version prints the version of package.json', PROCESS, async () => {
  const r = run(['--version']);
  let out = '';
  r.child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  assert.equal(await within(r.exit, 'ocpp-gateway --version', START_MS), 0);
  assert.equal(out, `${VERSION}\n`);
});

/** `# TYPE name kind` lines of a /metrics text: the names a query may use (histograms: _bucket, _sum, _count). */
function exposedNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name = '', kind] = m;
    if (kind === 'histogram' || kind === 'summary') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    else names.add(name);
  }
  return names;
}

test('[SPEC §9] /metrics: process and Node.js metrics with the gateway prefix, build info, readiness that follows the broker', T, async (t) => {
  const a = await startTestGateway(t);
  const b = await startTestGateway(t, { 'mqtt.url': a.mqttUrl });
  const scrape = async (apiUrl: string) => {
    const res = await within(fetch(`${apiUrl}/metrics`), 'GET /metrics');
    assert.equal(res.status, 200);
    return res.text();
  };
  const text = await scrape(b.apiUrl);
  const names = exposedNames(text);
  for (const name of ['ocpp_gateway_process_cpu_seconds_total', 'ocpp_gateway_process_resident_memory_bytes', 'ocpp_gateway_process_open_fds',
    'ocpp_gateway_nodejs_eventloop_lag_p99_seconds', 'ocpp_gateway_nodejs_heap_size_used_bytes', 'ocpp_gateway_nodejs_gc_duration_seconds_bucket']) {
    assert.ok(names.has(name), name);
  }
  assert.ok(text.includes(`ocpp_gateway_build_info{version="${VERSION}",node="${process.versions.node}"} 1\n`));
  assert.match(text, /^ocpp_gateway_ready 1$/m);
  // Two gateways in one process share the process metrics: both expose them.
  assert.match(await scrape(a.apiUrl), /^ocpp_gateway_process_resident_memory_bytes \d+/m);
  // The broker (gateway a's embedded one) goes away: b is not ready, and says so in /metrics too.
  await a.gw.close();
  await until(async () => /^ocpp_gateway_ready 0$/m.test(await scrape(b.apiUrl)), 'ocpp_gateway_ready 0');
  assert.match(await scrape(b.apiUrl), /^ocpp_gateway_broker_connected 0$/m);
  assert.equal((await within(fetch(`${b.apiUrl}/readyz`), 'GET /readyz')).status, 503);
});

/** Metric names in a PromQL expression: identifiers that are not functions, keywords, label names or values. */
function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, '')
    .replace(/\[[^\]]*\]/g, '')
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '');
  const keywords = new Set(['and', 'or', 'unless', 'bool', 'offset', 'by', 'without']);
  return [...stripped.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()/g)].map((m) => m[1] ?? '').filter((n) => !keywords.has(n) && !/^\d/.test(n) && n !== 'e');
}

/** Series Prometheus makes itself for every scrape target. */
const PROMETHEUS_SERIES = new Set(['up']);

interface Panel { type: string; id: number; title: string; panels?: Panel[]; targets?: Array<{ expr: string }>; datasource?: { uid: string } }

test('[SPEC §9] deploy/: every metric the Grafana dashboard and the alert rules use exists in a running gateway\'s /metrics; promtool checks both', T, async (t) => {
  const { apiUrl } = await startTestGateway(t);
  const exposed = exposedNames(await (await within(fetch(`${apiUrl}/metrics`), 'GET /metrics')).text());

  const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy/grafana/ocpp-gateway.json'), 'utf8')) as { uid: string; panels: Panel[]; templating: { list: Array<{ name: string; query: unknown }> } };
  const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
  assert.equal(new Set(panels.map((p) => p.id)).size, panels.length, 'panel ids are unique');
  const queries: Array<{ where: string; expr: string }> = [];
  for (const p of panels.filter((p) => p.type !== 'row')) {
    assert.ok((p.targets ?? []).length > 0, `panel "${p.title}" has queries`);
    assert.equal(p.datasource?.uid, '${datasource}', `panel "${p.title}" uses the datasource variable`);
    for (const target of p.targets ?? []) queries.push({ where: `panel "${p.title}"`, expr: target.expr });
  }
  for (const v of dashboard.templating.list) {
    const q = v.query as { query?: string } | string;
    if (v.name !== 'datasource') queries.push({ where: `variable ${v.name}`, expr: (typeof q === 'string' ? q : q.query ?? '').replace(/^label_values\((.*),\s*\w+\)$/, '$1') });
  }
  const titles = panels.map((p) => p.title.toLowerCase()).join(' | ');
  for (const topic of ['connected', 'frames', 'round trip', 'timeouts', 'validation', 'rejected', 'refusals', 'broker', 'cpu', 'memory', 'event-loop lag']) {
    assert.ok(titles.includes(topic), `the dashboard has a panel about ${topic}`);
  }

  const rules = parseYaml(readFileSync(join(ROOT, 'deploy/prometheus/alerts.yml'), 'utf8')) as { groups: Array<{ rules: Array<{ alert: string; expr: string; labels: { severity: string }; annotations: { summary: string; description: string } }> }> };
  const alerts = rules.groups.flatMap((g) => g.rules);
  for (const r of alerts) {
    assert.ok(['critical', 'warning'].includes(r.labels.severity), `${r.alert} has a severity`);
    assert.ok(r.annotations.summary !== '' && r.annotations.description !== '', `${r.alert} says what happened`);
    queries.push({ where: `alert ${r.alert}`, expr: r.expr });
  }
  for (const name of ['OcppGatewayDown', 'OcppGatewayNotReady', 'OcppGatewayBrokerDisconnected', 'OcppGatewayTimeoutsRising', 'OcppGatewayRefusalsSpike', 'OcppGatewayEventLoopLag', 'OcppGatewayMemoryHigh']) {
    assert.ok(alerts.some((r) => r.alert === name), `alert ${name}`);
  }

  let checked = 0;
  for (const { where, expr } of queries) {
    const names = metricNames(expr.replace(/\$__rate_interval/g, '5m'));
    assert.ok(names.length > 0, `${where}: no metric found in ${expr}`);
    for (const name of names) {
      assert.ok(exposed.has(name) || PROMETHEUS_SERIES.has(name), `${where} uses ${name}, which /metrics does not have`);
      checked++;
    }
  }
  assert.ok(checked > 60);

  if (spawnSync('promtool', ['--version']).status !== 0) {
    t.diagnostic('promtool is not installed (Debian package prometheus): PromQL syntax and alert unit tests not run');
    return;
  }
  const promtool = (...args: string[]) => {
    const r = spawnSync('promtool', args, { cwd: join(ROOT, 'deploy/prometheus'), encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, `promtool ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  };
  promtool('check', 'rules', 'alerts.yml');
  promtool('test', 'rules', 'alerts.test.yml');
  // The dashboard's queries as recording rules, variables filled in, so promtool parses each one.
  const dir = mkdtempSync(join(tmpdir(), 'ocpp-gw-dash-'));
  const asRules = queries.filter((q) => q.where.startsWith('panel')).map((q, i) => ({
    record: `dashboard:query_${i}`,
    expr: q.expr.replace(/\$__rate_interval/g, '5m').replace(/\$(job|instance)/g, '.*'),
  }));
  writeFileSync(join(dir, 'dashboard-queries.yml'), JSON.stringify({ groups: [{ name: 'dashboard', rules: asRules }] }));
  promtool('check', 'rules', join(dir, 'dashboard-queries.yml'));
});
