// The API and dashboard with many charge points connected: N bare-ws CPs on the gateway process,
// then timed requests of the routes the dashboard uses. Reported, not asserted.
import WebSocket from 'ws';
import { performance } from 'node:perf_hooks';
import { startGatewayProcess } from './lib/gateway-process.js';
import { median, percentile, rssBytes, table } from './lib/stats.js';

async function connectMany(port: number, n: number): Promise<WebSocket[]> {
  const sockets: WebSocket[] = [];
  const batch = 250;
  for (let i = 0; i < n; i += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, n - i) }, (_, j) => new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/ocpp/CP${String(i + j).padStart(6, '0')}`, ['ocpp1.6']);
      sockets.push(ws);
      ws.once('open', () => resolve());
      ws.once('error', reject);
    })));
  }
  return sockets;
}

export async function run(opts: { quick: boolean }): Promise<{ markdown: string; json: unknown }> {
  const n = opts.quick ? 1000 : 5000;
  const reps = opts.quick ? 20 : 100;
  const gw = await startGatewayProcess(['api.host=127.0.0.1']);
  const apiUrl = `http://127.0.0.1:${gw.apiPort}`;
  try {
    const sockets = await connectMany(gw.ocppPort, n);
    const routes: Array<[string, string]> = [
      ['list, first page (50)', '/api/v1/clients?limit=50'],
      ['list, last page (50)', `/api/v1/clients?limit=50&page=${Math.ceil(n / 50)}`],
      ['list, search "CP0012"', '/api/v1/clients?limit=50&like=CP0012'],
      ['one client', '/api/v1/clients/CP000042'],
      ['stats', '/api/v1/stats'],
      ['metrics', '/metrics'],
      ['dashboard page', '/'],
    ];
    const rows: Array<Array<string | number>> = [];
    const results: Record<string, { medianMs: number; p99Ms: number; bytes: number }> = {};
    for (const [name, path] of routes) {
      const times: number[] = [];
      let bytes = 0;
      for (let i = 0; i < reps; i++) {
        const t0 = performance.now();
        const res = await fetch(apiUrl + path);
        const body = await res.arrayBuffer();
        times.push(performance.now() - t0);
        bytes = body.byteLength;
        if (res.status !== 200) throw new Error(`${path}: HTTP ${res.status}`);
      }
      times.sort((a, b) => a - b);
      results[name] = { medianMs: median(times), p99Ms: percentile(times, 99), bytes };
      rows.push([name, median(times), percentile(times, 99), bytes]);
    }
    const rss = rssBytes(gw.pid);
    for (const ws of sockets) ws.terminate();
    const markdown = [
      `### HTTP API with ${n} charge points connected (${reps} sequential requests per route, loopback; time = request to last byte)`,
      '',
      table(['route', 'median ms', 'p99 ms', 'bytes'], rows),
      '',
      `Gateway RSS with ${n} connections: ${(rss / 2 ** 20).toFixed(0)} MiB. Target: the list page under 200 ms.`,
    ].join('\n');
    return { markdown, json: { connections: n, results, rssBytes: rss } };
  } finally {
    await gw.stop();
  }
}
