// Where the bridge delivers a charge point's downstream messages: the sink its connection registers
// (in the registry for the shared subscription, or bound to its own broker link in per_client mode).
// The data path goes one way, transport -> session -> bridge: the bridge knows this interface, never
// the transport's Connection, which implements it. [SPEC §4]
import type { ServiceMessage } from './channel.js';

export interface DownstreamSink {
  readonly cpId: string;
  /** The agreed subprotocol (the topics and envelopes name it). */
  readonly protocol: string;
  /** When the connection was accepted (ms since the epoch): the takeover announcement's fence. [SPEC §7] */
  readonly connectedAt: number;
  /** True once torn down: nothing more is delivered to it. */
  readonly closed: boolean;
  /** A message a service published for this charge point. */
  fromService(message: ServiceMessage): void;
}
