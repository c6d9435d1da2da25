// The behaviour suite against NATS's MQTT listener (MQTT 3.1.1, QoS 0 and 1), in both client modes. [SPEC §7]
import { behaviourSuite } from './support/behaviour-suite.js';
import { startNats } from './support/brokers.js';

behaviourSuite('nats', (t) => startNats(t));
behaviourSuite('nats per_client', (t) => startNats(t), { 'mqtt.client_mode': 'per_client' });
