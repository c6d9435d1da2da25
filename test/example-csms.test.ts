// The example central system (examples/csms): every answer of every version fits the gateway's own
// schemas, and the process, started as `npm run example:csms` starts it, answers every CALL a real
// charge point of each version sends through a gateway, logs a 2.1 SEND without answering it, sends a
// command typed on stdin and stops with 0 on SIGTERM. [SPEC §4] [SPEC §6]
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { PROTOCOLS, PROTOCOL_NAMES, type Protocol } from '../src/ocpp/protocols.js';
import { bundledSchemas, schemaKey } from '../src/validation/schema-source.js';
import { SchemaValidator } from '../src/validation/validator.js';
import { minimalInstance } from '../src/simulator/minimal.js';
import { escapeControls } from '../src/api/escape.js';
import { chargePoint, rawSocket, Service, startTestGateway, within } from './support/harness.js';
import { lineProcess, type LineProcess } from './support/process.js';

const ROOT = new URL('..', import.meta.url).pathname;

interface Answer { payload: Record<string, unknown>; rule: 'hand-written' | 'from schema' }
interface AnswersModule {
  Answers: new (o: { heartbeatInterval: number }) => { answer(protocol: Protocol, action: string, payload: object): Answer | undefined };
  responseSchemasOf(protocol: Protocol): Map<string, object>;
}
// A plain-JavaScript module (examples are not compiled): imported by URL, typed here.
const { Answers, responseSchemasOf } = (await import(new URL('../examples/csms/answers.js', import.meta.url).href)) as AnswersModule;

function validatorOf(protocol: Protocol): { validator: SchemaValidator; schemas: ReturnType<typeof bundledSchemas> } {
  const schemas = bundledSchemas(protocol);
  return { validator: new SchemaValidator(PROTOCOLS[protocol], schemas), schemas };
}

function fits(validator: SchemaValidator, action: string, kind: 'req' | 'conf', payload: unknown): void {
  const r = validator.validate(action, kind, payload);
  assert.ok(r.ok, `${action}.${kind} ${JSON.stringify(payload)}: ${JSON.stringify(r)}`);
}

/** Requests with the optional fields the hand-written answers look at. */
const REALISTIC: Record<Protocol, Array<[string, object]>> = {
  'ocpp1.6': [
    ['BootNotification', { chargePointVendor: 'Acme', chargePointModel: 'Rapid-50' }],
    ['StartTransaction', { connectorId: 1, idTag: 'TAG1', meterStart: 0, timestamp: '2026-11-23T10:00:00Z' }],
    ['StopTransaction', { transactionId: 1, idTag: 'TAG1', meterStop: 10, timestamp: '2026-11-23T10:10:00Z', reason: 'Local' }],
    ['StopTransaction', { transactionId: 1, meterStop: 10, timestamp: '2026-11-23T10:10:00Z' }],
    ['DataTransfer', { vendorId: 'acme', messageId: 'x', data: 'y' }],
  ],
  'ocpp2.0.1': [
    ['TransactionEvent', { eventType: 'Started', timestamp: '2026-11-23T10:00:00Z', triggerReason: 'Authorized', seqNo: 0, transactionInfo: { transactionId: 't1' }, idToken: { idToken: 'TAG1', type: 'ISO14443' } }],
    ['TransactionEvent', { eventType: 'Updated', timestamp: '2026-11-23T10:00:00Z', triggerReason: 'MeterValuePeriodic', seqNo: 1, transactionInfo: { transactionId: 't1' } }],
  ],
  'ocpp2.1': [
    ['TransactionEvent', { eventType: 'Started', timestamp: '2026-11-23T10:00:00Z', triggerReason: 'Authorized', seqNo: 0, transactionInfo: { transactionId: 't1' }, idToken: { idToken: 'TAG1', type: 'ISO14443' } }],
    ['TransactionEvent', { eventType: 'Ended', timestamp: '2026-11-23T10:00:00Z', triggerReason: 'StopAuthorized', seqNo: 2, transactionInfo: { transactionId: 't1' } }],
  ],
};

