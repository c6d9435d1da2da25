// The dashboard with ocpp.workers: the CLI as a process with --workers 2 (the primary serves the page,
// the workers hold the charge points), in a real browser (playwright-core driving Debian's chromium,
// never a downloaded one). Each connected charge point shows the pid of the worker serving it, in the
// list and on its own page; with one process the column stays away. [SPEC §7, §9]
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { chargePoint, startTestGateway, within } from './support/harness.js';
import { defer } from './support/cleanup.js';
import { startWorkers } from './support/workers-process.js';

const CHROMIUM = '/usr/bin/chromium';
const available = existsSync(CHROMIUM);
const skip = available ? false : `${CHROMIUM} not installed (apt-get install chromium)`;
if (!available && process.env['CI'] === 'true') {
  test('chromium is required on CI', () => assert.fail(`${CHROMIUM} is missing: .ci/run installs Debian's chromium`));
}
// A guard against hangs, not a timing assertion: a gateway of three processes and a browser start.
const T = { timeout: 180_000, skip };

async function openDashboard(t: TestContext, apiUrl: string): Promise<{ page: Page; problems: string[] }> {
  const browser: Browser = await within(chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  }), 'chromium to start');
  defer(t, () => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.setDefaultTimeout(15_000);
  // Uncaught exceptions and console errors (a CSP violation is one); the browser's own request for
  // /favicon.ico is answered 404, and that line says nothing about the page.
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => { if (m.type() === 'error' && !m.location().url.endsWith('/favicon.ico')) problems.push(m.text()); });
  await page.goto(`${apiUrl}/`);
  return { page, problems };
}

function rowOf(page: Page, cpId: string) {
  return page.locator('#rows tr', { has: page.getByRole('link', { name: cpId, exact: true }) });
}

async function apiWorkerOf(apiUrl: string, cpId: string): Promise<number> {
  const res = await within(fetch(`${apiUrl}/api/v1/clients/${encodeURIComponent(cpId)}`), `GET client ${cpId}`);
  assert.equal(res.status, 200, `${cpId} is connected`);
  const body = (await res.json()) as { worker?: unknown };
  assert.equal(typeof body.worker, 'number', `the API names ${cpId}'s worker`);
  return body.worker as number;
}

test('[SPEC §7, §9] dashboard with --workers 2: each connected CP shows the pid of its worker, in the list and on its page', T, async (t) => {
  // ocpp1.6 alone: three processes compile one schema set.
  const w = await startWorkers(t, ['--set', 'ocpp.protocols=ocpp1.6']);
  assert.equal(w.pids.length, 2);
  const ids = ['CP-WK-1', 'CP-WK-2'];
  for (const id of ids) await chargePoint(t, w.ocppUrl, id);

  const { page, problems } = await openDashboard(t, w.api);
  for (const id of ids) await rowOf(page, id).waitFor();
  const header = page.locator('#th-worker');
  await header.waitFor({ state: 'visible' });
  const headers = await page.locator('#rows').locator('xpath=..').locator('thead th').allTextContents();
  const column = headers.indexOf('Worker pid');
  assert.ok(column > 0, `a Worker pid column: ${JSON.stringify(headers)}`);

  for (const id of ids) {
    const cell = rowOf(page, id).locator('td.worker');
    assert.equal(await rowOf(page, id).locator('td').nth(column).getAttribute('class'), 'num worker', 'the cell sits under its header');
    const text = (await cell.textContent()) ?? '';
    assert.match(text, /^\d+$/, `${id}'s worker is a pid`);
    const pid = Number(text);
    assert.ok(w.pids.includes(pid), `${id}'s pid ${pid} is one of the primary's workers ${JSON.stringify(w.pids)}`);
    assert.equal(pid, await apiWorkerOf(w.api, id), 'the pid the API gives for it');
  }

  // A charge point's own page names its worker too.
  const id = ids[1] as string;
  const pid = await apiWorkerOf(w.api, id);
  await page.getByRole('link', { name: id, exact: true }).click();
  const dd = page.locator('#cp-info dt', { hasText: 'Worker pid' }).locator('xpath=following-sibling::dd[1]');
  await dd.waitFor();
  assert.equal(await dd.textContent(), String(pid));
  assert.deepEqual(problems, []);
});

test('[SPEC §9] dashboard with one process: no worker column, no worker on a CP\'s page', T, async (t) => {
  const { ocppUrl, apiUrl } = await startTestGateway(t);
  await chargePoint(t, ocppUrl, 'CP-ONE');
  const { page, problems } = await openDashboard(t, apiUrl);
  const row = rowOf(page, 'CP-ONE');
  await row.waitFor();
  assert.equal(await page.locator('#th-worker').isVisible(), false);
  assert.equal(await row.locator('td').count(), 10, 'the row as it was before workers existed');
  assert.equal(await row.locator('td.worker').count(), 0);
  await page.getByRole('link', { name: 'CP-ONE', exact: true }).click();
  await page.locator('#cp-info dt', { hasText: 'Frames' }).waitFor();
  assert.equal(await page.locator('#cp-info dt', { hasText: 'Worker' }).count(), 0);
  assert.deepEqual(problems, []);
});
