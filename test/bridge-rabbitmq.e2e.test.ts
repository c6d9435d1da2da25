// The behaviour suite against RabbitMQ's MQTT plugin (MQTT 3.1.1, QoS 0 and 1), in both client modes.
// Each test starts its own node (about 8 s), so these run only where rabbitmq-server is installed;
// .ci/run installs it. [SPEC §7]
import { behaviourSuite } from './support/behaviour-suite.js';
import { startRabbitMq } from './support/brokers.js';

behaviourSuite('rabbitmq', (t) => startRabbitMq(t));
behaviourSuite('rabbitmq per_client', (t) => startRabbitMq(t), { 'mqtt.client_mode': 'per_client' });
