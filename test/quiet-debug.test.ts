// The `debug` loggers of aedes, mqtt-packet and MQTT.js are shared no-ops unless DEBUG is set. Each
// case runs in a fresh process: the module cache is what is being changed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

const ROOT = new URL('..', import.meta.url).pathname;
const probe = `
  await import('./src/obs/quiet-debug.ts');
  const { createRequire } = await import('node:module');
  const require = createRequire(process.cwd() + '/node_modules/mqtt-packet/');
  const log = require('debug')('mqtt-packet:probe');
  log('called with %s', 'arguments');
  console.log(JSON.stringify({ enabled: log.enabled, namespace: log.namespace, extended: log.extend('sub').namespace, hasEnable: typeof require('debug').enable, realLogger: 'useColors' in log }));
`;
const run = (env: Record<string, string>) => JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], { cwd: ROOT, env: { ...process.env, DEBUG: '', ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as Record<string, unknown>;

test('without DEBUG, a dependency\'s debug logger is a disabled no-op that keeps its shape', () => {
  // realLogger: the debug package's own loggers carry useColors; the no-op does not.
  assert.deepEqual(run({}), { enabled: false, namespace: 'mqtt-packet:probe', extended: 'mqtt-packet:probe:sub', hasEnable: 'function', realLogger: false });
});

test('with DEBUG set, the real debug package is left alone', () => {
  const r = run({ DEBUG: 'mqtt-packet:*' });
  assert.equal(r['enabled'], true);
  assert.equal(r['realLogger'], true);
});
