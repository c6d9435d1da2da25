// The broker port: what the gateway needs from MQTT, whichever broker is behind it.
export interface PublishOptions {
  readonly retain?: boolean;
  /** MQTT 5 user properties (sent only where the connection speaks MQTT 5). */
  readonly userProperties?: Readonly<Record<string, string>>;
}

export type BrokerMessageHandler = (topic: string, payload: Buffer) => void;

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
  close(): Promise<void>;
}
