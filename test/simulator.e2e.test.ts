// The charge-point simulator (`ocpp-gateway simulate`, src/simulator): its answers to every command of
// every version fit the gateway's schemas; a gateway, the example CSMS and simulators of each version
// run together (boot, heartbeats, transactions with meter values, a command answered, no CALL timed
// out, no message failed validation) and stop cleanly; and against a scripted CSMS a simulated CP
// retries a Pending boot, starts and stops transactions on remote commands and reboots on Reset.
// [SPEC §3] [SPEC §4] [SPEC §6]
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hashPassword } from '../src/auth/password-hash.js';
import { PROTOCOLS, PROTOCOL_NAMES, type Protocol } from '../src/ocpp/protocols.js';
import { bundledSchemas, schemaKey } from '../src/validation/schema-source.js';
import { SchemaValidator } from '../src/validation/validator.js';
import { minimalInstance } from '../src/simulator/minimal.js';
import { emptyStats, SimulatedChargePoint } from '../src/simulator/charge-point.js';
import { answerCommand } from '../src/simulator/commands.js';
import { Fleet, type FleetOptions } from '../src/simulator/fleet.js';
import { VersionSchemas } from '../src/simulator/schemas.js';
import { defer } from './support/cleanup.js';
import { Service, startTestGateway, until, within, type Received } from './support/harness.js';
import { lineProcess, START_MS } from './support/process.js';
import { freePort } from './support/brokers.js';

type Payload = Record<string, unknown>;

interface AnswersModule { Answers: new (o: { heartbeatInterval: number }) => { answer(protocol: Protocol, action: string, payload: object): { payload: Payload } | undefined } }
const { Answers } = (await import(new URL('../examples/csms/answers.js', import.meta.url).href)) as AnswersModule;

function validatorOf(protocol: Protocol): SchemaValidator {
  return new SchemaValidator(PROTOCOLS[protocol], bundledSchemas(protocol));
}

function fits(validator: SchemaValidator, action: string, payload: unknown): void {
  const r = validator.validate(action, 'conf', payload);
  assert.ok(r.ok, `${action}.conf ${JSON.stringify(payload)}: ${JSON.stringify(r)}`);
}

const OPTIONS = { url: 'ws://127.0.0.1:1/ocpp', password: undefined, connectors: 2, txGapS: 0, txLengthS: 0, meterIntervalS: 1 };

