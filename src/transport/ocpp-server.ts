// One OCPP listener put together: its sockets (listeners.ts) with the upgrade pipeline mounted on
// them (upgrade-pipeline.ts); what follows a 101 is the shared CpSessions' (cp-sessions.ts).
// The pipeline alone mounts on any Node HTTP server: see UpgradePipeline.handleUpgrade.
import type { AddressInfo } from 'node:net';
import type { Config } from '../config/schema.js';
import type { AuthProvider } from '../auth/provider.js';
import type { Bridge } from '../bridge/bridge.js';
import type { Clock } from '../session/clock.js';
import type { Logger } from '../obs/log.js';
import type { Metrics } from '../obs/metrics.js';
import type { Admission } from './admission.js';
import type { CpSessions } from './cp-sessions.js';
import { OcppListener, type ListenerSpec } from './listeners.js';
import type { RefusalReports } from './refusal-reports.js';
import { UpgradePipeline, type UpgradePipelineDeps } from './upgrade-pipeline.js';

export type { ListenerSpec } from './listeners.js';

/** What one listener needs: the pipeline's dependencies, with the listener in place of the entry and peer. */
export type OcppServerDeps = Omit<UpgradePipelineDeps, 'entry' | 'peer'> & { readonly listener: ListenerSpec };

export class OcppServer {
  readonly listener: OcppListener;
  readonly pipeline: UpgradePipeline;
  readonly #sessions: CpSessions;

  /** Throws when the listener cannot be built (a TLS or CA file unreadable). */
  constructor(deps: OcppServerDeps) {
    const { listener: spec, ...shared } = deps;
    this.#sessions = deps.sessions;
    this.listener = new OcppListener({ config: deps.config, spec, clock: deps.clock, log: deps.log, metrics: deps.metrics });
    this.pipeline = new UpgradePipeline({ ...shared, entry: spec, peer: this.listener.peer });
    this.listener.mount(this.pipeline);
  }

  start(): Promise<AddressInfo> {
    return this.listener.start();
  }

  /** Re-reads the certificate files (on change and SIGHUP); a bad set keeps the current one. */
  reloadTls(): void {
    this.listener.reloadTls();
  }

  /**
   * Stops listening; the promise settles once every socket of the listener is gone, so close the
   * connections (CpSessions.closeAll) before awaiting it. Every listener refuses new upgrades from
   * now on (shutting_down): they share the CpSessions.
   */
  stopAccepting(): Promise<void> {
    this.#sessions.stopAccepting();
    return this.listener.close();
  }
}
