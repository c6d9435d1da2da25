// The dashboard: one self-contained page (no CDN, no build step) on top of the HTTP API. Lists are
// paginated on the server, so 10,000 connected charge points cost one page of rows. Everything a
// charge point controls (ids, frames) is inserted as text, never as HTML, and through shown(), which
// turns control and bidi characters into visible escapes (a cpId with U+202E must not reorder the
// row it is in). [SPEC §8]
import { SHOWN_JS } from './escape.js';

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ocpp-gateway</title>
<style>
  :root { --fg:#1d232a; --muted:#5b6673; --line:#dde2e7; --bg:#f6f8fa; --accent:#0b6bcb; --ok:#1a7f37; --bad:#c62828; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; color:var(--fg); background:var(--bg); }
  header { display:flex; gap:24px; align-items:center; padding:10px 20px; background:#fff; border-bottom:1px solid var(--line); }
  header h1 { font-size:16px; margin:0; }
  header a { color:inherit; text-decoration:none; }
  .stat { color:var(--muted); } .stat b { color:var(--fg); font-variant-numeric:tabular-nums; }
  main { padding:16px 20px; max-width:1200px; }
  table { width:100%; border-collapse:collapse; background:#fff; border:1px solid var(--line); }
  th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); white-space:nowrap; }
  th { font-weight:600; color:var(--muted); font-size:12px; text-transform:uppercase; }
  td.num { text-align:right; font-variant-numeric:tabular-nums; }
  a { color:var(--accent); }
  .bar { display:flex; gap:10px; align-items:center; margin-bottom:10px; }
  input, select, textarea, button { font:inherit; }
  input[type=search] { padding:5px 8px; width:260px; }
  button { padding:5px 12px; border:1px solid var(--line); background:#fff; border-radius:4px; cursor:pointer; }
  button.primary { background:var(--accent); color:#fff; border-color:var(--accent); }
  .grid { display:grid; grid-template-columns: 1fr 1fr; gap:16px; align-items:start; }
  .card { background:#fff; border:1px solid var(--line); border-radius:4px; padding:12px; }
  .card h2 { font-size:14px; margin:0 0 8px; }
  dl { display:grid; grid-template-columns:max-content 1fr; gap:4px 12px; margin:0; }
  dt { color:var(--muted); }
  textarea { width:100%; min-height:120px; font-family:ui-monospace, monospace; font-size:12px; }
  #trace { height:420px; overflow:auto; font-family:ui-monospace, monospace; font-size:12px; background:#0f1720; color:#d7dee6; padding:8px; border-radius:4px; }
  #trace div { white-space:pre-wrap; word-break:break-all; padding:1px 0; }
  #trace .in::before { content:"\\2190 CP  "; color:#7cc4ff; }
  #trace .out::before { content:"\\2192 CP  "; color:#ffd479; }
  .muted { color:var(--muted); } .ok { color:var(--ok); } .bad { color:var(--bad); }
  pre { white-space:pre-wrap; word-break:break-all; margin:8px 0 0; font-size:12px; }
  #keybox { display:none; } #keybox.show { display:flex; }
</style>
</head>
<body>
<header>
  <h1><a href="#">ocpp-gateway</a></h1>
  <span class="stat">connected <b id="s-conn">–</b></span>
  <span class="stat">frames in/s <b id="s-in">–</b></span>
  <span class="stat">frames out/s <b id="s-out">–</b></span>
  <span class="stat">broker <b id="s-broker">–</b></span>
</header>
<main>
  <div class="bar" id="keybox"><span>API key</span><input id="key" type="password" autocomplete="off"><button id="key-save">Use</button></div>
  <section id="list-view">
    <div class="bar">
      <input id="search" type="search" placeholder="Search charge point id" aria-label="Search charge point id">
      <span class="muted" id="count"></span>
      <span style="flex:1"></span>
      <button id="prev">&larr; Prev</button><span id="page" class="muted"></span><button id="next">Next &rarr;</button>
    </div>
    <table>
      <thead><tr><th>Charge point</th><th>Protocol</th><th>Since</th><th>Last seen</th><th class="num">Frames in</th><th class="num">Frames out</th><th class="num">Queue</th></tr></thead>
      <tbody id="rows"></tbody>
    </table>
  </section>
  <section id="cp-view" hidden>
    <p><a href="#">&larr; All charge points</a></p>
    <div class="grid">
      <div>
        <div class="card"><h2 id="cp-title"></h2><dl id="cp-info"></dl></div>
        <div class="card" style="margin-top:16px">
          <h2>Send a CALL</h2>
          <form id="call-form">
            <div class="bar"><label for="action">Action</label><select id="action"></select></div>
            <textarea id="payload" aria-label="Payload (JSON)">{}</textarea>
            <div class="bar" style="margin-top:8px"><button class="primary" type="submit" id="send">Send</button><span id="call-status" class="muted"></span></div>
            <pre id="call-result"></pre>
          </form>
        </div>
      </div>
      <div class="card"><h2>Live trace <span id="trace-state" class="muted"></span></h2><div id="trace" aria-live="polite"></div></div>
    </div>
  </section>
</main>
<script>
(() => {
  const $ = (id) => document.getElementById(id);
  ${SHOWN_JS}
  function shownJson(value) { return JSON.stringify(value, null, 2).split('\\n').map(shown).join('\\n'); }
  const PAGE = 50;
  let page = 1, key = sessionStorage.getItem('ocpp-gw-key') || '', source = null, lastStats = null, listTimer = null, detailTimer = null;

  async function api(path, init = {}) {
    const headers = Object.assign({ 'content-type': 'application/json' }, init.headers || {});
    if (key) headers.authorization = 'Bearer ' + key;
    const res = await fetch(path, Object.assign({}, init, { headers }));
    if (res.status === 401) { $('keybox').classList.add('show'); throw new Error('API key required'); }
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  }
  $('key-save').onclick = () => { key = $('key').value; sessionStorage.setItem('ocpp-gw-key', key); $('keybox').classList.remove('show'); route(); };

  function sumOf(v) { return typeof v === 'number' ? v : Object.values(v || {}).reduce((a, b) => a + b, 0); }
  function framesBy(dir, stats) { let n = 0; for (const [k, v] of Object.entries(stats.frames_total || {})) if (k.startsWith(dir + ',')) n += v; return n; }
  async function refreshStats() {
    try {
      const { body } = await api('/api/v1/stats');
      $('s-conn').textContent = String(sumOf(body.connections));
      $('s-broker').textContent = body.broker_connected === 1 ? 'up' : 'down';
      $('s-broker').className = body.broker_connected === 1 ? 'ok' : 'bad';
      const now = performance.now();
      if (lastStats) {
        const dt = (now - lastStats.at) / 1000;
        $('s-in').textContent = ((framesBy('in', body) - lastStats.in) / dt).toFixed(1);
        $('s-out').textContent = ((framesBy('out', body) - lastStats.out) / dt).toFixed(1);
      }
      lastStats = { at: now, in: framesBy('in', body), out: framesBy('out', body) };
    } catch (e) { /* shown by the key box */ }
  }

  function cell(text, cls) { const td = document.createElement('td'); td.textContent = shown(text); if (cls) td.className = cls; return td; }
  function ago(iso) { const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000)); return s < 60 ? s + ' s ago' : s < 3600 ? Math.round(s / 60) + ' min ago' : Math.round(s / 3600) + ' h ago'; }

  async function loadList() {
    const q = new URLSearchParams({ page: String(page), limit: String(PAGE) });
    const like = $('search').value.trim();
    if (like) q.set('like', like);
    const { body } = await api('/api/v1/clients?' + q);
    const rows = body.data.map((c) => {
      const tr = document.createElement('tr');
      const td = document.createElement('td');
      const a = document.createElement('a');
      a.href = '#cp=' + encodeURIComponent(c.cpId);
      a.textContent = shown(c.cpId);
      td.appendChild(a);
      tr.append(td, cell(c.protocol), cell(new Date(c.connectedAt).toLocaleString()), cell(ago(c.lastSeenAt)), cell(String(c.counters.framesIn), 'num'), cell(String(c.counters.framesOut), 'num'), cell(String(c.queueLength), 'num'));
      return tr;
    });
    $('rows').replaceChildren(...rows);
    const pages = Math.max(1, Math.ceil(body.meta.count / PAGE));
    $('count').textContent = body.meta.count + ' connected';
    $('page').textContent = page + ' / ' + pages;
    $('prev').disabled = page <= 1;
    $('next').disabled = page >= pages;
  }
  $('search').oninput = () => { page = 1; loadList(); };
  $('prev').onclick = () => { page = Math.max(1, page - 1); loadList(); };
  $('next').onclick = () => { page++; loadList(); };

  function traceLine(cls, text) {
    const box = $('trace');
    const div = document.createElement('div');
    div.className = cls;
    div.textContent = shown(text);
    const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 4;
    box.appendChild(div);
    while (box.childNodes.length > 500) box.removeChild(box.firstChild);
    if (atBottom) box.scrollTop = box.scrollHeight;
  }

  async function showCp(cpId) {
    $('cp-title').textContent = shown(cpId);
    $('trace').replaceChildren();
    $('call-result').textContent = '';
    $('call-status').textContent = '';
    const detail = async () => {
      const { status, body } = await api('/api/v1/clients/' + encodeURIComponent(cpId));
      if (status === 404) { $('cp-info').replaceChildren(); $('trace-state').textContent = '(not connected)'; return null; }
      const rows = [['Protocol', body.protocol], ['Remote address', body.remoteAddress], ['Username', body.username || '–'], ['Connected', new Date(body.connectedAt).toLocaleString()], ['Last seen', ago(body.lastSeenAt)], ['Heartbeat', body.heartbeatInterval == null ? '–' : body.heartbeatInterval + ' s'], ['In flight', 'up ' + body.inflight.up + ', down ' + body.inflight.down], ['Queue', String(body.queueLength)], ['Frames', body.counters.framesIn + ' in, ' + body.counters.framesOut + ' out']];
      $('cp-info').replaceChildren(...rows.flatMap(([k, v]) => { const dt = document.createElement('dt'); dt.textContent = k; const dd = document.createElement('dd'); dd.style.margin = '0'; dd.textContent = shown(v); return [dt, dd]; }));
      return body;
    };
    const info = await detail();
    detailTimer = setInterval(detail, 3000);
    if (!info) return;
    const { body: acts } = await api('/api/v1/actions?protocol=' + encodeURIComponent(info.protocol));
    $('action').replaceChildren(...acts.actions.map((a) => { const o = document.createElement('option'); o.value = a; o.textContent = shown(a); return o; }));
    const url = '/api/v1/clients/' + encodeURIComponent(cpId) + '/trace' + (key ? '?api_key=' + encodeURIComponent(key) : '');
    source = new EventSource(url);
    source.addEventListener('hello', () => { $('trace-state').textContent = '(live)'; });
    source.addEventListener('frame', (e) => { const f = JSON.parse(e.data); traceLine(f.direction, f.at.slice(11, 23) + '  ' + f.text); });
    source.addEventListener('end', () => { $('trace-state').textContent = '(disconnected)'; source.close(); });
  }

  $('call-form').onsubmit = async (ev) => {
    ev.preventDefault();
    const cpId = decodeURIComponent(location.hash.slice(4));
    let payload;
    try { payload = JSON.parse($('payload').value); } catch (e) { $('call-status').textContent = 'Payload is not valid JSON: ' + e.message; $('call-status').className = 'bad'; return; }
    if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) { $('call-status').textContent = 'Payload must be a JSON object'; $('call-status').className = 'bad'; return; }
    $('send').disabled = true;
    $('call-status').textContent = 'waiting for the charge point…';
    $('call-status').className = 'muted';
    try {
      const { status, body } = await api('/api/v1/clients/' + encodeURIComponent(cpId) + '/calls', { method: 'POST', body: JSON.stringify({ action: $('action').value, payload }) });
      $('call-status').textContent = shown(status === 200 ? 'answered' : 'HTTP ' + status + (body.errorCode ? ' ' + body.errorCode : ''));
      $('call-status').className = status === 200 ? 'ok' : 'bad';
      $('call-result').textContent = shownJson(status === 200 ? body.result : body);
    } finally { $('send').disabled = false; }
  };

  function route() {
    if (source) { source.close(); source = null; }
    clearInterval(listTimer); clearInterval(detailTimer);
    const m = /^#cp=(.+)$/.exec(location.hash);
    $('list-view').hidden = !!m;
    $('cp-view').hidden = !m;
    if (m) showCp(decodeURIComponent(m[1]));
    else { loadList(); listTimer = setInterval(loadList, 3000); }
  }
  window.addEventListener('hashchange', route);
  refreshStats();
  setInterval(refreshStats, 2000);
  route();
})();
</script>
</body>
</html>
`;
