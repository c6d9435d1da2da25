// The behaviour suite against an external Mosquitto, MQTT 3.1.1 and MQTT 5, in both client modes. [SPEC §7]
import { behaviourSuite } from './support/behaviour-suite.js';
import { startMosquitto } from './support/brokers.js';

behaviourSuite('mosquitto 3.1.1', (t) => startMosquitto(t));
behaviourSuite('mosquitto 5', (t) => startMosquitto(t), { 'mqtt.protocol_version': '5' });
behaviourSuite('mosquitto 3.1.1 per_client', (t) => startMosquitto(t), { 'mqtt.client_mode': 'per_client' });
behaviourSuite('mosquitto 5 per_client', (t) => startMosquitto(t), { 'mqtt.protocol_version': '5', 'mqtt.client_mode': 'per_client' });