for (const protocol of PROTOCOL_NAMES) {
  test(`simulator: a schema-valid answer to every ${protocol} command, and settings that change what it does [SPEC §6]`, async () => {
    const validator = validatorOf(protocol);
    const schemas = bundledSchemas(protocol);
    const cp = new SimulatedChargePoint('U1', { ...OPTIONS, protocol }, new VersionSchemas(protocol, validator), emptyStats(), () => undefined);
    try {
      const answer = (action: string, payload: object): Payload => {
        const a = answerCommand(cp, action, payload as Payload);
        fits(validator, action, a);
        return a;
      };
      for (const action of validator.actions('conf')) {
        const req = schemas.get(schemaKey(action, 'req'));
        if (req !== undefined) answer(action, minimalInstance(req) as object);
      }
      assert.throws(() => answerCommand(cp, 'NoSuchAction', {}), (e: { rpcErrorCode?: string }) => e.rpcErrorCode === 'NotImplemented');
      assert.throws(() => answerCommand(cp, 'constructor', {}), (e: { rpcErrorCode?: string }) => e.rpcErrorCode === 'NotImplemented');

      // Not booted yet: a remote start is refused.
      if (protocol === 'ocpp1.6') {
        assert.deepEqual(answer('RemoteStartTransaction', { idTag: 'T' }), { status: 'Rejected' });
        assert.deepEqual(answer('ChangeConfiguration', { key: 'HeartbeatInterval', value: '17' }), { status: 'Accepted' });
        assert.deepEqual(answer('ChangeConfiguration', { key: 'HeartbeatInterval', value: 'soon' }), { status: 'Rejected' });
        assert.deepEqual(answer('ChangeConfiguration', { key: 'NumberOfConnectors', value: '4' }), { status: 'Rejected' });
        assert.deepEqual(answer('ChangeConfiguration', { key: 'Nope', value: '1' }), { status: 'NotSupported' });
        assert.deepEqual(answer('GetConfiguration', { key: ['HeartbeatInterval', 'Nope'] }), { configurationKey: [{ key: 'HeartbeatInterval', readonly: false, value: '17' }], unknownKey: ['Nope'] });
        assert.deepEqual(answer('TriggerMessage', { requestedMessage: 'StatusNotification', connectorId: 9 }), { status: 'Rejected' });
        assert.deepEqual(answer('DataTransfer', { vendorId: 'x' }), { status: 'UnknownVendorId' });
      } else {
        assert.deepEqual(answer('RequestStartTransaction', { idToken: { idToken: 'T', type: 'Central' }, remoteStartId: 1 }), { status: 'Rejected' });
        const hb = { component: { name: 'OCPPCommCtrlr' }, variable: { name: 'HeartbeatInterval' } };
        assert.deepEqual(answer('SetVariables', { setVariableData: [{ ...hb, attributeValue: '17' }, { component: { name: 'EVSE' }, variable: { name: 'Count' }, attributeValue: '9' }] }).setVariableResult, [
          { attributeStatus: 'Accepted', ...hb },
          { attributeStatus: 'Rejected', component: { name: 'EVSE' }, variable: { name: 'Count' } },
        ]);
        assert.deepEqual(answer('GetVariables', { getVariableData: [hb, { component: { name: 'OCPPCommCtrlr' }, variable: { name: 'Nope' } }, { component: { name: 'Nope' }, variable: { name: 'X' } }, { ...hb, attributeType: 'MaxSet' }] }).getVariableResult, [
          { attributeStatus: 'Accepted', attributeValue: '17', ...hb },
          { attributeStatus: 'UnknownVariable', component: { name: 'OCPPCommCtrlr' }, variable: { name: 'Nope' } },
          { attributeStatus: 'UnknownComponent', component: { name: 'Nope' }, variable: { name: 'X' } },
          { attributeStatus: 'NotSupportedAttributeType', ...hb, attributeType: 'MaxSet' },
        ]);
        assert.deepEqual(answer('TriggerMessage', { requestedMessage: 'TransactionEvent' }), { status: 'Rejected' }); // no transaction
        assert.deepEqual(answer('TriggerMessage', { requestedMessage: 'SignV2GCertificate' }), { status: 'NotImplemented' });
      }
    } finally {
      await cp.stop();
    }
    assert.equal(cp.pendingTimers, 0);
  });
}

/** A child process whose stdout lines a test can wait for. */

const json = (m: Received): Payload => m.json as Payload;

