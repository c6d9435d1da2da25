// The behaviour suite against the CLI with --workers 2: the embedded broker in the primary, and
// Mosquitto that each worker connects to. [SPEC §7]
import { behaviourSuite } from './support/behaviour-suite.js';
import { findBinary, startMosquitto } from './support/brokers.js';
import { workersGateway } from './support/workers-process.js';

behaviourSuite('workers 2 embedded', undefined, {}, workersGateway);
if (findBinary('mosquitto') !== undefined) behaviourSuite('workers 2 mosquitto', (t) => startMosquitto(t), {}, workersGateway);
