// The behaviour suite against an external Mosquitto, MQTT 3.1.1 and MQTT 5. [SPEC §7]
import { behaviourSuite } from './support/behaviour-suite.js';
import { startMosquitto } from './support/brokers.js';

behaviourSuite('mosquitto 3.1.1', (t) => startMosquitto(t));
behaviourSuite('mosquitto 5', (t) => startMosquitto(t), { 'mqtt.protocol_version': '5' });