test('gateway + example CSMS + simulator, 2 CPs per version: booted, heartbeats, transactions with meter values, a command answered, nothing timed out or invalid; all stop with 0', async (t) => {
  const { ocppUrl, mqttUrl, apiUrl } = await startTestGateway(t);
  const watcher = await Service.connect(t, mqttUrl);
  const csms = lineProcess(t, ['examples/csms/csms.js', '--mqtt-url', mqttUrl, '--heartbeat-interval', '1', '--quiet']);
  await csms.waitForLine(/listening/, 'the CSMS to listen');
  // `ocpp-gateway simulate` as `npm run dev -- simulate` runs it (the sources, no build); one process
  // with the three versions in turn: S001 1.6, S002 2.0.1, S003 2.1, S004 1.6, ...
  const sim = lineProcess(t, ['--import', 'tsx', 'src/cli.ts', 'simulate', '--cps', '6', '--protocol', PROTOCOL_NAMES.join(','), '--url', ocppUrl, '--prefix', 'S',
    '--connectors', '2', '--tx-gap', '0.3', '--tx-length', '1.5', '--meter-interval', '0.3', '--summary-interval', '1']);

  const cpIds = ['S001', 'S002', 'S003', 'S004', 'S005', 'S006'];
  const versionOf = (cpId: string): Protocol => PROTOCOL_NAMES[(Number(cpId.slice(1)) - 1) % PROTOCOL_NAMES.length] as Protocol;
  const up = (cpId: string, action: string, where: (m: Received) => boolean = () => true) =>
    watcher.waitFor((m) => m.topic.startsWith(`ocpp/${cpId}/up/request/${action}/`) && where(m), 0, 30_000);
  const answered = (cpId: string, action: string, where: (m: Received) => boolean) =>
    watcher.waitFor((m) => m.topic.startsWith(`ocpp/${cpId}/dn/response/${action}/`) && where(m), 0, 30_000);

  const connected = await Promise.all(cpIds.map((cpId) => watcher.waitFor(`ocpp/${cpId}/event/connected`, 0, 30_000)));
  assert.deepEqual(connected.map((m) => json(m)['protocol']), cpIds.map(versionOf));
  await Promise.all(cpIds.map(async (cpId) => {
    await answered(cpId, 'BootNotification', (m) => json(m)['status'] === 'Accepted');
    await up(cpId, 'StatusNotification');
    await up(cpId, 'Heartbeat');
    if (versionOf(cpId) === 'ocpp1.6') {
      const started = await answered(cpId, 'StartTransaction', () => true);
      const id = json(started)['transactionId'];
      await up(cpId, 'MeterValues', (m) => json(m)['transactionId'] === id);
      await up(cpId, 'StopTransaction', (m) => json(m)['transactionId'] === id);
    } else {
      const started = await up(cpId, 'TransactionEvent', (m) => json(m)['eventType'] === 'Started');
      const id = (json(started)['transactionInfo'] as Payload)['transactionId'];
      const ofTx = (type: string) => (m: Received) => json(m)['eventType'] === type && (json(m)['transactionInfo'] as Payload)['transactionId'] === id;
      const updated = await up(cpId, 'TransactionEvent', ofTx('Updated'));
      assert.ok(Array.isArray(json(updated)['meterValue']));
      await up(cpId, 'TransactionEvent', ofTx('Ended'));
    }
  }));

  // A command from the CSMS (typed on its stdin) gets the simulated CP's answer: the interval the CSMS granted.
  const v16 = cpIds.find((id) => versionOf(id) === 'ocpp1.6') ?? '';
  csms.child.stdin?.write(`${v16} GetConfiguration {"key":["HeartbeatInterval"]}\n`);
  await csms.waitForLine(new RegExp(`${v16} answered GetConfiguration: \\{"configurationKey":\\[\\{"key":"HeartbeatInterval","readonly":false,"value":"1"\\}\\]\\}`), 'the GetConfiguration answer');
  for (const cpId of cpIds.filter((id) => versionOf(id) !== 'ocpp1.6').slice(0, 2)) {
    csms.child.stdin?.write(`${cpId} GetVariables {"getVariableData":[{"component":{"name":"OCPPCommCtrlr"},"variable":{"name":"HeartbeatInterval"}}]}\n`);
    await csms.waitForLine(new RegExp(`${cpId} answered GetVariables: \\{"getVariableResult":\\[\\{"attributeStatus":"Accepted","attributeValue":"1"`), `the GetVariables answer of ${cpId}`);
  }
  // Every CALL the simulator sent fitted its schema and was answered (a failed one is counted).
  assert.match(await sim.waitForLine(/6\/6 online, 6 accepted/, 'a summary line with every CP accepted'), /\| [1-9]\d* calls ok, 0 failed \|/);

  // Every CALL answered in time, every payload valid in both directions (the gateway counts both).
  const metrics = await (await fetch(`${apiUrl}/metrics`)).text();
  assert.deepEqual(metrics.split('\n').filter((l) => /^ocpp_gateway_(timeouts_total|validation_failures_total)\b/.test(l) && !/ 0$/.test(l)), []);

  sim.child.kill('SIGTERM');
  csms.child.kill('SIGTERM');
  assert.deepEqual(await within(Promise.all([sim.exit, csms.exit]), 'the simulator and the CSMS to exit'), [0, 0]);
  assert.match(sim.lines.at(-1) ?? '', /0\/6 online/);
});

/** A CSMS written into the test: the example's answers unless `override` has one. */
async function scriptedCsms(t: TestContext, mqttUrl: string, versionOf: (cpId: string) => Protocol, override: (cpId: string, action: string, payload: Payload) => Payload | undefined): Promise<Service> {
  const svc = await Service.connect(t, mqttUrl, ['ocpp/+/up/#']);
  const answers = new Answers({ heartbeatInterval: 300 });
  svc.client.on('message', (topic, buffer) => {
    const [, cpId = '', , type, action = '', id] = topic.split('/');
    if (type !== 'request') return;
    const payload = JSON.parse(buffer.toString()) as Payload;
    const answer = override(cpId, action, payload) ?? answers.answer(versionOf(cpId), action, payload)?.payload;
    void svc.publish(`ocpp/${cpId}/dn/response/${action}/${id}`, answer);
  });
  return svc;
}

function fleetOptions(protocol: Protocol, ocppUrl: string, prefix: string, password: string): FleetOptions {
  return { url: ocppUrl, protocols: [protocol], password, connectors: 1, txGapS: 0, txLengthS: 0, meterIntervalS: 0.2, cps: 1, prefix, rampPerSecond: 10, summaryIntervalS: 0 };
}

