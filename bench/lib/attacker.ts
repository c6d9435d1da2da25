// A hostile charge point in its own process (so its own event loop is not the good charge points'):
// forked by bench/flood.ts with IPC. It floods one kind of frame, honouring ws backpressure, and
// reconnects whenever it is closed; on 'stop' it reports what it did and exits.
import WebSocket from 'ws';

export type AttackKind = 'ghost_result' | 'unknown_action' | 'invalid_call';

const FRAMES: Record<AttackKind, (seq: number) => string> = {
  ghost_result: (s) => `[3,"ghost-${s}",{}]`,
  unknown_action: (s) => `[2,"u-${s}","NoSuchAction",{}]`,
  invalid_call: (s) => `[2,"v-${s}","Heartbeat",{"extra":${s}}]`,
};

export interface AttackerReport { framesSent: number; connections: number; closeCodes: Record<string, number> }

function attack(port: number, kind: AttackKind): () => AttackerReport {
  const frame = FRAMES[kind];
  const report: AttackerReport = { framesSent: 0, connections: 0, closeCodes: {} };
  let running = true;
  let current: WebSocket | undefined;
  const connect = () => {
    if (!running) return;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ocpp/ATTACKER`, ['ocpp1.6'], { localAddress: '127.0.0.200', perMessageDeflate: false });
    current = ws;
    ws.on('error', () => undefined);
    ws.on('message', () => undefined);
    ws.on('open', () => {
      report.connections++;
      const pump = () => {
        if (!running || ws.readyState !== WebSocket.OPEN) return;
        // Keep about 1 MiB queued: as fast as the gateway reads, no faster. When the queue is full,
        // wait a little instead of spinning, so the attacker's own CPU does not starve the machine.
        for (let i = 0; i < 200 && ws.bufferedAmount < 1 << 20; i++) ws.send(frame(report.framesSent++));
        if (ws.bufferedAmount < 1 << 20) setImmediate(pump);
        else setTimeout(pump, 5);
      };
      pump();
    });
    ws.on('close', (code) => {
      report.closeCodes[code] = (report.closeCodes[code] ?? 0) + 1;
      if (running) setTimeout(connect, 10);
    });
  };
  connect();
  return () => {
    running = false;
    current?.terminate();
    return report;
  };
}

if (process.send !== undefined) {
  let stop: (() => AttackerReport) | undefined;
  process.on('message', (m: { start?: { port: number; kind: AttackKind }; stop?: true }) => {
    if (m.start !== undefined) {
      stop = attack(m.start.port, m.start.kind);
      process.send?.({ started: true });
    }
    if (m.stop === true && stop !== undefined) process.send?.({ report: stop() }, () => process.exit(0));
  });
}
