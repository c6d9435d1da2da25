// The dashboard in a real browser: playwright-core driving Debian's chromium (never a downloaded one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { basic, chargePoint, rawSocket, startTestGateway } from './support/harness.js';
import { defer } from './support/cleanup.js';

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = new URL('../test-artifacts/', import.meta.url).pathname;
const available = existsSync(CHROMIUM);
if (!available && process.env['CI'] === 'true') {
  test('chromium is required on CI', () => assert.fail(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`));
}

test('[SPEC §9] dashboard: a CP appears, its page shows the live trace of a TriggerMessage sent from the form', { timeout: 60_000, skip: available ? false : `${CHROMIUM} not installed (apt-get install chromium)` }, async (t) => {
  const { ocppUrl, apiUrl } = await startTestGateway(t);
  const browser: Browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  defer(t, () => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${apiUrl}/`);
  await page.getByText('0 connected').waitFor();

  // The CP connects after the page is open: it appears in the list.
  const cp = await chargePoint(t, ocppUrl, 'CP-DASH');
  const triggered: unknown[] = [];
  cp.handle('TriggerMessage', async ({ params }) => {
    triggered.push(params);
    return { status: 'Accepted' };
  });
  const link = page.getByRole('link', { name: 'CP-DASH' });
  await link.waitFor({ timeout: 10_000 });
  assert.equal(await page.locator('#s-conn').textContent(), '1');

  await link.click();
  await page.locator('#trace-state', { hasText: 'live' }).waitFor();
  await page.locator('#action option[value="TriggerMessage"]').waitFor({ state: 'attached' });
  await page.selectOption('#action', 'TriggerMessage');

  // A payload that is not JSON is refused in the page, before anything is sent.
  await page.fill('#payload', '{"requestedMessage": ');
  await page.click('#send');
  await page.locator('#call-status', { hasText: 'not valid JSON' }).waitFor();

  // The server's validator speaks too: an invalid TriggerMessage comes back as HTTP 400.
  await page.fill('#payload', '{"requestedMessage":"Coffee"}');
  await page.click('#send');
  await page.locator('#call-status', { hasText: 'HTTP 400 PropertyConstraintViolation' }).waitFor();

  await page.fill('#payload', '{"requestedMessage":"Heartbeat"}');
  await page.click('#send');
  await page.locator('#call-status', { hasText: 'answered' }).waitFor();
  assert.deepEqual(JSON.parse((await page.locator('#call-result').textContent()) ?? ''), { status: 'Accepted' });
  assert.deepEqual(triggered, [{ requestedMessage: 'Heartbeat' }]);

  // The live trace shows the request out and the response in, as one exchange.
  const exchange = page.locator('#trace .entry.out', { has: page.locator('.action', { hasText: 'TriggerMessage' }) });
  await exchange.locator('.answer.in', { hasText: '"Accepted"' }).waitFor();

  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}dashboard-cp.png`, fullPage: true });
  await page.goto(`${apiUrl}/#`);
  await page.getByRole('link', { name: 'CP-DASH' }).waitFor();
  await page.screenshot({ path: `${ARTIFACTS}dashboard-list.png`, fullPage: true });
  assert.deepEqual(pageErrors, []);
});

test('[SPEC §8] dashboard: a cpId with a bidi override, a user name with terminal controls and the facts a CP reports are shown escaped, as text', { timeout: 60_000, skip: available ? false : `${CHROMIUM} not installed (apt-get install chromium)` }, async (t) => {
  const { ocppUrl, apiUrl } = await startTestGateway(t, { 'auth.username_must_match': false });
  // The cpId door admits bidi controls (C0/C1 are refused there); a user name may hold any byte.
  const cpId = 'CP\u202eLIVE<img src=x onerror=alert(1)>';
  const raw = await rawSocket(t, `${ocppUrl}/${encodeURIComponent(cpId)}`, ['ocpp1.6'], { headers: { authorization: basic('op\u001b[31m\u009b<i>', 'pw') } });
  // What it says about itself is client input too: a vendor with a bidi override and markup, a status
  // the schema refuses (the facts keep what was said), and an over-long model cut at 64 characters.
  raw.send(JSON.stringify([2, 'b1', 'BootNotification', { chargePointVendor: 'Evil\u202eCorp<b>', chargePointModel: 'M'.repeat(100) }]));
  raw.send(JSON.stringify([2, 's1', 'StatusNotification', { connectorId: 1, status: '<img src=y>\u200b', errorCode: 'NoError' }]));
  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'] });
  defer(t, () => browser.close());
  const page = await browser.newPage();
  const pageErrors: string[] = [];
  page.on('pageerror', (e) => pageErrors.push(e.message));
  await page.goto(`${apiUrl}/`);
  const link = page.locator('#rows a').first();
  await link.waitFor({ timeout: 10_000 });
  assert.equal(await link.textContent(), 'CP\\u202eLIVE<img src=x onerror=alert(1)>', 'escaped, and markup as text');
  assert.equal(await page.locator('#rows img').count(), 0, 'no element made from a cpId');
  const row = page.locator('#rows tr').first();
  await row.getByText('Evil\\u202eCorp<b>', { exact: false }).waitFor({ timeout: 10_000 });
  assert.equal(await row.locator('td').nth(2).textContent(), `Evil\\u202eCorp<b> · ${'M'.repeat(64)}…`);
  assert.equal(await row.locator('.badge').textContent(), '#1 <img src=y>\\u200b');
  assert.equal(await page.locator('#rows b, #rows img').count(), 0, 'no element made from a fact');
  await link.click();
  await page.locator('#cp-title', { hasText: 'LIVE' }).waitFor({ timeout: 10_000 });
  assert.equal(await page.locator('#cp-title').textContent(), 'CP\\u202eLIVE<img src=x onerror=alert(1)>');
  assert.equal(await page.locator('#cp-view img').count(), 0);
  const user = page.locator('#cp-info dt', { hasText: 'Username' }).locator('xpath=following-sibling::dd[1]');
  await user.waitFor({ timeout: 10_000 });
  assert.equal(await user.textContent(), 'op\\x1b[31m\\x9b<i>');
  assert.equal(await page.locator('#cp-info i').count(), 0);
  assert.deepEqual(pageErrors, []);
});
