#!/usr/bin/env node
// @ts-check
// A reference central system (CSMS) for ocpp-gateway, over MQTT only. It answers every CALL of every
// connected charge point (OCPP 1.6, 2.0.1 and 2.1) and sends your commands typed on stdin:
//
//   npm run example:csms -- --mqtt-url mqtt://127.0.0.1:1883
//   > CP1 Reset {"type":"Soft"}
//
// Topics are the gateway's default layout (docs/topics.md):
//   ocpp/{cpId}/up/request/{action}/{messageId}    a CP's CALL        -> answer on dn/response/… (or dn/error/…)
//   ocpp/{cpId}/up/response|error/{action}/{id}    answer to our CALL (sent on dn/request/{action}/{id})
//   ocpp/{cpId}/up/send/{action}/{id}              an OCPP 2.1 SEND: never answered
//   ocpp/{cpId}/status, ocpp/{cpId}/event/…        presence (retained) and connection events
// cpIds are shown and typed as they appear in topics (percent-encoded where a topic needs it).
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';
import { Answers } from './answers.js';

const HELP = `usage: npm run example:csms -- [options]
  --mqtt-url URL             broker of the gateway (default mqtt://127.0.0.1:1883)
  --username U, --password P MQTT credentials, if the broker wants them
  --mountpoint PREFIX        the gateway's mqtt.mountpoint (default ocpp/)
  --heartbeat-interval S     interval granted in BootNotification answers (default 60)
  --quiet                    no line per answered CALL; a count every 10 s instead
stdin: "<cpId> <Action> [JSON payload]" sends a CALL, "list" shows charge points, "help" this text`;

