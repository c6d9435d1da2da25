// The behaviour suite against NATS's MQTT listener (MQTT 3.1.1, QoS 0 and 1). [SPEC §7]
import { behaviourSuite } from './support/behaviour-suite.js';
import { startNats } from './support/brokers.js';

behaviourSuite('nats', (t) => startNats(t));