for (const protocol of PROTOCOL_NAMES) {
  test(`example CSMS: an answer for every ${protocol} action, each valid for the gateway's schema [SPEC §6]`, () => {
    const { validator, schemas } = validatorOf(protocol);
    const actions = validator.actions('conf');
    // The CSMS reads the same files: it knows exactly the actions that have a response.
    assert.deepEqual([...responseSchemasOf(protocol).keys()].sort(), actions);
    const answers = new Answers({ heartbeatInterval: 300 });
    let handWritten = 0;
    for (const action of actions) {
      const reqSchema = schemas.get(schemaKey(action, 'req'));
      const request = reqSchema === undefined ? {} : (minimalInstance(reqSchema) as object);
      const answer = answers.answer(protocol, action, request);
      assert.ok(answer, `${protocol} ${action}: no answer`);
      fits(validator, action, 'conf', answer.payload);
      if (answer.rule === 'hand-written') handWritten++;
    }
    for (const [action, request] of REALISTIC[protocol]) {
      fits(validator, action, 'req', request);
      fits(validator, action, 'conf', answers.answer(protocol, action, request)?.payload);
    }
    assert.ok(handWritten >= 8, `${handWritten} hand-written answers`);
    assert.equal(answers.answer(protocol, 'NoSuchAction', {}), undefined);
    assert.equal(answers.answer(protocol, 'constructor', {}), undefined);
  });
}

test('example CSMS: BootNotification grants the configured interval; StartTransaction ids increase; TransactionEvent with an idToken gets idTokenInfo', () => {
  const answers = new Answers({ heartbeatInterval: 42 });
  const boot = answers.answer('ocpp2.0.1', 'BootNotification', {})?.payload;
  assert.equal(boot?.['status'], 'Accepted');
  assert.equal(boot?.['interval'], 42);
  assert.ok(!Number.isNaN(Date.parse(String(boot?.['currentTime']))));
  const ids = [1, 2, 3].map(() => answers.answer('ocpp1.6', 'StartTransaction', {})?.payload['transactionId'] as number);
  assert.ok(ids[0] !== undefined && ids[1] !== undefined && ids[2] !== undefined && ids[0] < ids[1] && ids[1] < ids[2], String(ids));
  assert.deepEqual(answers.answer('ocpp2.1', 'TransactionEvent', { idToken: { idToken: 'A', type: 'Central' } })?.payload, { idTokenInfo: { status: 'Accepted' } });
  assert.deepEqual(answers.answer('ocpp2.1', 'TransactionEvent', {})?.payload, {});
});

/** `text` as a literal inside a RegExp. */
const escapeRe = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The CSMS as `npm run example:csms` runs it, its stdout as lines. */
function startCsms(t: TestContext, args: string[]): LineProcess {
  const script = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { scripts: Record<string, string> }).scripts['example:csms'];
  assert.equal(script, 'node examples/csms/csms.js');
  return lineProcess(t, ['examples/csms/csms.js', ...args]);
}

test('example CSMS process: every CALL of a 1.6, a 2.0.1 and a 2.1 charge point answered through the gateway; a 2.1 SEND logged, not answered; a stdin command answered; SIGTERM exits 0', async (t) => {
  const { ocppUrl, mqttUrl } = await startTestGateway(t); // message_format_checking: all — an invalid answer never reaches the CP
  const watcher = await Service.connect(t, mqttUrl);
  const csms = startCsms(t, ['--mqtt-url', mqttUrl, '--heartbeat-interval', '120']);
  await csms.waitForLine(/listening/, 'that it listens');

  for (const protocol of PROTOCOL_NAMES) {
    const { validator, schemas } = validatorOf(protocol);
    const cpId = `EX-${protocol.replace(/\W/g, '')}`;
    const cp = await chargePoint(t, ocppUrl, cpId, { protocols: [protocol], strictMode: false, callTimeoutMs: 10_000 }, (c) => {
      c.handle('Reset', async () => ({ status: 'Accepted' }));
    });
    for (const action of validator.actions('conf')) {
      const reqSchema = schemas.get(schemaKey(action, 'req'));
      if (reqSchema === undefined) continue;
      const answer = await within(cp.call(action, minimalInstance(reqSchema)), `${protocol} ${action} to be answered`);
      fits(validator, action, 'conf', answer);
    }
    // A command typed on stdin reaches the CP and its answer is printed.
    csms.child.stdin?.write(`${cpId} Reset ${JSON.stringify({ type: protocol === 'ocpp1.6' ? 'Soft' : 'Immediate' })}\n`);
    await csms.waitForLine(new RegExp(`^\\S+ ${cpId} answered Reset: \\{"status":"Accepted"\\}`), `the Reset answer of ${cpId}`);
    await cp.close();
  }

  // [OCPP-J 2.1 §4.2.5] a SEND has no answer: logged by the CSMS, nothing published back. The CALL that
  // follows it is answered after it (one CP's messages reach the CSMS in order).
  const raw = await rawSocket(t, ocppUrl.replace(/\/?$/, '/EX-send'), ['ocpp2.1']);
  const stream = minimalInstance(bundledSchemas('ocpp2.1').get(schemaKey('NotifyPeriodicEventStream', 'req')) ?? {});
  raw.send(JSON.stringify([6, 'send-1', 'NotifyPeriodicEventStream', stream]));
  raw.send(JSON.stringify([2, 'call-1', 'Heartbeat', {}]));
  const reply = (await raw.next()) as unknown[];
  assert.equal(reply[0], 3);
  assert.equal(reply[1], 'call-1');
  await csms.waitForLine(/EX-send SEND NotifyPeriodicEventStream .*not answered/, 'the SEND');
  await watcher.waitFor('ocpp/EX-send/dn/response/Heartbeat/call-1');
  assert.deepEqual(watcher.topics('ocpp/EX-send/dn/').filter((topic) => topic.includes('send-1')), []);

  csms.child.kill('SIGTERM');
  assert.equal(await within(csms.exit, 'the CSMS to exit'), 0);
});

