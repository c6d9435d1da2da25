// The broker port: what the gateway needs from MQTT, whichever broker is behind it.
export interface PublishOptions {
  readonly retain?: boolean;
  /** MQTT 5 user properties (sent only where the connection speaks MQTT 5). */
  readonly userProperties?: Readonly<Record<string, string>>;
  /**
   * The packet was already outstanding when another connection dropped (a charge point's own link,
   * per_client): one more drop with it outstanding and it is refused.
   */
  readonly outstandingAtDrop?: boolean;
}

export type BrokerMessageHandler = (topic: string, payload: Buffer) => void;

/**
 * A publish the broker would not take: dropped instead of resent, so it cannot poison the connection
 * for everyone else. [SPEC §4] `reason` is a metric label: `connection_dropped` (the broker dropped
 * the connection each time this packet was outstanding) or `puback_0x..` (an MQTT 5 PUBACK reason
 * code >= 0x80, e.g. puback_0x87 not authorized).
 */
export class PublishRefused extends Error {
  constructor(readonly reason: string, readonly topic: string, detail: string) {
    super(detail);
    this.name = 'PublishRefused';
  }
}

export interface BrokerPort {
  readonly kind: 'embedded' | 'external';
  /** Resolves when the broker has taken the message (QoS >= 1: acknowledged); rejects otherwise. */
  publish(topic: string, payload: string, options?: PublishOptions): Promise<void>;
  /** Resolves when the subscription is in place (SUBACK). */
  subscribe(filter: string): Promise<void>;
  unsubscribe(filter: string): Promise<void>;
  /** The one handler for every message on the gateway's subscriptions. */
  setMessageHandler(handler: BrokerMessageHandler): void;
  isConnected(): boolean;
  /** Called whenever isConnected() changes. */
  onConnectionChange(listener: (connected: boolean) => void): void;
  /** Called once for each publish the broker refused (its promise rejects with the same PublishRefused). */
  onPublishRefused?(listener: (refused: PublishRefused) => void): void;
  close(): Promise<void>;
}
