import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileTemplate, decodeLevel, encodeLevel, TopicLayout } from '../src/bridge/topics.js';

const DEFAULTS = { up: '${cpId}/up/${type}/${action}/${messageId}', dn: '${cpId}/dn/${type}/${action}/${messageId}', event: '${cpId}/event/${event}', status: '${cpId}/status' };

test('[SPEC §4] default layout', () => {
  const t = TopicLayout.create('ocpp/', DEFAULTS);
  assert.ok(t instanceof TopicLayout);
  if (!(t instanceof TopicLayout)) return;
  assert.equal(t.up('CP1', 'request', 'BootNotification', 'm1', 'ocpp1.6'), 'ocpp/CP1/up/request/BootNotification/m1');
  assert.equal(t.event('CP1', 'connected'), 'ocpp/CP1/event/connected');
  assert.equal(t.status('CP1'), 'ocpp/CP1/status');
  assert.equal(t.dnFilter('CP1'), 'ocpp/CP1/dn/+/+/+');
  assert.deepEqual(t.parseDn('ocpp/CP1/dn/request/Reset/r1'), { cpId: 'CP1', type: 'request', action: 'Reset', messageId: 'r1' });
  assert.equal(t.parseDn('ocpp/CP1/dn/bogus/Reset/r1'), undefined);
  assert.equal(t.parseDn('ocpp/CP1/up/request/Reset/r1'), undefined);
  assert.equal(t.parseDn('ocpp/CP1/dn/request/Reset'), undefined);
  assert.equal(t.parseDn('ocpp/CP1/dn/request/Reset/%ZZ'), undefined);
});

test('[SPEC §4] percent-encoding of / + # % NUL round-trips', () => {
  const raw = 'a/b+c#d%e\u0000f';
  assert.equal(encodeLevel(raw), 'a%2Fb%2Bc%23d%25e%00f');
  assert.equal(decodeLevel(encodeLevel(raw)), raw);
  assert.equal(encodeLevel('plain'), 'plain');
  const t = TopicLayout.create('ocpp/', DEFAULTS) as TopicLayout;
  assert.equal(t.dnFilter('a%b'), 'ocpp/a%25b/dn/+/+/+');
  assert.equal(t.parseDn('ocpp/a%25b/dn/response/X/1')?.cpId, 'a%b');
});

test('[SPEC §4] custom templates with aliases and a protocol level', () => {
  const t = TopicLayout.create('', { up: 'cs/${protocol}/${clientid}/${type}/${action}/${id}', dn: 'cmd/${cid}/${type}/${action}/${id}', event: 'ev/${cpId}/${event}', status: 'presence/${cpId}' });
  assert.ok(t instanceof TopicLayout);
  if (!(t instanceof TopicLayout)) return;
  assert.equal(t.up('CP1', 'response', 'Reset', 'x', 'ocpp1.6'), 'cs/ocpp1.6/CP1/response/Reset/x');
  assert.equal(t.dnFilter('CP1'), 'cmd/CP1/+/+/+');
  assert.deepEqual(t.parseDn('cmd/CP1/error/Reset/x'), { cpId: 'CP1', type: 'error', action: 'Reset', messageId: 'x' });
});

test('template errors name the key', () => {
  assert.match(String(TopicLayout.create('ocpp/', { ...DEFAULTS, up: '${nope}/x' })), /topics\.up: unknown placeholder/);
  assert.match(String(TopicLayout.create('ocpp/', { ...DEFAULTS, dn: '${cpId}/dn/${type}' })), /topics\.dn: must contain \$\{action\}/);
  assert.match(String(TopicLayout.create('ocpp/', { ...DEFAULTS, dn: '${cpId}/dn/t-${type}/${action}/${messageId}' })), /whole topic level/);
  assert.equal(typeof compileTemplate('${cpId'), 'string');
});
