// The behaviour suite against the CLI with --workers 2: the embedded broker in the primary, and
// Mosquitto that each worker connects to. [SPEC §7] (Not per_client: there a CP that reconnects to the
// other worker is closed as between two instances, broker_disconnected when the broker does not name
// the takeover — per-client.e2e covers that; the suite expects the one-instance `replaced`.)
import { behaviourSuite } from './support/behaviour-suite.js';
import { findBinary, startMosquitto } from './support/brokers.js';
import { workersGateway } from './support/workers-process.js';

behaviourSuite('workers 2 embedded', undefined, {}, workersGateway);
if (findBinary('mosquitto') !== undefined) behaviourSuite('workers 2 mosquitto', (t) => startMosquitto(t), {}, workersGateway);
