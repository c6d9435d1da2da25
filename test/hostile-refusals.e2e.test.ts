// A burst of refused upgrades from one address (no connection yet, a cpId of the attacker's choice)
// must not turn into a burst of log lines and event/rejected messages: each refusal is answered and
// counted, but reports are budgeted per source address and summarised. [SPEC §3, §8]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { loadConfig } from '../src/config/load.js';
import { startGateway } from '../src/gateway.js';
import { defer } from './support/cleanup.js';
import { chargePoint, EPHEMERAL, Service, until, upgradeStatus, within } from './support/harness.js';

test('[SPEC §8] 200 refused upgrades from one address: all answered 403 and counted, 5 reported, one summary; another address still reported; a good CP served', { timeout: 60_000 }, async (t) => {
  const lines: Array<{ msg: string; source?: string; held?: Record<string, number> }> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line !== '') lines.push(JSON.parse(line) as { msg: string });
      cb();
    },
  });
  const loaded = loadConfig({ overrides: [...EPHEMERAL, ['ocpp.max_rejected_events', 5], ['ocpp.rejected_events_window', '2s'], ['ocpp.max_connect_rate', 100_000], ['ocpp.connect_burst', 100_000], ['ocpp.max_connect_rate_per_address', 0]] });
  assert.ok(loaded.ok);
  const gw = await startGateway({ config: loaded.config, log: pino({ level: 'info' }, sink) });
  defer(t, () => gw.close());
  const ocppUrl = `ws://127.0.0.1:${gw.addresses.ocpp?.port ?? 0}/ocpp`;
  const svc = await Service.connect(t, `mqtt://127.0.0.1:${gw.addresses.mqtt?.port ?? 0}`, ['ocpp/+/event/rejected', 'ocpp/+/up/request/#']);
  svc.client.on('message', (topic) => {
    const p = topic.split('/');
    if (p[2] === 'up') void svc.publish(`ocpp/${p[1]}/dn/response/${p[4]}/${p[5]}`, { currentTime: new Date().toISOString() });
  });
  const good = await chargePoint(t, ocppUrl, 'GOOD', { localAddress: '127.0.0.4' } as Record<string, unknown>);

  // A foreign Origin: refused with a cpId (so each would publish event/rejected).
  const foreign = { origin: 'https://spray.example' };
  const statuses = new Map<number, number>();
  for (let batch = 0; batch < 4; batch++) {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => upgradeStatus(`${ocppUrl}/SPRAY-${batch}-${i}`, ['ocpp1.6'], foreign, { localAddress: '127.0.0.2' })));
    for (const r of results) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    await within(good.call('Heartbeat', {}), 'a good Heartbeat during the burst');
  }
  assert.deepEqual([...statuses], [[403, 200]], 'every refusal is answered');
  const other = await upgradeStatus(`${ocppUrl}/OTHER`, ['ocpp1.6'], foreign, { localAddress: '127.0.0.3' });
  assert.equal(other.status, 403);
  await svc.waitFor('ocpp/OTHER/event/rejected');

  const s = await gw.metrics.snapshot();
  const counted = (name: string) => {
    const m = s[name];
    return typeof m === 'object' ? (m['origin_not_allowed'] ?? 0) : 0;
  };
  assert.equal(counted('upgrade_refusals_total'), 201, JSON.stringify(s['upgrade_refusals_total']));
  assert.equal(counted('rejected_events_suppressed_total'), 195, JSON.stringify(s['rejected_events_suppressed_total']));
  const sprayEvents = () => svc.received.filter((m) => m.topic.startsWith('ocpp/SPRAY-')).length;
  assert.equal(sprayEvents(), 5);
  assert.equal(lines.filter((l) => l.msg === 'cp.upgrade_refused').length, 6, 'five lines for the burst, one for the other address');
  // The window ends: one summary line for the burst's address.
  await until(() => lines.some((l) => l.msg === 'cp.upgrade_refusals_suppressed'), 'the summary line', 10_000);
  const summaries = lines.filter((l) => l.msg === 'cp.upgrade_refusals_suppressed');
  assert.deepEqual(summaries.map((l) => [l.source, l.held]), [['127.0.0.2', { origin_not_allowed: 195 }]]);
  assert.equal(sprayEvents(), 5, 'nothing more was published');
});

test('[SPEC §3, §8] one address bursting upgrades is held to its own rate; the gateway\'s rate is left to the others, whose charge points still get in', { timeout: 60_000 }, async (t) => {
  const loaded = loadConfig({ overrides: [...EPHEMERAL, ['ocpp.max_connect_rate', 300], ['ocpp.connect_burst', 300], ['ocpp.max_connect_rate_per_address', 20], ['ocpp.connect_burst_per_address', 50]] });
  assert.ok(loaded.ok);
  const gw = await startGateway({ config: loaded.config, log: pino({ level: 'silent' }) });
  defer(t, () => gw.close());
  const ocppUrl = `ws://127.0.0.1:${gw.addresses.ocpp?.port ?? 0}/ocpp`;
  const startedAt = Date.now();
  const burst = await Promise.all(Array.from({ length: 600 }, (_, i) => upgradeStatus(`${ocppUrl}/FLOOD-${i}`, ['ocpp1.6'], {}, { localAddress: '127.0.0.2' })));
  const seconds = (Date.now() - startedAt) / 1000;
  const admitted = burst.filter((r) => r.status === 101).length;
  const limited = burst.filter((r) => r.status === 429 && r.reason === 'address_rate_limited').length;
  assert.equal(admitted + limited, 600, JSON.stringify(burst.slice(0, 3)));
  // The address's bucket: its burst plus its rate for the time the attempts took (a slow machine only admits more).
  assert.ok(admitted <= 50 + Math.ceil(20 * seconds) + 1, `admitted ${admitted} in ${seconds} s`);
  // Its refused attempts did not spend the gateway's rate: 40 charge points from other addresses get in at once.
  const others = await Promise.all(Array.from({ length: 40 }, (_, i) => upgradeStatus(`${ocppUrl}/OK-${i}`, ['ocpp1.6'], {}, { localAddress: `127.0.1.${i + 1}` })));
  assert.deepEqual(others.filter((r) => r.status !== 101), []);
  const s = await gw.metrics.snapshot();
  assert.equal((s['upgrade_refusals_total'] as Record<string, number>)['address_rate_limited'], limited);
  assert.equal((s['upgrade_refusals_total'] as Record<string, number>)['rate_limited'], undefined);
});
