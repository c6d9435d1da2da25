// The dashboard's browser script: plain JavaScript, no build step, no external asset. Written inside
// String.raw, so it holds no backtick and no dollar-brace of its own (only SHOWN_JS is interpolated).
// Everything a charge point or a client controls reaches the page through el()/textContent and shown():
// never as HTML, never as a class name, with control, bidi and invisible characters made visible. [SPEC §8]
import { SHOWN_JS } from './escape.js';

export const DASHBOARD_SCRIPT = String.raw`
(() => {
  'use strict';
  const $ = (id) => document.getElementById(id);
  ${SHOWN_JS}
  const PAGE = 50, HISTORY = 150, STATS_MS = 2000, LIST_MS = 3000, DETAIL_MS = 3000;
  // The trace keeps 1000 exchanges for filtering and the download, shows at most 400.
  const TRACE_KEEP = 1000, TRACE_DOM = 400, LONG_STRING = 400, MAX_LINES = 300;
  let key = sessionStorage.getItem('ocpp-gw-key') || '';
  let page = 1, listTimer = null, detailTimer = null, noticeTimer = null;
  const samples = [];

  // ---- small helpers ------------------------------------------------------------------------------
  function shownLines(text) { return String(text).split('\n').map(shown).join('\n'); }
  /** An element; opts.text goes through shown(), opts.lines keeps line breaks (each line shown()). */
  function el(tag, opts, children) {
    const e = document.createElement(tag);
    if (opts) {
      if (opts.cls) e.className = opts.cls;
      if (opts.text !== undefined && opts.text !== null) e.textContent = shown(opts.text);
      if (opts.lines !== undefined) e.textContent = shownLines(opts.lines);
      if (opts.label) e.dataset.label = opts.label;
      if (opts.title) e.title = shown(opts.title);
    }
    for (const c of children || []) if (c) e.append(c);
    return e;
  }
  function ago(iso) {
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    return s < 60 ? s + ' s ago' : s < 3600 ? Math.round(s / 60) + ' min ago' : s < 172800 ? Math.round(s / 3600) + ' h ago' : Math.round(s / 86400) + ' d ago';
  }
  function duration(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    return s < 90 ? s + ' s' : s < 5400 ? Math.round(s / 60) + ' min' : (s / 3600).toFixed(1) + ' h';
  }
  function localTime(iso) {
    const d = new Date(iso);
    return d.toLocaleTimeString([], { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
  }
  function vendorModel(f) { return f && (f.vendor || f.model) ? [f.vendor, f.model].filter(Boolean).join(' · ') : '–'; }
  function has(o, k) { return Object.prototype.hasOwnProperty.call(o, k); }
  function quiet(fn) { return Promise.resolve().then(fn).catch((e) => { if (!(e instanceof KeyNeeded)) console.warn(e); }); }
  function notify(text, ok) {
    const n = $('notice');
    n.textContent = text;
    n.className = 'notice ' + (ok ? 'ok' : 'bad');
    n.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { n.hidden = true; }, 6000);
  }

  // ---- the API and its key ------------------------------------------------------------------------
  class KeyNeeded extends Error {}
  async function api(path, init) {
    init = init || {};
    const headers = {};
    if (init.body !== undefined) headers['content-type'] = 'application/json';
    if (key) headers.authorization = 'Bearer ' + key;
    let res;
    try {
      res = await fetch(path, { method: init.method || 'GET', body: init.body, headers });
    } catch (e) {
      $('offline').hidden = false;
      throw e;
    }
    $('offline').hidden = true;
    if (res.status === 401) { needKey(); throw new KeyNeeded('API key required'); }
    const text = await res.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (e) { body = { error: 'bad_response', message: text.slice(0, 200) }; }
    return { status: res.status, body };
  }
  function needKey() {
    $('keybox').hidden = false;
    const msg = $('key-error');
    if (key) {
      msg.textContent = 'The gateway refused this API key (HTTP 401 unauthorized). Enter the key set in api.key.';
      msg.className = 'bad';
    } else {
      msg.textContent = 'This gateway needs an API key (api.key) to show its charge points.';
      msg.className = 'muted';
    }
  }
  $('key-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    key = $('key').value.trim();
    sessionStorage.setItem('ocpp-gw-key', key);
    $('key-error').textContent = 'Checking the key…';
    $('key-error').className = 'muted';
    try { await api('/api/v1/stats'); } catch (e) { return; }
    $('keybox').hidden = true;
    $('key').value = '';
    route();
  });

  // ---- header, charts and counters ----------------------------------------------------------------
  function total(v, pick) {
    if (typeof v === 'number') return v;
    let n = 0;
    for (const k of Object.keys(v || {})) if (!pick || pick(k.split(','))) n += v[k];
    return n;
  }
  const COUNTERS = [
    ['errIn', 'CALLERRORs from CPs', 'CALLERROR and CALLRESULTERROR frames the charge points sent'],
    ['errOut', 'CALLERRORs to CPs', 'CALLERROR and CALLRESULTERROR frames sent to charge points (by services or the gateway)'],
    ['toCp', 'CP timeouts', 'CALLs to charge points that got no answer in time (dnstream)'],
    ['toSvc', 'Service timeouts', 'CALLs from charge points the service did not answer in time (upstream)'],
    ['gw', 'Gateway errors', 'errors the gateway published to services (ocpp_gateway_gateway_errors_total)'],
    ['invalid', 'Schema failures', 'payloads that failed their JSON schema, both directions'],
    ['rejected', 'Rejected', 'messages the gateway refused (ocpp_gateway_rejected_messages_total)'],
  ];
  async function refreshStats() {
    const { body } = await api('/api/v1/stats');
    const f = body.frames_total;
    const s = {
      t: Date.now(),
      in: total(f, (l) => l[0] === 'in'),
      out: total(f, (l) => l[0] === 'out'),
      conn: total(body.connections),
      errIn: total(f, (l) => l[0] === 'in' && (l[1] === 'error' || l[1] === 'resulterror')),
      errOut: total(f, (l) => l[0] === 'out' && (l[1] === 'error' || l[1] === 'resulterror')),
      toCp: total(body.timeouts_total, (l) => l[0] === 'dnstream'),
      toSvc: total(body.timeouts_total, (l) => l[0] === 'upstream'),
      gw: total(body.gateway_errors_total),
      invalid: total(body.validation_failures_total),
      rejected: total(body.rejected_messages_total),
      rin: null, rout: null,
    };
    const prev = samples[samples.length - 1];
    if (prev) {
      const dt = Math.max(0.001, (s.t - prev.t) / 1000);
      s.rin = Math.max(0, (s.in - prev.in) / dt);
      s.rout = Math.max(0, (s.out - prev.out) / dt);
    }
    samples.push(s);
    if (samples.length > HISTORY) samples.shift();
    $('s-conn').textContent = String(s.conn);
    $('s-in').textContent = s.rin === null ? '–' : s.rin.toFixed(1);
    $('s-out').textContent = s.rout === null ? '–' : s.rout.toFixed(1);
    const up = body.broker_connected === 1;
    $('s-broker').textContent = up ? 'up' : 'down';
    $('s-broker').className = 'pill ' + (up ? 'ok' : 'bad');
    drawCharts();
    drawCounters(s);
  }

  const SVG = 'http://www.w3.org/2000/svg';
  function svgEl(tag, attrs) {
    const e = document.createElementNS(SVG, tag);
    for (const k of Object.keys(attrs)) e.setAttribute(k, String(attrs[k]));
    return e;
  }
  function niceTop(v) {
    if (!(v > 0)) return 1;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
    return 10 * p;
  }
  /**
   * Lines over the samples so far (at most HISTORY), newest at the right edge: the first minute
   * fills from the right, then the whole history spans the width. Only numbers reach the SVG.
   */
  function chart(svg, series) {
    const W = 300, H = 60;
    const span = Math.min(HISTORY, Math.max(30, ...series.map((sr) => sr.values.length)));
    const step = W / (span - 1);
    let max = 0;
    for (const sr of series) for (const v of sr.values) if (v > max) max = v;
    const top = niceTop(max);
    const nodes = [svgEl('line', { x1: 0, y1: H - 0.5, x2: W, y2: H - 0.5, class: 'axis' }), svgEl('line', { x1: 0, y1: 0.5, x2: W, y2: 0.5, class: 'grid' })];
    for (const sr of series) {
      if (sr.values.length < 2) continue;
      const x0 = W - (sr.values.length - 1) * step;
      const pts = sr.values.map((v, i) => (x0 + i * step).toFixed(1) + ',' + (H - 1 - (v / top) * (H - 4)).toFixed(1));
      nodes.push(svgEl('polygon', { points: pts.join(' ') + ' ' + W + ',' + H + ' ' + x0.toFixed(1) + ',' + H, class: 'area ' + sr.cls }));
      nodes.push(svgEl('polyline', { points: pts.join(' '), class: 'line ' + sr.cls }));
    }
    svg.replaceChildren(...nodes);
    return top;
  }
  function drawCharts() {
    const rated = samples.filter((s) => s.rin !== null);
    const top = chart($('chart-frames'), [{ cls: 'in', values: rated.map((s) => s.rin) }, { cls: 'out', values: rated.map((s) => s.rout) }]);
    $('c-frames-top').textContent = String(top);
    const last = rated[rated.length - 1];
    $('c-in').textContent = last ? last.rin.toFixed(1) : '–';
    $('c-out').textContent = last ? last.rout.toFixed(1) : '–';
    const ctop = chart($('chart-conn'), [{ cls: 'conn', values: samples.map((s) => s.conn) }]);
    $('c-conn-top').textContent = String(ctop);
    $('c-conn').textContent = String(samples[samples.length - 1].conn);
    const span = samples.length > 1 ? duration(samples[samples.length - 1].t - samples[0].t) : '0 s';
    for (const c of document.querySelectorAll('.c-span')) c.textContent = span;
  }
  function drawCounters(s) {
    const first = samples[0];
    $('counters').replaceChildren(...COUNTERS.map(([k, label, help]) => {
      const d = s[k] - first[k];
      const tile = el('div', { cls: 'tile' + (d > 0 ? ' hot' : ''), title: help }, [
        el('div', { cls: 'n' }, [el('span', { text: String(s[k]) }), el('span', { cls: 'd', text: d > 0 ? ' +' + d : '' })]),
        el('div', { cls: 'l', text: label }),
      ]);
      tile.dataset.counter = k;
      return tile;
    }));
  }

  // ---- the lists ----------------------------------------------------------------------------------
  const STATUS_CLASS = {
    Available: 'st-ok', Preparing: 'st-busy', Charging: 'st-busy', Occupied: 'st-busy', SuspendedEV: 'st-busy', SuspendedEVSE: 'st-busy',
    Finishing: 'st-busy', Reserved: 'st-warn', Unavailable: 'st-off', Faulted: 'st-bad',
  };
  const ORDINARY_CLOSE = ['closed_by_cp', 'kicked', 'shutdown', 'replaced'];
  function connectorName(c) { return (c.evseId === null || c.evseId === undefined ? '' : 'EVSE ' + c.evseId + ' · ') + '#' + c.connectorId; }
  function badges(connectors, statusOnly) {
    if (!connectors || connectors.length === 0) return [el('span', { cls: 'muted', text: '–' })];
    return connectors.map((c) => el('span', {
      cls: 'badge ' + (has(STATUS_CLASS, c.status) ? STATUS_CLASS[c.status] : ''),
      text: statusOnly ? c.status : connectorName(c) + ' ' + c.status,
      title: [c.errorCode && c.errorCode !== 'NoError' ? c.errorCode : '', c.info || '', 'updated ' + ago(c.updatedAt)].filter(Boolean).join(' · '),
    }));
  }
  function cpLink(cpId) {
    const a = el('a', { text: cpId });
    a.href = '#cp=' + encodeURIComponent(cpId);
    return a;
  }
  function kickButton(cpId, small) {
    const b = el('button', { cls: 'danger' + (small ? ' small' : ''), text: 'Kick' });
    b.type = 'button';
    b.setAttribute('aria-label', 'Kick ' + shown(cpId));
    b.onclick = () => quiet(() => kick(cpId));
    return b;
  }
  /** ocpp.workers > 1: the API names the worker process serving a charge point; with one process it does not. */
  function hasWorker(c) { return typeof c.worker === 'number'; }
  function clientRow(c, workerColumn) {
    const f = c.facts || {};
    return el('tr', null, [
      el('td', { cls: 'id', label: 'Charge point' }, [cpLink(c.cpId)]),
      el('td', { label: 'Protocol', text: c.protocol }),
      el('td', { label: 'Vendor · model', text: vendorModel(f) }),
      el('td', { label: 'Firmware', text: f.firmwareVersion || '–' }),
      el('td', { label: 'Connectors', cls: 'conns' }, badges(f.connectors)),
      el('td', { label: 'Connected', text: ago(c.connectedAt), title: new Date(c.connectedAt).toLocaleString() }),
      el('td', { label: 'Last seen', text: ago(c.lastSeenAt) }),
      el('td', { cls: 'num', label: 'Frames in / out', text: c.counters.framesIn + ' / ' + c.counters.framesOut }),
      el('td', { cls: 'num', label: 'Queue', text: String(c.queueLength) }),
      workerColumn ? el('td', { cls: 'num worker', label: 'Worker pid', text: hasWorker(c) ? String(c.worker) : '–' }) : null,
      el('td', { cls: 'act' }, [kickButton(c.cpId, true)]),
    ]);
  }
  function goneRow(d) {
    return el('tr', null, [
      el('td', { cls: 'id', label: 'Charge point' }, [cpLink(d.cpId)]),
      el('td', { label: 'Protocol', text: d.protocol }),
      el('td', { label: 'Reason', cls: 'reason' }, [
        el('span', { cls: 'pill ' + (ORDINARY_CLOSE.includes(d.reason) ? '' : 'warn'), text: d.reason }),
        el('span', { cls: 'muted', text: ' ' + d.code }),
      ]),
      el('td', { label: 'Disconnected', text: ago(d.disconnectedAt), title: new Date(d.disconnectedAt).toLocaleString() }),
      el('td', { label: 'Was connected', text: duration(Date.parse(d.disconnectedAt) - Date.parse(d.connectedAt)) }),
      el('td', { label: 'Vendor · model', text: vendorModel(d.facts) }),
    ]);
  }
  function emptyRow(text, span) {
    const td = el('td', { cls: 'empty muted', text });
    td.colSpan = span;
    return el('tr', null, [td]);
  }
  async function loadList() {
    const q = new URLSearchParams({ page: String(page), limit: String(PAGE) });
    const like = $('search').value.trim();
    if (like) q.set('like', like);
    const { body } = await api('/api/v1/clients?' + q);
    // The worker column exists only while the API names workers: one process looks as it always did.
    const workerColumn = body.data.some(hasWorker);
    $('th-worker').hidden = !workerColumn;
    $('rows').replaceChildren(...(body.data.length ? body.data.map((c) => clientRow(c, workerColumn)) : [emptyRow(like ? 'No connected charge point matches.' : 'No charge point is connected.', 10)]));
    const pages = Math.max(1, Math.ceil(body.meta.count / PAGE));
    $('count').textContent = body.meta.count + ' connected';
    $('page').textContent = page + ' / ' + pages;
    $('prev').disabled = page <= 1;
    $('next').disabled = page >= pages;
    const gq = new URLSearchParams({ limit: String(PAGE) });
    if (like) gq.set('like', like);
    const gone = await api('/api/v1/disconnected?' + gq);
    const g = gone.body;
    $('gone-rows').replaceChildren(...(g.data.length ? g.data.map(goneRow) : [emptyRow('None.', 6)]));
    $('gone-count').textContent = g.meta.count + (g.meta.count > g.data.length ? ' (newest ' + g.data.length + ' shown)' : '');
    $('gone-note').textContent = 'The gateway remembers the last ' + g.meta.maxEntries + ' charge points that disconnected, for ' + duration(g.meta.maxAgeSeconds * 1000) + '; one that reconnects moves back to the list above.';
  }
  $('search').oninput = () => { page = 1; quiet(loadList); };
  $('prev').onclick = () => { page = Math.max(1, page - 1); quiet(loadList); };
  $('next').onclick = () => { page++; quiet(loadList); };

  // ---- kick, with confirmation --------------------------------------------------------------------
  function confirmDialog(text, okLabel) {
    return new Promise((resolve) => {
      const d = $('confirm');
      $('confirm-text').textContent = text;
      $('confirm-ok').textContent = okLabel;
      const done = (v) => {
        $('confirm-ok').onclick = null; $('confirm-cancel').onclick = null; d.oncancel = null;
        if (d.open) d.close();
        resolve(v);
      };
      $('confirm-ok').onclick = () => done(true);
      $('confirm-cancel').onclick = () => done(false);
      d.oncancel = (e) => { e.preventDefault(); done(false); };
      d.showModal();
      $('confirm-cancel').focus();
    });
  }
  async function kick(cpId) {
    const ok = await confirmDialog('Kick ' + shown(cpId) + '? The gateway closes its connection (close code 1000, reason kicked). The charge point may reconnect.', 'Kick ' + shown(cpId));
    if (!ok) return;
    const { status, body } = await api('/api/v1/clients/' + encodeURIComponent(cpId), { method: 'DELETE' });
    if (status === 204) notify(shown(cpId) + ' was kicked.', true);
    else notify('Kick of ' + shown(cpId) + ' failed: ' + shown((body && body.message) || 'HTTP ' + status), false);
    if (cpv.cpId === null) await loadList();
    else await detail();
  }

  // ---- one charge point ---------------------------------------------------------------------------
  const cpv = { cpId: null, connected: null, protocol: null, actionsFor: null, templates: {}, source: null };
  function dl(target, rows) {
    target.replaceChildren(...rows.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v === null || v === undefined || v === '' ? '–' : v })]));
  }
  function renderFacts(f) {
    f = f || {};
    dl($('cp-facts'), [
      ['Vendor', f.vendor], ['Model', f.model], ['Firmware', f.firmwareVersion], ['Serial number', f.serialNumber],
      ['Booted', f.bootedAt ? ago(f.bootedAt) + (f.bootReason ? ' (' + f.bootReason + ')' : '') : 'no BootNotification seen'],
    ]);
    const cs = f.connectors || [];
    // 1.6 says an error code and free text per connector; 2.x has no such fields.
    const columns = [['Connector', (c) => el('td', { label: 'Connector', text: connectorName(c) })], ['Status', (c) => el('td', { label: 'Status' }, badges([c], true))]];
    if (cs.some((c) => c.errorCode !== null)) columns.push(['Error code', (c) => el('td', { label: 'Error code', text: c.errorCode || '–' })]);
    if (cs.some((c) => c.info !== null)) columns.push(['Info', (c) => el('td', { label: 'Info', text: c.info || '–' })]);
    columns.push(['Updated', (c) => el('td', { label: 'Updated', text: ago(c.updatedAt) })]);
    $('cp-connectors-head').replaceChildren(el('tr', null, columns.map(([name]) => el('th', { text: name }))));
    $('cp-connectors').replaceChildren(...(cs.length ? cs.map((c) => el('tr', null, columns.map(([, cell]) => cell(c)))) : [emptyRow('No StatusNotification seen.', columns.length)]));
  }
  function setConnected(on, protocol) {
    cpv.connected = on;
    $('cp-state').textContent = on ? 'connected' : 'not connected';
    $('cp-state').className = 'pill ' + (on ? 'ok' : 'bad');
    $('send').disabled = !on || cpv.sending === true;
    $('cp-kick').disabled = !on;
    $('send-note').hidden = on;
    if (!on) return;
    $('cp-gone').hidden = true;
    cpv.protocol = protocol;
    if (cpv.actionsFor !== protocol) quiet(loadActions);
    if (!cpv.source) openTrace();
  }
  async function detail() {
    const cpId = cpv.cpId;
    if (cpId === null) return;
    const { status, body } = await api('/api/v1/clients/' + encodeURIComponent(cpId));
    if (cpv.cpId !== cpId) return;
    if (status === 200) {
      dl($('cp-info'), [
        ['Protocol', body.protocol], ['Remote address', body.remoteAddress], ['Username', body.username],
        ['Connected', new Date(body.connectedAt).toLocaleString() + ' (' + ago(body.connectedAt) + ')'], ['Last seen', ago(body.lastSeenAt)],
        ['Heartbeat', body.heartbeatInterval === null ? null : body.heartbeatInterval + ' s'],
        ['In flight', 'from CP ' + body.inflight.up + ', to CP ' + body.inflight.down], ['Queue', String(body.queueLength)],
        ['Frames', body.counters.framesIn + ' in, ' + body.counters.framesOut + ' out'],
        ...(hasWorker(body) ? [['Worker pid', String(body.worker)]] : []),
      ]);
      renderFacts(body.facts);
      setConnected(true, body.protocol);
      return;
    }
    setConnected(false, null);
    const g = await api('/api/v1/disconnected/' + encodeURIComponent(cpId));
    if (cpv.cpId !== cpId || cpv.connected) return;
    const gone = $('cp-gone');
    gone.hidden = false;
    if (g.status === 200) {
      const d = g.body;
      gone.textContent = shown('Disconnected ' + ago(d.disconnectedAt) + ': ' + d.reason + ' (close code ' + d.code + '), after ' + duration(Date.parse(d.disconnectedAt) - Date.parse(d.connectedAt)) + ' connected.');
      dl($('cp-info'), [['Protocol', d.protocol], ['Remote address', d.remoteAddress], ['Username', d.username], ['Connected', new Date(d.connectedAt).toLocaleString()], ['Disconnected', new Date(d.disconnectedAt).toLocaleString()]]);
      renderFacts(d.facts);
    } else {
      gone.textContent = 'Not connected, and not among the recently disconnected charge points.';
      $('cp-info').replaceChildren();
      renderFacts(null);
    }
  }
  async function loadActions() {
    const protocol = cpv.protocol;
    const { body } = await api('/api/v1/actions?protocol=' + encodeURIComponent(protocol));
    if (cpv.protocol !== protocol) return;
    cpv.actionsFor = protocol;
    cpv.templates = body.templates || {};
    const list = body.csmsActions || [];
    $('action').replaceChildren(...list.map((a) => { const o = el('option', { text: a }); o.value = a; return o; }));
    $('action').value = list.includes('TriggerMessage') ? 'TriggerMessage' : (list[0] || '');
    $('action-note').textContent = list.length + ' actions a CSMS sends to an ' + protocol + ' charge point; each starts as a template of its required fields.';
    useTemplate();
  }
  function useTemplate() {
    const a = $('action').value;
    $('payload').value = JSON.stringify(has(cpv.templates, a) ? cpv.templates[a] : {}, null, 2);
  }
  $('action').onchange = useTemplate;
  $('template').onclick = useTemplate;
  $('cp-kick').onclick = () => { if (cpv.cpId !== null) quiet(() => kick(cpv.cpId)); };

  $('call-form').onsubmit = async (ev) => {
    ev.preventDefault();
    const cpId = cpv.cpId;
    const status = $('call-status');
    let payload;
    try { payload = JSON.parse($('payload').value); } catch (e) { status.textContent = shown('Payload is not valid JSON: ' + e.message); status.className = 'bad'; return; }
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) { status.textContent = 'Payload must be a JSON object'; status.className = 'bad'; return; }
    cpv.sending = true;
    $('send').disabled = true;
    status.textContent = 'waiting for the charge point…';
    status.className = 'muted';
    $('call-result').textContent = '';
    try {
      const r = await api('/api/v1/clients/' + encodeURIComponent(cpId) + '/calls', { method: 'POST', body: JSON.stringify({ action: $('action').value, payload }) });
      if (cpv.cpId !== cpId) return;
      const b = r.body || {};
      status.textContent = shown(r.status === 200 ? 'answered' : 'HTTP ' + r.status + (b.errorCode ? ' ' + b.errorCode : b.error ? ' ' + b.error : ''));
      status.className = r.status === 200 ? 'ok' : 'bad';
      $('call-result').textContent = shownLines(JSON.stringify(r.status === 200 ? b.result : b, null, 2));
    } catch (e) {
      if (!(e instanceof KeyNeeded)) { status.textContent = shown('Not sent: ' + e.message); status.className = 'bad'; }
    } finally {
      cpv.sending = false;
      $('send').disabled = !cpv.connected;
    }
  };

  // ---- the live trace: requests paired with their answers -----------------------------------------
  const KIND_LABEL = { CALL: 'CALL', CALLRESULT: 'CALLRESULT', CALLERROR: 'CALLERROR', CALLRESULTERROR: 'CALLRESULTERROR', SEND: 'SEND', malformed: 'not OCPP-J' };
  const T = { cpId: null, seq: 0, frames: 0, entries: [], pending: new Map(), actionOf: new Map(), actions: new Set(), paused: false, held: [], stale: new Set(), byNode: new WeakMap() };
  function traceReset(cpId) {
    Object.assign(T, { cpId, seq: 0, frames: 0, entries: [], pending: new Map(), actionOf: new Map(), actions: new Set(), paused: false, held: [], stale: new Set() });
    $('trace').replaceChildren();
    const all = el('option', { text: 'All actions' });
    all.value = '';
    $('trace-action').replaceChildren(all);
    $('trace-type').value = '';
    $('trace-dir').value = '';
    $('trace-pause').textContent = 'Pause';
    $('trace-pause').setAttribute('aria-pressed', 'false');
    traceInfo();
  }
  function traceState(text, cls) {
    $('trace-state').textContent = text;
    $('trace-state').className = 'pill ' + (cls || '');
  }
  /** One frame as the trace shows it; the text stays as sent (the download has it). */
  function parseFrame(ev) {
    const x = { seq: ++T.seq, at: ev.at, direction: ev.direction === 'in' ? 'in' : 'out', text: String(ev.text), kind: 'malformed', messageId: null, action: null, frame: undefined, payload: undefined, errorCode: null, errorDescription: null, details: undefined };
    let f;
    try { f = JSON.parse(x.text); } catch (e) { return x; }
    if (!Array.isArray(f) || typeof f[1] !== 'string') return x;
    const kind = { 2: 'CALL', 3: 'CALLRESULT', 4: 'CALLERROR', 5: 'CALLRESULTERROR', 6: 'SEND' }[f[0]];
    if (!kind) return x;
    x.kind = kind;
    x.frame = f;
    x.messageId = f[1];
    if (kind === 'CALL' || kind === 'SEND') { x.action = String(f[2]); x.payload = f[3]; }
    else if (kind === 'CALLRESULT') x.payload = f[2];
    else { x.errorCode = f[2]; x.errorDescription = f[3]; x.details = f[4]; }
    return x;
  }
  function onFrame(ev) {
    const x = parseFrame(ev);
    T.frames++;
    if (x.kind === 'CALLRESULT' || x.kind === 'CALLERROR') {
      // An answer travels the other way from its CALL, with the same messageId.
      const k = (x.direction === 'in' ? 'out' : 'in') + ' ' + x.messageId;
      const entry = T.pending.get(k);
      if (entry) {
        T.pending.delete(k);
        x.action = entry.first.action;
        entry.answer = x;
        if (entry.node) { if (T.paused) T.stale.add(entry); else renderAnswer(entry); }
        traceInfo();
        return;
      }
    }
    if (x.messageId !== null && !x.action) x.action = T.actionOf.get(x.messageId) || null;
    const entry = { first: x, answer: null, node: null };
    if (x.kind === 'CALL') {
      T.pending.set(x.direction + ' ' + x.messageId, entry);
      T.actionOf.set(x.messageId, x.action);
      if (T.actionOf.size > 2 * TRACE_KEEP) T.actionOf.delete(T.actionOf.keys().next().value);
    }
    if (x.action && !T.actions.has(x.action) && T.actions.size < 500) addActionOption(x.action);
    T.entries.push(entry);
    while (T.entries.length > TRACE_KEEP) dropOldest();
    if (T.paused) T.held.push(entry);
    else renderEntry(entry);
    traceInfo();
  }
  function dropOldest() {
    const e = T.entries.shift();
    if (e.node) e.node.remove();
    const k = e.first.direction + ' ' + e.first.messageId;
    if (T.pending.get(k) === e) T.pending.delete(k);
    const i = T.held.indexOf(e);
    if (i >= 0) T.held.splice(i, 1);
    T.stale.delete(e);
  }
  function addActionOption(action) {
    T.actions.add(action);
    const sel = $('trace-action');
    const o = el('option', { text: action });
    o.value = action;
    const after = [...sel.options].slice(1).find((opt) => opt.value > action);
    sel.insertBefore(o, after || null);
  }
  function visible(e) {
    const action = $('trace-action').value, type = $('trace-type').value, dir = $('trace-dir').value;
    if (action && e.first.action !== action) return false;
    if (dir && e.first.direction !== dir) return false;
    if (!type) return true;
    const kinds = [e.first.kind, e.answer ? e.answer.kind : null];
    if (type === 'unanswered') return e.first.kind === 'CALL' && !e.answer;
    if (type === 'CALLERROR') return kinds.includes('CALLERROR') || kinds.includes('CALLRESULTERROR');
    return kinds.includes(type);
  }
  function applyFilter() {
    for (const e of T.entries) if (e.node) e.node.hidden = !visible(e);
    traceInfo();
  }
  $('trace-action').onchange = applyFilter;
  $('trace-type').onchange = applyFilter;
  $('trace-dir').onchange = applyFilter;
  function traceInfo() {
    const filtered = $('trace-action').value || $('trace-type').value || $('trace-dir').value;
    let shownCount = 0;
    for (const e of T.entries) if (e.node && !e.node.hidden) shownCount++;
    const parts = [T.frames + (T.frames === 1 ? ' frame' : ' frames')];
    if (filtered) parts.push(shownCount + ' shown by the filter');
    if (T.paused) parts.push('paused: ' + T.held.length + ' new held until you resume');
    $('trace-info').textContent = parts.join(' · ');
  }
  $('trace-pause').onclick = () => {
    T.paused = !T.paused;
    $('trace-pause').textContent = T.paused ? 'Resume' : 'Pause';
    $('trace-pause').setAttribute('aria-pressed', String(T.paused));
    if (!T.paused) {
      for (const e of T.stale) if (e.node) renderAnswer(e);
      T.stale.clear();
      const held = T.held;
      T.held = [];
      for (const e of held) renderEntry(e);
    }
    traceInfo();
  };
  $('trace-clear').onclick = () => { const paused = T.paused; traceReset(T.cpId); if (paused) $('trace-pause').click(); };

  /** Pretty JSON as lines, each indented by padding so that a wrapped line keeps its indent. */
  function jsonBlock(value) {
    const text = JSON.stringify(value === undefined ? null : value, (k, v) => (typeof v === 'string' && v.length > LONG_STRING ? v.slice(0, LONG_STRING) + '… [' + (v.length - LONG_STRING) + ' more characters in the download]' : v), 2);
    const lines = text.split('\n');
    const out = el('div', { cls: 'json' });
    for (const line of lines.slice(0, MAX_LINES)) {
      const indent = line.length - line.trimStart().length;
      const l = el('div', { cls: 'jl', text: line.trimStart() });
      l.style.paddingLeft = (indent + 2) + 'ch';
      out.append(l);
    }
    if (lines.length > MAX_LINES) out.append(el('div', { cls: 'jl more', text: '… ' + (lines.length - MAX_LINES) + ' more lines in the download' }));
    return out;
  }
  function frameHead(x, callAt) {
    const err = x.kind === 'CALLERROR' || x.kind === 'CALLRESULTERROR' || x.kind === 'malformed';
    return el('div', { cls: 'head' }, [
      el('span', { cls: 'dir', text: x.direction === 'in' ? 'from CP' : 'to CP' }),
      el('span', { cls: 'time', text: localTime(x.at) }),
      el('span', { cls: 'kind' + (err ? ' err' : ''), text: KIND_LABEL[x.kind] }),
      x.action ? el('b', { cls: 'action', text: x.action }) : null,
      callAt ? el('span', { cls: 'latency', text: 'after ' + Math.max(0, Date.parse(x.at) - Date.parse(callAt)) + ' ms' }) : null,
      x.messageId !== null ? el('span', { cls: 'mid', text: x.messageId, title: 'messageId' }) : null,
    ]);
  }
  function frameBody(x) {
    if (x.kind === 'malformed') return el('pre', { cls: 'raw', text: x.text.length > 4000 ? x.text.slice(0, 4000) + '… [' + (x.text.length - 4000) + ' more characters in the download]' : x.text });
    if (x.kind === 'CALLERROR' || x.kind === 'CALLRESULTERROR') {
      const hasDetails = x.details && typeof x.details === 'object' && Object.keys(x.details).length > 0;
      return el('div', null, [
        el('div', { cls: 'errline' }, [el('b', { text: String(x.errorCode) }), x.errorDescription ? el('span', { text: ' ' + String(x.errorDescription) }) : null]),
        hasDetails ? jsonBlock(x.details) : null,
      ]);
    }
    return jsonBlock(x.payload);
  }
  function answerNode(e) {
    if (!e.answer) return el('div', { cls: 'answer wait', text: 'waiting for the answer…' });
    const a = e.answer;
    return el('div', { cls: 'answer ' + a.direction + (a.kind === 'CALLRESULT' ? ' ok' : ' err') }, [frameHead(a, e.first.at), frameBody(a)]);
  }
  function renderEntry(e) {
    const x = e.first;
    const node = el('div', { cls: 'entry ' + x.direction }, [frameHead(x), frameBody(x), x.kind === 'CALL' ? answerNode(e) : null]);
    e.node = node;
    T.byNode.set(node, e);
    node.hidden = !visible(e);
    const box = $('trace');
    const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 8;
    box.append(node);
    while (box.childElementCount > TRACE_DOM) {
      const old = box.firstElementChild;
      const oe = T.byNode.get(old);
      if (oe) oe.node = null;
      old.remove();
    }
    if (atBottom) box.scrollTop = box.scrollHeight;
  }
  function renderAnswer(e) {
    e.node.replaceChild(answerNode(e), e.node.lastElementChild);
    e.node.hidden = !visible(e);
  }
  /** The frames the filter shows (each exchange's request and answer), one JSON object a line. */
  $('trace-download').onclick = () => {
    const frames = [];
    for (const e of T.entries) if (visible(e)) { frames.push(e.first); if (e.answer) frames.push(e.answer); }
    frames.sort((a, b) => a.seq - b.seq);
    const lines = frames.map((x) => JSON.stringify(x.frame === undefined
      ? { at: x.at, cpId: T.cpId, direction: x.direction, type: x.kind, text: x.text }
      : { at: x.at, cpId: T.cpId, direction: x.direction, type: x.kind, messageId: x.messageId, action: x.action, frame: x.frame }));
    const blob = new Blob([lines.join('\n') + (lines.length ? '\n' : '')], { type: 'application/x-ndjson' });
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = 'trace-' + String(T.cpId).replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 64) + '-' + new Date().toISOString().replace(/[:.]/g, '-') + '.jsonl';
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  };
  function openTrace() {
    const cpId = cpv.cpId;
    const src = new EventSource('/api/v1/clients/' + encodeURIComponent(cpId) + '/trace' + (key ? '?api_key=' + encodeURIComponent(key) : ''));
    cpv.source = src;
    traceState('connecting…');
    src.addEventListener('hello', () => traceState('live', 'ok'));
    src.addEventListener('frame', (e) => onFrame(JSON.parse(e.data)));
    src.addEventListener('end', () => {
      src.close();
      if (cpv.source !== src) return;
      cpv.source = null;
      traceState('ended: disconnected', 'bad');
      quiet(detail);
    });
    src.onerror = () => {
      if (src.readyState !== EventSource.CLOSED || cpv.source !== src) return;
      cpv.source = null;
      traceState('unavailable', 'bad');
    };
  }
  function showCp(cpId) {
    cpv.cpId = cpId;
    cpv.connected = null;
    cpv.protocol = null;
    cpv.actionsFor = null;
    cpv.templates = {};
    $('cp-title').textContent = shown(cpId);
    $('cp-state').textContent = '';
    $('cp-state').className = 'pill';
    $('cp-gone').hidden = true;
    $('action').replaceChildren();
    $('action-note').textContent = '';
    $('payload').value = '{}';
    $('call-result').textContent = '';
    $('call-status').textContent = '';
    traceReset(cpId);
    traceState('');
    quiet(detail);
    detailTimer = setInterval(() => quiet(detail), DETAIL_MS);
  }

  function route() {
    clearInterval(listTimer);
    clearInterval(detailTimer);
    if (cpv.source) { cpv.source.close(); cpv.source = null; }
    cpv.cpId = null;
    let cpId = null;
    const m = /^#cp=(.+)$/.exec(location.hash);
    if (m) { try { cpId = decodeURIComponent(m[1]); } catch (e) { cpId = null; } }
    $('list-view').hidden = cpId !== null;
    $('cp-view').hidden = cpId === null;
    if (cpId !== null) showCp(cpId);
    else { quiet(loadList); listTimer = setInterval(() => quiet(loadList), LIST_MS); }
  }
  window.addEventListener('hashchange', route);
  quiet(refreshStats);
  setInterval(() => quiet(refreshStats), STATS_MS);
  route();
})();
`;
