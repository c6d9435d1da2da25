// `ocpp-gateway clients list|show|kick|call`: the HTTP API from a terminal.
import type { Command } from 'commander';
import { escapeControls, jsonForTerminal } from './api/escape.js';
import { PROTOCOL_NAMES } from './ocpp/protocols.js';
import { redactUrl } from './obs/log.js';

interface ApiOptions { apiUrl: string; apiKey?: string; json?: boolean }

async function request(o: ApiOptions, method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  const key = o.apiKey ?? process.env['OCPP_GW_API__KEY'];
  if (key) headers['authorization'] = `Bearer ${key}`;
  let res: Response;
  try {
    res = await fetch(new URL(path, o.apiUrl), { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch (err) {
    throw new Error(`cannot reach the gateway API at ${o.apiUrl} (${(err as Error & { cause?: { code?: string } }).cause?.code ?? (err as Error).message}); set --api-url`);
  }
  const text = await res.text();
  return { status: res.status, body: text === '' ? null : (JSON.parse(text) as unknown) };
}

function fail(message: string): never {
  process.stderr.write(`ocpp-gateway: ${redactUrl(message)}\n`);
  process.exit(1);
}

function explain(status: number, body: unknown): string {
  const b = body as { error?: string; message?: string; errorCode?: string; errorDescription?: string } | null;
  return escapeControls(`HTTP ${status}${b?.error ? ` ${b.error}` : ''}${b?.errorCode ? ` ${b.errorCode}` : ''}: ${b?.message ?? b?.errorDescription ?? ''}`.trim());
}

export function addClientCommands(program: Command): void {
  const clients = program.command('clients').description('list, inspect, kick and command connected charge points through the HTTP API');
  const common = (cmd: Command) =>
    cmd
      .option('--api-url <url>', 'gateway HTTP API', 'http://127.0.0.1:18083')
      .option('--api-key <key>', 'API key (default: $OCPP_GW_API__KEY)')
      .option('--json', 'print the API\'s JSON');

  common(clients.command('list'))
    .description('connected charge points')
    .option('--like <text>', 'cpId substring')
    .option('--protocol <protocol>', PROTOCOL_NAMES.join(', '))
    .option('--page <n>', 'page', '1')
    .option('--limit <n>', 'per page (at most 1000)', '100')
    .action(async (o: ApiOptions & { like?: string; protocol?: string; page: string; limit: string }) => {
      const q = new URLSearchParams({ page: o.page, limit: o.limit });
      if (o.like) q.set('like', o.like);
      if (o.protocol) q.set('protocol', o.protocol);
      const r = await request(o, 'GET', `/api/v1/clients?${q}`);
      if (r.status !== 200) fail(explain(r.status, r.body));
      if (o.json) return void process.stdout.write(`${jsonForTerminal(r.body)}\n`);
      const { data, meta } = r.body as { data: Array<{ cpId: string; protocol: string; remoteAddress: string; connectedAt: string; queueLength: number }>; meta: { count: number; page: number; limit: number } };
      const rows = [['CPID', 'PROTOCOL', 'REMOTE', 'CONNECTED', 'QUEUE'], ...data.map((c) => [c.cpId, c.protocol, c.remoteAddress, c.connectedAt, String(c.queueLength)].map(escapeControls))];
      const widths = rows[0]?.map((_, i) => Math.max(...rows.map((row) => row[i]?.length ?? 0))) ?? [];
      for (const row of rows) process.stdout.write(`${row.map((v, i) => v.padEnd(widths[i] ?? 0)).join('  ').trimEnd()}\n`);
      process.stdout.write(`${meta.count} connected (page ${meta.page}, ${meta.limit} per page)\n`);
    });

  common(clients.command('show <cpId>'))
    .description('one charge point')
    .action(async (cpId: string, o: ApiOptions) => {
      const r = await request(o, 'GET', `/api/v1/clients/${encodeURIComponent(cpId)}`);
      if (r.status !== 200) fail(explain(r.status, r.body));
      process.stdout.write(`${jsonForTerminal(r.body)}\n`);
    });

  common(clients.command('kick <cpId>'))
    .description('close a charge point\'s connection (reason kicked)')
    .action(async (cpId: string, o: ApiOptions) => {
      const r = await request(o, 'DELETE', `/api/v1/clients/${encodeURIComponent(cpId)}`);
      if (r.status !== 204) fail(explain(r.status, r.body));
      process.stdout.write(`kicked ${escapeControls(cpId)}\n`);
    });

  common(clients.command('call <cpId> <action> [payload]'))
    .description('send a CALL and print the answer, e.g. clients call CP1 Reset \'{"type":"Soft"}\'')
    .option('--timeout <ms>', 'how long to wait', '30000')
    .action(async (cpId: string, action: string, payloadText: string | undefined, o: ApiOptions & { timeout: string }) => {
      let payload: unknown;
      try {
        payload = JSON.parse(payloadText ?? '{}');
      } catch (err) {
        fail(`payload is not JSON: ${(err as Error).message}`);
      }
      const r = await request(o, 'POST', `/api/v1/clients/${encodeURIComponent(cpId)}/calls`, { action, payload, timeout_ms: Number(o.timeout) });
      if (r.status !== 200) {
        if (o.json) process.stdout.write(`${jsonForTerminal(r.body)}\n`);
        fail(explain(r.status, r.body));
      }
      process.stdout.write(`${jsonForTerminal(o.json ? r.body : (r.body as { result: unknown }).result)}\n`);
    });
}
