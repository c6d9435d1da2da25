// The per-version suite against an external Mosquitto (MQTT 3.1.1, shared client). [SPEC §7]
import { test } from 'node:test';
import { findBinary, startMosquitto } from './support/brokers.js';
import { versionSuite } from './support/version-suite.js';

if (findBinary('mosquitto') === undefined) {
  test('mosquitto: the per-version suite', { skip: 'mosquitto is not installed (.ci/run installs it with apt-get)' }, () => undefined);
} else {
  versionSuite('mosquitto', (t) => startMosquitto(t));
}