test('simulated CPs against a scripted CSMS: a password admits them; a Pending boot retried; remote start/stop really start and stop transactions; Reset (and 2.x Reset OnIdle) reboots; stop leaves no timer [SPEC §8] [OCPP 1.6 §4.2] [OCPP 2.0.1 B02/F01/F03/B12]', async (t) => {
  // auth.provider file: only the right Basic password (user = cpId) is admitted.
  const dir = mkdtempSync(join(tmpdir(), 'sim-auth-'));
  defer(t, () => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'credentials.yaml');
  writeFileSync(file, `R16-001: "${await hashPassword(Buffer.from('pw-16'))}"\nR201-001: "${await hashPassword(Buffer.from('pw-201'))}"\n`);
  const { ocppUrl, mqttUrl } = await startTestGateway(t, { 'auth.provider': 'file', 'auth.file': file });
  let boots16 = 0;
  const csms = await scriptedCsms(t, mqttUrl, (cpId) => (cpId.startsWith('R16-') ? 'ocpp1.6' : 'ocpp2.0.1'), (cpId, action) => {
    if (cpId !== 'R16-001') return undefined;
    if (action === 'BootNotification') return ++boots16 === 1 ? { status: 'Pending', currentTime: new Date().toISOString(), interval: 1 } : undefined;
    if (action === 'StartTransaction') return { transactionId: 77, idTagInfo: { status: 'Accepted' } };
    return undefined;
  });
  const request = (cpId: string, action: string, where: (m: Received) => boolean = () => true, from = 0) =>
    csms.waitFor((m) => m.topic.startsWith(`ocpp/${cpId}/up/request/${action}/`) && where(m), from);
  const command = async (cpId: string, action: string, id: string, payload: object): Promise<unknown> => {
    await csms.publish(`ocpp/${cpId}/dn/request/${action}/${id}`, payload);
    return (await csms.waitFor(`ocpp/${cpId}/up/response/${action}/${id}`)).json;
  };

  async function v16(): Promise<void> {
    const fleet = new Fleet(fleetOptions('ocpp1.6', ocppUrl, 'R16-', 'pw-16'), () => undefined);
    defer(t, () => fleet.stop());
    fleet.start();
    const cp = fleet.chargePoints[0] as SimulatedChargePoint;
    await until(() => cp.state === 'accepted', 'the 1.6 CP to be accepted after a Pending boot');
    assert.equal(csms.topics('ocpp/R16-001/up/request/BootNotification/').length, 2);
    await request('R16-001', 'StatusNotification');

    const from = csms.received.length;
    assert.deepEqual(await command('R16-001', 'RemoteStartTransaction', 'rs1', { idTag: 'REMOTE1', connectorId: 1 }), { status: 'Accepted' });
    assert.equal(json(await request('R16-001', 'StartTransaction', () => true, from))['idTag'], 'REMOTE1');
    assert.equal(csms.topics('ocpp/R16-001/up/request/Authorize/').length, 0); // AuthorizeRemoteTxRequests is false
    await request('R16-001', 'MeterValues', (m) => json(m)['transactionId'] === 77, from);
    assert.deepEqual(await command('R16-001', 'RemoteStopTransaction', 'rs2', { transactionId: 77 }), { status: 'Accepted' });
    assert.equal(json(await request('R16-001', 'StopTransaction', () => true, from))['reason'], 'Remote');
    assert.deepEqual(await command('R16-001', 'RemoteStopTransaction', 'rs3', { transactionId: 77 }), { status: 'Rejected' });

    const boots = csms.topics('ocpp/R16-001/up/request/BootNotification/').length;
    assert.deepEqual(await command('R16-001', 'Reset', 'rr', { type: 'Soft' }), { status: 'Accepted' });
    await until(() => csms.topics('ocpp/R16-001/up/request/BootNotification/').length > boots && cp.state === 'accepted', 'a BootNotification after the reset');
    assert.equal(fleet.stats.reconnects, 0);
    assert.equal(fleet.stats.callsFailed, 0, fleet.stats.lastError);
    await fleet.stop();
    assert.equal(cp.pendingTimers, 0);
    assert.equal(fleet.stats.online, 0);
  }

  async function v201(): Promise<void> {
    const fleet = new Fleet(fleetOptions('ocpp2.0.1', ocppUrl, 'R201-', 'pw-201'), () => undefined);
    defer(t, () => fleet.stop());
    fleet.start();
    const cp = fleet.chargePoints[0] as SimulatedChargePoint;
    await until(() => cp.state === 'accepted', 'the 2.0.1 CP to be accepted');

    const tx = (type: string) => (m: Received) => json(m)['eventType'] === type;
    assert.deepEqual(await command('R201-001', 'RequestStartTransaction', 's1', { idToken: { idToken: 'APP1', type: 'Central' }, remoteStartId: 42 }), { status: 'Accepted' });
    const started = await request('R201-001', 'TransactionEvent', tx('Started'));
    assert.equal(json(started)['triggerReason'], 'RemoteStart');
    const info = json(started)['transactionInfo'] as Payload;
    assert.equal(info['remoteStartId'], 42);
    await request('R201-001', 'TransactionEvent', (m) => tx('Updated')(m) && Array.isArray(json(m)['meterValue']));

    // OnIdle while charging: Scheduled, and the reboot comes once the transaction has ended.
    assert.deepEqual(await command('R201-001', 'Reset', 'r1', { type: 'OnIdle' }), { status: 'Scheduled' });
    assert.deepEqual(await command('R201-001', 'RequestStopTransaction', 's2', { transactionId: info['transactionId'] }), { status: 'Accepted' });
    const ended = await request('R201-001', 'TransactionEvent', tx('Ended'));
    assert.equal(json(ended)['triggerReason'], 'RemoteStop');
    assert.equal((json(ended)['transactionInfo'] as Payload)['stoppedReason'], 'Remote');
    await request('R201-001', 'BootNotification', (m) => json(m)['reason'] === 'RemoteReset');
    await until(() => cp.state === 'accepted', 'the 2.0.1 CP to be accepted again');
    assert.equal(fleet.stats.callsFailed, 0, fleet.stats.lastError);
    await fleet.stop();
    assert.equal(cp.pendingTimers, 0);
  }

  await Promise.all([v16(), v201()]);
});

