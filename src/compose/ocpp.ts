// The OCPP side: admission limits and refusal reports shared by every listener, the CpSessions that
// take over after a 101, and one OcppServer (listener + upgrade pipeline) per configured listener,
// bound. Also makes extra upgrade pipelines for servers the embedder builds (Gateway.upgradeHandler).
import type { AuthProvider } from '../auth/provider.js';
import type { Bridge } from '../bridge/bridge.js';
import type { BrokerPort } from '../bridge/broker.js';
import { StartupError } from '../errors.js';
import type { Metrics } from '../obs/metrics.js';
import type { RecentDisconnects } from '../session/cp-facts.js';
import type { Registry } from '../session/registry.js';
import { Admission } from '../transport/admission.js';
import type { Connection } from '../transport/connection.js';
import { CpSessions } from '../transport/cp-sessions.js';
import { OcppServer, type ListenerSpec } from '../transport/ocpp-server.js';
import { RefusalReports } from '../transport/refusal-reports.js';
import { UpgradePipeline, type UpgradeEntry } from '../transport/upgrade-pipeline.js';
import type { MessageChecks } from '../validation/checks.js';
import type { ComposeContext } from './context.js';

export interface OcppDeps {
  readonly metrics: Metrics;
  readonly bridge: Bridge;
  readonly broker: BrokerPort;
  readonly registry: Registry<Connection>;
  readonly recentlyDisconnected: RecentDisconnects;
  readonly auth: AuthProvider;
  readonly checks: MessageChecks;
}

export interface OcppSide {
  readonly sessions: CpSessions;
  readonly servers: readonly OcppServer[];
  readonly bound: Partial<Record<'ws' | 'wss', { host: string; port: number }>>;
  upgradeHandler(entry?: UpgradeEntry): UpgradePipeline;
}

/** ocpp.enabled: ws://; ocpp.tls.cert_file: wss://. */
export function listenerSpecs(o: ComposeContext['config']['ocpp']): ListenerSpec[] {
  const listeners: ListenerSpec[] = [];
  if (o.enabled) listeners.push({ name: 'ws', host: o.host, port: o.port, profile: o.security_profile as 0 | 1 | 3 });
  if (o.tls.cert_file !== '') {
    listeners.push({
      name: 'wss', host: o.tls.host, port: o.tls.port, profile: o.tls.security_profile as 2 | 3,
      tls: { certFile: o.tls.cert_file, keyFile: o.tls.key_file, caFile: o.tls.ca_file, minVersion: o.tls.min_version, cnMustMatch: o.tls.cn_must_match },
    });
  }
  return listeners;
}

export async function startOcpp(ctx: ComposeContext, d: OcppDeps): Promise<OcppSide> {
  const { config, clock, log, cleanups } = ctx;
  const o = config.ocpp;
  const brokerReady = () => d.broker.isConnected();
  const admission = new Admission(clock, {
    rate: o.max_connect_rate, burst: o.connect_burst,
    ratePerAddress: o.max_connect_rate_per_address, burstPerAddress: o.connect_burst_per_address,
    maxAddresses: config.auth.max_tracked_addresses, connectionsPerAddress: o.max_connections_per_address,
  });
  const refusalReports = new RefusalReports({
    maxReports: o.max_rejected_events,
    windowMs: o.rejected_events_window,
    maxAddresses: config.auth.max_tracked_addresses,
    clock,
    onSummary: (source, held) => log.warn({ source, held: Object.fromEntries(held), windowMs: o.rejected_events_window }, 'cp.upgrade_refusals_suppressed'),
  });
  cleanups.push(() => refusalReports.flush());
  const sessions = new CpSessions({ config, clock, log, metrics: d.metrics, bridge: d.bridge, registry: d.registry, admission, checks: d.checks, recentlyDisconnected: d.recentlyDisconnected, brokerReady });
  const shared = { config, clock, log, metrics: d.metrics, bridge: d.bridge, sessions, auth: d.auth, admission, refusalReports, brokerReady };
  const servers: OcppServer[] = [];
  const bound: OcppSide['bound'] = {};
  for (const listener of listenerSpecs(o)) {
    let server: OcppServer;
    try {
      server = new OcppServer({ ...shared, listener });
    } catch (err) {
      throw new StartupError((err as Error).message);
    }
    servers.push(server);
    cleanups.push(async () => {
      const closing = server.stopAccepting();
      sessions.closeAll('shutdown');
      await closing;
    });
    bound[listener.name] = { host: listener.host, port: (await server.start()).port };
  }
  const upgradeHandler = (entry: UpgradeEntry = { name: 'ws', profile: o.security_profile as 0 | 1 | 3 }) => new UpgradePipeline({ ...shared, entry });
  return { sessions, servers, bound, upgradeHandler };
}
