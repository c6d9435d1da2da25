// The `debug` package, as aedes, mqtt-packet and MQTT.js use it, allocates an arguments array on every
// call even when disabled (`function debug(...args)` checks `enabled` only inside). mqtt-packet calls it
// several times per packet: 13 % of all bytes allocated per round trip in an allocation profile. When
// DEBUG is not set, every debug logger is made a shared no-op before those packages load; with DEBUG set
// nothing changes. Import this module before anything that loads them. [DESIGN: measured, not assumed]
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

function silence(): void {
  if ((process.env['DEBUG'] ?? '') !== '') return;
  let path: string;
  try {
    path = require.resolve('debug');
  } catch {
    return; // not installed: nothing to do
  }
  const real = require('debug') as ((namespace: string) => unknown) & Record<string, unknown>;
  const off = Object.assign(() => undefined, { enabled: false, namespace: '', log: () => undefined, destroy: () => true });
  const quiet = Object.assign((namespace: string) => Object.assign(() => undefined, { enabled: false, namespace, log: off.log, destroy: off.destroy, extend: (sub: string) => quiet(`${namespace}:${sub}`) }), real);
  const cached = require.cache[path];
  if (cached !== undefined) cached.exports = quiet;
}

silence();