test('[SPEC §8] simulator output: a command\'s payload and a CSMS error text (1.6 does not bound it) are cut at 300 characters', async (t) => {
  const { ocppUrl, mqttUrl } = await startTestGateway(t);
  const long = `\u001b[2J${'y'.repeat(5000)}`;
  const csms = await Service.connect(t, mqttUrl, ['ocpp/+/up/#']);
  csms.client.on('message', (topic) => {
    const [, cpId = '', , type, action = '', id] = topic.split('/');
    if (type === 'request' && action === 'BootNotification') void csms.publish(`ocpp/${cpId}/dn/error/${action}/${id}`, { errorCode: 'InternalError', errorDescription: long, errorDetails: {} });
  });
  const lines: string[] = [];
  const fleet = new Fleet({ ...fleetOptions('ocpp1.6', ocppUrl, 'CUT', ''), password: undefined }, (line) => lines.push(line));
  defer(t, () => fleet.stop());
  fleet.start();

  await until(() => fleet.stats.callsFailed > 0, 'the BootNotification to fail');
  const summary = fleet.summary();
  assert.match(summary, /last error: CUT001 BootNotification: .*… \(\d+ characters\)$/);
  assert.ok(summary.length < 700, `summary of ${summary.length} characters`);

  await csms.publish('ocpp/CUT001/dn/request/DataTransfer/dt1', { vendorId: 'v', data: long });
  assert.deepEqual((await csms.waitFor('ocpp/CUT001/up/response/DataTransfer/dt1')).json, { status: 'UnknownVendorId' });
  const line = lines.find((l) => l.startsWith('CUT001 got DataTransfer')) ?? '';
  assert.match(line, /… \(\d+ characters\) -> \{"status":"UnknownVendorId"\}$/);
  assert.ok(line.length < 500, `command line of ${line.length} characters`);
  await fleet.stop();
});

test('ocpp-gateway simulate --duration: stops by itself, with a final summary and exit 0, also while no gateway answers', async (t) => {
  const port = await freePort(); // nothing listens there: every connection attempt fails and is retried
  const sim = lineProcess(t, ['--import', 'tsx', 'src/cli.ts', 'simulate', '--cps', '2', '--url', `ws://127.0.0.1:${port}/ocpp`, '--duration', '0.5', '--summary-interval', '0']);
  assert.equal(await within(sim.exit, 'the simulator to stop after --duration', START_MS), 0);
  assert.ok(sim.lines.some((l) => /0\.5 s elapsed: stopping$/.test(l)), sim.lines.join('\n'));
  assert.match(sim.lines.at(-1) ?? '', /^\S+ ocpp1\.6 0\/2 online, 0 accepted/);
});