test('[SPEC §8] example CSMS process: client text in its lines is escaped and cut, a payload that is not an object is ignored; --mountpoint, --username, --password', async (t) => {
  const user = 'csms-user';
  const password = 'Csms-S3cret-pw';
  const { ocppUrl, mqttUrl } = await startTestGateway(t, { 'mqtt.mountpoint': 'site1/', 'mqtt.embedded.username': user, 'mqtt.embedded.password': password });
  const csms = startCsms(t, ['--mqtt-url', mqttUrl, '--mountpoint', 'site1', '--username', user, '--password', password]);
  await csms.waitForLine(/listening/, 'that it listens');

  // Anyone on the broker may publish anything: a payload that is not an object does not stop the CSMS.
  const other = await Service.connect(t, mqttUrl, [], { username: user, password });
  await other.publish('site1/JUNK/status', 'null');
  await csms.waitForLine(/site1\/JUNK\/status: not a JSON object, ignored$/, 'the ignored payload');

  // A cpId with a bidi override and a model with a terminal escape and a zero-width space.
  const cpId = 'CP\u202e1';
  const model = 'M\u001b[31m\u200bX';
  const raw = await rawSocket(t, `${ocppUrl}/${encodeURIComponent(cpId)}`, ['ocpp1.6']);
  raw.send(JSON.stringify([2, 'boot-1', 'BootNotification', { chargePointVendor: 'Acme', chargePointModel: model }]));
  const boot = (await raw.next()) as unknown[];
  assert.equal(boot[0], 3, 'the CSMS answered through site1/ with its credentials');
  csms.child.stdin?.write('list\n');
  await csms.waitForLine(new RegExp(`^\\S+ ${escapeRe(escapeControls(cpId))} online +ocpp1\\.6 ${escapeRe(escapeControls(model))}$`), 'the list line, escaped');

  // A CALLERROR from the CP with a long description that carries an escape sequence: escaped and cut.
  csms.child.stdin?.write(`${cpId} Reset {"type":"Soft"}\n`);
  const reset = (await raw.next()) as unknown[];
  assert.equal(reset[2], 'Reset');
  raw.send(JSON.stringify([4, reset[1], 'InternalError', `\u001b[2J${'x'.repeat(5000)}`, {}]));
  const failed = await csms.waitForLine(/Reset failed: InternalError/, 'the Reset failure');
  assert.ok(failed.includes('\\x1b[2J'), failed);
  assert.ok(failed.length < 500, `the line is cut (${failed.length} characters)`);
  // No line carries a raw control, bidi or invisible character.
  for (const line of csms.lines) assert.equal(line, escapeControls(line));
  csms.child.kill('SIGTERM');
  assert.equal(await within(csms.exit, 'the CSMS to exit'), 0);
});

