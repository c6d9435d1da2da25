// A publish the broker refuses must never poison the connection it shares with other charge points:
// it is dropped, its promise fails with PublishRefused, and it is reported once. [SPEC §4]
//
// Why a guard is needed: MQTT.js keeps every unacknowledged QoS>0 publish (client.outgoing and
// client.outgoingStore) and, after a reconnect, sends its store again first, one packet at a time
// (the next once the previous is acknowledged), before it emits 'connect'. A broker that drops the
// connection because of one packet (Mosquitto 2: a topic that is not well-formed UTF-8 or contains a
// control character [MQTT-1.5.3-1/2]; a packet over max_packet_size; a broker bug) drops it again at
// every resend, and the connection never comes back for anyone.
//
// The rule: a publish written on a connection and still unacknowledged when that connection drops
// gets a strike. If it is written again on a later connection (the resend) and is still
// unacknowledged when that one drops too, it is dropped. A packet that brings the broker down shows
// exactly this; an innocent packet only when the broker goes down twice while that very packet is
// being resent (a flapping broker): then that one packet is refused (at most once for it) rather
// than the connection risking never recovering. The cost of a refusal: two reconnects.
// MQTT 5 PUBACK reason codes >= 0x80 are refusals too: MQTT.js already removes such a packet and
// fails its callback; here it gets the same error type and report. [MQTT-3.4.2.1]
import type { IPublishPacket, MqttClient } from 'mqtt';
import { PublishRefused } from './broker.js';

/** MQTT.js's error for a PUBACK with a failure reason code. */
interface ReasonCodeError extends Error {
  readonly code?: unknown;
}

export class RefusedPublishes {
  readonly #client: MqttClient;
  readonly #label: string;
  /** Message ids of QoS>0 publishes written on the current connection and not acknowledged yet. */
  #written = new Set<number>();
  /** Message id -> the stored packet that was unacknowledged at an earlier drop. */
  readonly #struck = new Map<number, object>();
  /** Publishes already outstanding at another connection's drop: one drop here and they are refused. */
  readonly #suspects = new Map<string, string>();
  #disconnectReason: number | undefined;
  readonly #listeners: Array<(refused: PublishRefused) => void> = [];

  /** `label` names the connection in reports ("the shared connection", "the link of CP1"). */
  constructor(client: MqttClient, label: string) {
    this.#client = client;
    this.#label = label;
    client.on('packetsend', (packet) => {
      if (packet.cmd === 'publish' && packet.qos > 0 && packet.messageId !== undefined) this.#written.add(packet.messageId);
    });
    // Acknowledged: no longer outstanding (keeps the set as small as what is in flight).
    client.on('packetreceive', (packet) => {
      if ((packet.cmd === 'puback' || packet.cmd === 'pubcomp') && packet.messageId !== undefined) this.#written.delete(packet.messageId);
    });
    // MQTT 5: the broker may say why before it closes (0x90 topic name invalid, 0x95 packet too large).
    client.on('disconnect', (packet) => {
      this.#disconnectReason = packet.reasonCode;
    });
    client.on('close', () => this.#onDrop());
  }

  onRefused(listener: (refused: PublishRefused) => void): void {
    this.#listeners.push(listener);
  }

  /** Marks a publish about to be made as already outstanding at one drop (see PublishOptions). */
  suspect(topic: string, payload: string): () => void {
    this.#suspects.set(topic, payload);
    return () => {
      if (this.#suspects.get(topic) === payload) this.#suspects.delete(topic);
    };
  }

  /** The error a failed publish rejects with: a PUBACK refusal becomes PublishRefused (reported once). */
  failure(err: unknown, topic: string): unknown {
    if (err instanceof PublishRefused) return err;
    const code = (err as ReasonCodeError | undefined)?.code;
    if (typeof code !== 'number' || code < 0x80) return err;
    const refused = new PublishRefused(`puback_0x${code.toString(16)}`, topic, `the broker refused a publish on ${this.#label}: ${(err as Error).message} (reason code 0x${code.toString(16)})`);
    this.#report(refused);
    return refused;
  }

  #stored(messageId: number): IPublishPacket | undefined {
    let found: IPublishPacket | undefined;
    // The default (in-memory) store answers synchronously.
    this.#client.outgoingStore.get({ messageId }, (err, packet) => {
      if (!err && packet?.cmd === 'publish') found = packet;
    });
    return found;
  }

  #onDrop(): void {
    const written = this.#written;
    this.#written = new Set();
    const why = this.#disconnectReason === undefined ? '' : ` (its DISCONNECT said reason code 0x${this.#disconnectReason.toString(16)})`;
    this.#disconnectReason = undefined;
    // Strikes of packets acknowledged since are forgotten (their id may be reused).
    for (const [id, packet] of this.#struck) if (this.#stored(id) !== packet) this.#struck.delete(id);
    for (const id of written) {
      const pending = this.#client.outgoing[id];
      const packet = pending?.cmd === 'publish' ? this.#stored(id) : undefined;
      if (pending === undefined || packet === undefined) continue;
      const suspect = this.#suspects.get(packet.topic) === packet.payload;
      if (this.#struck.get(id) !== packet && !suspect) {
        this.#struck.set(id, packet);
        continue;
      }
      this.#struck.delete(id);
      const refused = new PublishRefused('connection_dropped', packet.topic, `the broker dropped ${this.#label} each time this publish was outstanding${why}; dropped instead of resent`);
      const callback = pending.cb;
      // removeOutgoingMessage removes it from client.outgoing and the store, then calls the callback.
      pending.cb = () => callback(refused);
      this.#client.removeOutgoingMessage(id);
      this.#report(refused);
    }
  }

  #report(refused: PublishRefused): void {
    for (const l of this.#listeners) l(refused);
  }
}