const { values: opts } = parseArgs({
  options: {
    'mqtt-url': { type: 'string', default: 'mqtt://127.0.0.1:1883' },
    username: { type: 'string' },
    password: { type: 'string' },
    mountpoint: { type: 'string', default: 'ocpp/' },
    'heartbeat-interval': { type: 'string', default: '60' },
    quiet: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (opts.help) {
  console.log(HELP);
  process.exit(0);
}
const heartbeatInterval = Number(opts['heartbeat-interval']);
if (!Number.isInteger(heartbeatInterval) || heartbeatInterval < 1) {
  console.error('--heartbeat-interval: a whole number of seconds, at least 1');
  process.exit(1);
}
const mp = String(opts.mountpoint).replace(/([^/])$/, '$1/'); // "ocpp" and "ocpp/" alike
const answers = new Answers({ heartbeatInterval });

// ---- logging: one readable line per thing that happened -------------------------------------------

// cpIds, actions, payloads and error texts come from charge points (and anyone on the broker): every
// line is written with the characters that could drive a terminal or disguise a name made visible, as
// the gateway's own tools do (src/api/escape.ts): C0 and C1 controls, bidi controls, invisible ones.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\u3000\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb]/g;
function visible(/** @type {string} */ text) {
  return text.replace(UNSAFE, (c) => {
    const n = c.charCodeAt(0);
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`;
  });
}
/** Text cut at `max` characters. */
function cut(/** @type {unknown} */ value, max = 300) {
  const text = String(value);
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
/** A payload as JSON, cut. */
function show(/** @type {unknown} */ value, max = 300) {
  return cut(JSON.stringify(value), max);
}
function log(/** @type {string} */ line) {
  process.stdout.write(`${new Date().toISOString().slice(11, 23)} ${visible(line)}\n`);
}
const shortName = (/** @type {string | undefined} */ p) => (p ?? '?').replace('ocpp', '');

// ---- what we know about charge points ---------------------------------------------------------------

/** @typedef {import('./answers.js').Protocol} Protocol */
/** @type {Map<string, { protocol?: Protocol, online: boolean, model?: string }>} */
const cps = new Map();
function cp(/** @type {string} */ id) {
  let known = cps.get(id);
  if (known === undefined) cps.set(id, (known = { online: false }));
  return known;
}
/** CALLs that arrived before we knew the CP's version (its retained status is on its way). */
/** @type {Map<string, Array<() => void>>} */
const waitingForProtocol = new Map();

function learnProtocol(/** @type {string} */ id, /** @type {unknown} */ protocol) {
  if (protocol !== 'ocpp1.6' && protocol !== 'ocpp2.0.1' && protocol !== 'ocpp2.1') return;
  cp(id).protocol = protocol;
  for (const resume of waitingForProtocol.get(id) ?? []) resume();
  waitingForProtocol.delete(id);
}

// ---- MQTT -------------------------------------------------------------------------------------------

const client = mqtt.connect(String(opts['mqtt-url']), {
  clientId: `example-csms-${process.pid}`,
  reconnectPeriod: 2000,
  ...(opts.username !== undefined ? { username: opts.username } : {}),
  ...(opts.password !== undefined ? { password: opts.password } : {}),
});
client.on('connect', async () => {
  log(`connected to ${opts['mqtt-url']}`);
  // One SUBSCRIBE, so that no CALL falls between two: a CALL that comes before its CP's retained status
  // waits for it (onCall). What charge points publish before this subscription exists reaches nobody
  // (the gateway answers those CALLs with its timeout error after upstream.awaiting_timeout).
  await client.subscribeAsync([`${mp}+/status`, `${mp}+/event/+`, `${mp}+/up/#`], { qos: 1 });
  log('listening; type "help" for commands');
});
client.on('reconnect', () => log(`broker ${opts['mqtt-url']} unreachable, retrying`));
client.on('error', (err) => log(`mqtt: ${err.message}`));

/** @param {string} topic @param {Record<string, unknown>} payload */
function publish(topic, payload) {
  client.publish(topic, JSON.stringify(payload), { qos: 1 }, (err) => {
    if (err) log(`publish to ${topic} failed: ${err.message}`);
  });
}

client.on('message', (topic, buffer) => {
  if (!topic.startsWith(mp)) return;
  const [cpId = '', kind, ...rest] = topic.slice(mp.length).split('/');
  /** @type {any} */
  let payload;
  try {
    payload = JSON.parse(buffer.toString('utf8'));
  } catch {
    return log(`${cut(topic, 200)}: not JSON, ignored`);
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return log(`${cut(topic, 200)}: not a JSON object, ignored`);
  if (kind === 'status') return onStatus(cpId, payload);
  if (kind === 'event') return onEvent(cpId, rest[0] ?? '', payload);
  if (kind === 'up') {
    const [type = '', action = '', messageId = ''] = rest;
    if (type === 'request') return onCall(cpId, action, messageId, payload);
    if (type === 'response' || type === 'error') return onAnswer(cpId, type, action, messageId, payload);
    if (type === 'send') return log(`${cpId} SEND ${action} ${show(payload)} (2.1 SEND: not answered)`);
    if (type === 'resulterror') return log(`${cpId} CALLRESULTERROR for our answer to ${action} ${messageId}: ${show(payload)}`);
  }
});

function onStatus(/** @type {string} */ cpId, /** @type {any} */ status) {
  learnProtocol(cpId, status.protocol);
  const known = cp(cpId);
  if (known.online !== status.online) log(`${cpId} ${status.online ? 'online' : 'offline'} (${cut(status.protocol, 64)}, since ${cut(status.since, 64)})`);
  known.online = status.online === true;
}

function onEvent(/** @type {string} */ cpId, /** @type {string} */ event, /** @type {any} */ body) {
  if (event === 'connected') {
    learnProtocol(cpId, body.protocol);
    log(`${cpId} connected: ${cut(body.protocol, 64)} from ${cut(body.remoteAddress, 64)}`);
  } else if (event === 'disconnected') log(`${cpId} disconnected: ${cut(body.reason, 64)} (${cut(body.code, 64)})`);
  else log(`${cpId} ${event}: ${show(body)}`);
}

// ---- answering the charge points --------------------------------------------------------------------

/** @type {Map<string, number>} */
const answeredByAction = new Map();

function onCall(/** @type {string} */ cpId, /** @type {string} */ action, /** @type {string} */ messageId, /** @type {any} */ payload) {
  const protocol = cps.get(cpId)?.protocol;
  if (protocol === undefined) {
    // Wait for the CP's retained status (a few ms); the gateway answers the CP itself after 30 s.
    const list = waitingForProtocol.get(cpId) ?? [];
    if (list.length === 0) log(`${cpId} ${action}: waiting for ${mp}${cpId}/status to learn its OCPP version`);
    if (list.length >= 100) return; // still no status: the gateway answers these CALLs with its timeout
    list.push(() => onCall(cpId, action, messageId, payload));
    waitingForProtocol.set(cpId, list);
    return;
  }
  const answer = answers.answer(protocol, action, payload);
  if (answer === undefined) {
    publish(`${mp}${cpId}/dn/error/${action}/${messageId}`, { errorCode: 'NotImplemented', errorDescription: `${action} is not an action of ${protocol}`, errorDetails: {} });
    return log(`${cpId} [${shortName(protocol)}] ${action} ${show(payload)} -> NotImplemented`);
  }
  publish(`${mp}${cpId}/dn/response/${action}/${messageId}`, answer.payload);
  if (action === 'BootNotification') cp(cpId).model = cut(payload.chargePointModel ?? payload.chargingStation?.model ?? '', 64);
  answeredByAction.set(action, (answeredByAction.get(action) ?? 0) + 1);
  if (!opts.quiet) log(`${cpId} [${shortName(protocol)}] ${action} ${show(payload)} -> ${show(answer.payload)}${answer.rule === 'from schema' ? ' (minimal answer from the schema)' : ''}`);
}

if (opts.quiet) {
  setInterval(() => {
    if (answeredByAction.size === 0) return;
    log(`answered ${[...answeredByAction].map(([a, n]) => `${a} ${n}`).join(', ')}`);
    answeredByAction.clear();
  }, 10_000);
}

// ---- our commands -----------------------------------------------------------------------------------

let lastCommandId = 0;
/** @type {Map<string, { cpId: string, action: string, sentAt: number }>} */
const sent = new Map();

function onAnswer(/** @type {string} */ cpId, /** @type {string} */ type, /** @type {string} */ action, /** @type {string} */ messageId, /** @type {any} */ payload) {
  const ours = sent.get(messageId);
  if (ours === undefined || ours.cpId !== cpId) {
    // Not one of ours: e.g. the gateway's timeout error for a CP CALL that was not answered in time.
    return log(`${cpId} ${type} ${action} ${messageId}: ${show(payload)}`);
  }
  sent.delete(messageId);
  const ms = Date.now() - ours.sentAt;
  if (type === 'response') log(`${cpId} answered ${action}: ${show(payload, 2000)} (${ms} ms)`);
  else log(`${cpId} ${action} failed: ${cut(payload.errorCode, 64)} ${cut(payload.errorDescription)} ${show(payload.errorDetails)} (${ms} ms)`);
}

function command(/** @type {string} */ line) {
  const m = /^\s*(\S+)(?:\s+(\S+)(?:\s+(.+))?)?\s*$/.exec(line);
  if (m === null) return;
  const [, first = '', action, json] = m;
  if (first === 'help') return console.log(HELP);
  if (first === 'list') {
    for (const [id, c] of cps) log(`${id} ${c.online ? 'online ' : 'offline'} ${c.protocol ?? '?'} ${c.model ?? ''}`);
    return log(`${[...cps.values()].filter((c) => c.online).length} online of ${cps.size} seen`);
  }
  if (action === undefined || !/^[A-Za-z0-9]+$/.test(action)) return log('usage: <cpId> <Action> [JSON payload], e.g. CP1 Reset {"type":"Soft"}');
  if (/[/+#]/.test(first)) return log('a cpId in a topic has no /, + or # (the gateway writes them as %2F, %2B, %23)');
  let payload = {};
  try {
    payload = json === undefined ? {} : JSON.parse(json);
  } catch (err) {
    return log(`payload is not JSON: ${/** @type {Error} */ (err).message}`);
  }
  const messageId = `csms-${++lastCommandId}`;
  sent.set(messageId, { cpId: first, action, sentAt: Date.now() });
  publish(`${mp}${first}/dn/request/${action}/${messageId}`, payload);
  log(`${first} <- ${action} ${show(payload)} (${messageId})`);
}

createInterface({ input: process.stdin }).on('line', command);

// ---- stopping ---------------------------------------------------------------------------------------

for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.once(signal, () => {
    log(`${signal}: disconnecting`);
    client.end(false, {}, () => process.exit(0));
  });
}
