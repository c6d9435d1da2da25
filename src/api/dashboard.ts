// The dashboard: one self-contained page (no CDN, no build step, no external asset) on top of the HTTP
// API. Lists are paginated on the server, so 10,000 connected charge points cost one page of rows.
// Everything a charge point controls (ids, facts, frames) is inserted as text, never as HTML, and
// through shown(), which turns control, bidi and invisible characters into visible escapes (a cpId
// with U+202E must not reorder the row it is in). The page runs only its own script and style: the
// Content-Security-Policy names them by hash. [SPEC §8] [SPEC §9]
import { createHash } from 'node:crypto';
import { DASHBOARD_SCRIPT } from './dashboard-script.js';

const STYLE = String.raw`
  :root { --fg:#1d232a; --muted:#57606a; --line:#d8dee4; --bg:#f6f8fa; --card:#fff; --accent:#0b6bcb; --ok:#1a7f37; --bad:#cf222e; --warn:#9a6700; --in:#0b6bcb; --out:#bc4c00; --conn:#1a7f37; }
  * { box-sizing:border-box; }
  [hidden] { display:none !important; }
  body { margin:0; font:14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
  a { color:var(--accent); }
  header { display:flex; flex-wrap:wrap; gap:6px 20px; align-items:center; padding:10px 20px; background:#fff; border-bottom:1px solid var(--line); }
  header h1 { font-size:16px; margin:0; }
  header h1 a { color:inherit; text-decoration:none; }
  .stats { display:flex; flex-wrap:wrap; gap:4px 16px; }
  .stat { color:var(--muted); white-space:nowrap; }
  .stat .v { color:var(--fg); font-weight:600; font-variant-numeric:tabular-nums; }
  header nav { margin-left:auto; display:flex; gap:14px; white-space:nowrap; }
  .pill { display:inline-block; padding:0 8px; border-radius:10px; font-size:12px; font-weight:600; line-height:20px; background:#eaeef2; color:var(--muted); white-space:nowrap; }
  .pill:empty { display:none; }
  .pill.ok { background:var(--ok); color:#fff; }
  .pill.bad { background:var(--bad); color:#fff; }
  .pill.warn { background:#fff1c2; color:var(--warn); }
  main { padding:16px 20px; max-width:1440px; margin:0 auto; }
  .card { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:12px; margin-bottom:16px; min-width:0; }
  h2 { font-size:15px; margin:0; }
  h3 { font-size:14px; margin:0 0 8px; }
  .bar { display:flex; flex-wrap:wrap; gap:8px; align-items:center; margin-bottom:10px; }
  .grow { flex:1; }
  .muted { color:var(--muted); } .ok { color:var(--ok); } .bad { color:var(--bad); }
  .small { font-size:12px; }
  .banner { padding:8px 12px; border-radius:6px; margin-bottom:16px; background:#ffebe9; border:1px solid #ffc1ba; color:var(--bad); }
  .keybox form { display:flex; flex-wrap:wrap; gap:8px; align-items:center; }
  .keybox p { margin:8px 0 0; }
  .overview { display:grid; grid-template-columns:repeat(auto-fit, minmax(min(100%, 420px), 1fr)); gap:16px; margin-bottom:16px; align-items:start; }
  .overview .card { margin:0; }
  .overview .counters { grid-column:1 / -1; }
  .legend { display:flex; flex-wrap:wrap; gap:4px 14px; font-size:12px; color:var(--muted); margin:4px 0 6px; }
  .legend b { color:var(--fg); font-variant-numeric:tabular-nums; }
  .key::before { content:""; display:inline-block; width:12px; height:3px; margin-right:5px; vertical-align:middle; background:currentColor; }
  .key.in { color:var(--in); } .key.out { color:var(--out); } .key.conn { color:var(--conn); }
  .chart { display:block; width:100%; height:70px; background:#fbfcfd; border-radius:3px; }
  .chart .line { fill:none; stroke-width:1.6; vector-effect:non-scaling-stroke; stroke-linejoin:round; }
  .chart .area { stroke:none; opacity:.12; }
  .chart .axis, .chart .grid { stroke:var(--line); stroke-width:1; vector-effect:non-scaling-stroke; }
  .chart .grid { stroke-dasharray:3 3; }
  .chart .line.in { stroke:var(--in); } .chart .area.in { fill:var(--in); }
  .chart .line.out { stroke:var(--out); } .chart .area.out { fill:var(--out); }
  .chart .line.conn { stroke:var(--conn); } .chart .area.conn { fill:var(--conn); }
  .tiles { display:grid; grid-template-columns:repeat(auto-fit, minmax(140px, 1fr)); gap:8px; }
  .tile { border:1px solid var(--line); border-radius:4px; padding:4px 8px; min-width:0; }
  .tile .n { font-size:18px; font-weight:600; font-variant-numeric:tabular-nums; }
  .tile .n .d { font-size:12px; }
  .tile .l { font-size:12px; color:var(--muted); white-space:nowrap; overflow:hidden; text-overflow:ellipsis; }
  .tile.hot { border-color:#ffc1ba; background:#fff5f4; }
  .tile.hot .n { color:var(--bad); }
  table { width:100%; border-collapse:collapse; }
  th, td { text-align:left; padding:6px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
  th { font-weight:600; color:var(--muted); font-size:12px; text-transform:uppercase; white-space:nowrap; }
  td.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
  td.id a { font-weight:600; overflow-wrap:anywhere; }
  td.act { text-align:right; }
  td.empty { text-align:center; padding:14px; }
  .badge { display:inline-block; margin:1px 4px 1px 0; padding:0 6px; border-radius:3px; font-size:12px; border:1px solid var(--line); background:#f6f8fa; white-space:nowrap; }
  .st-ok { background:#dafbe1; border-color:#aceebb; color:#116329; }
  .st-busy { background:#ddf4ff; border-color:#b6e3ff; color:#0a4f9e; }
  .st-warn { background:#fff8c5; border-color:#f2dc84; color:var(--warn); }
  .st-bad { background:#ffebe9; border-color:#ffc1ba; color:var(--bad); }
  .st-off { background:#eaeef2; color:var(--muted); }
  button { font:inherit; padding:5px 12px; border:1px solid #c9d1d9; background:#fff; border-radius:4px; cursor:pointer; color:var(--fg); }
  button:disabled { opacity:.45; cursor:not-allowed; }
  button.primary { background:var(--accent); color:#fff; border-color:var(--accent); }
  button.danger { color:var(--bad); border-color:#f1b5b5; }
  button.danger.solid { background:var(--bad); color:#fff; border-color:var(--bad); }
  button.small { padding:1px 8px; font-size:12px; }
  input, select, textarea { font:inherit; padding:5px 8px; border:1px solid #c9d1d9; border-radius:4px; background:#fff; color:var(--fg); max-width:100%; }
  input[type=search] { width:260px; }
  select { min-width:0; }
  .cp-head { display:flex; flex-wrap:wrap; gap:8px 12px; align-items:center; margin-bottom:12px; }
  .cp-head h2 { font-size:18px; overflow-wrap:anywhere; min-width:0; }
  .grid { display:grid; grid-template-columns:minmax(0, 5fr) minmax(0, 7fr); gap:16px; align-items:start; }
  dl { display:grid; grid-template-columns:max-content minmax(0, 1fr); gap:4px 12px; margin:0 0 8px; }
  dt { color:var(--muted); }
  dd { margin:0; overflow-wrap:anywhere; }
  .mono, textarea, pre, .json { font-family:ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size:12px; }
  textarea { width:100%; min-height:180px; }
  pre { white-space:pre-wrap; overflow-wrap:anywhere; margin:0; }
  #call-result { margin-top:8px; background:#f6f8fa; padding:8px; border-radius:4px; }
  #call-result:empty { display:none; }
  .trace-tools select { max-width:180px; }
  #trace { height:600px; overflow:auto; background:#0f1720; color:#d7dee6; border-radius:4px; padding:6px; }
  .entry { border-left:3px solid #3b4652; padding:4px 8px 6px; margin:0 0 6px; background:#16212d; border-radius:0 4px 4px 0; }
  .entry.in { border-left-color:#6cb6ff; }
  .entry.out { border-left-color:#f0b54a; }
  .head { display:flex; flex-wrap:wrap; gap:2px 10px; align-items:baseline; font-size:12px; min-width:0; }
  .head .dir { font-weight:700; }
  .entry.in > .head .dir, .answer.in .dir { color:#6cb6ff; }
  .entry.out > .head .dir, .answer.out .dir { color:#f0b54a; }
  .head .time, .head .mid, .head .latency { color:#8b98a5; font-variant-numeric:tabular-nums; }
  .head .mid { overflow-wrap:anywhere; min-width:0; }
  .head .kind { font-size:11px; padding:0 5px; border-radius:3px; background:#263241; color:#c5d1dc; }
  .head .kind.err { background:#5c1d22; color:#ffb4b4; }
  .head .action { color:#fff; }
  .json { margin-top:2px; color:#d7dee6; }
  .jl { white-space:pre-wrap; overflow-wrap:anywhere; text-indent:-2ch; }
  .jl.more { color:#8b98a5; font-style:italic; }
  pre.raw { color:#ffb4b4; margin-top:2px; }
  .errline { margin-top:2px; color:#ffb4b4; overflow-wrap:anywhere; }
  .answer { margin-top:6px; padding-top:5px; border-top:1px dashed #2f3d4c; }
  .answer.wait { color:#8b98a5; font-style:italic; font-size:12px; }
  #cp-gone { border-color:#ffc1ba; background:#fff5f4; color:var(--bad); }
  .notice { position:fixed; right:16px; bottom:16px; max-width:min(420px, calc(100vw - 32px)); padding:10px 14px; border-radius:6px; background:#fff; border:1px solid var(--line); box-shadow:0 4px 14px rgba(0,0,0,.12); overflow-wrap:anywhere; z-index:10; }
  .notice.ok { border-color:#aceebb; color:var(--ok); }
  .notice.bad { border-color:#ffc1ba; color:var(--bad); }
  dialog { border:1px solid var(--line); border-radius:8px; padding:16px; width:min(440px, calc(100vw - 32px)); }
  dialog p { margin:0 0 14px; overflow-wrap:anywhere; }
  dialog .bar { justify-content:flex-end; margin:0; }
  dialog::backdrop { background:rgba(15, 23, 32, .35); }
  @media (max-width: 960px) { .grid { grid-template-columns:minmax(0, 1fr); } }
  @media (max-width: 720px) {
    header { padding:8px 12px; gap:4px 12px; }
    header nav { margin-left:0; }
    main { padding:12px; }
    input[type=search] { width:100%; }
    table.stack thead { display:none; }
    table.stack, table.stack tbody { display:block; width:100%; }
    table.stack tr { display:grid; grid-template-columns:repeat(2, minmax(0, 1fr)); gap:4px 12px; padding:8px 0; border-bottom:1px solid var(--line); position:relative; }
    table.stack td { display:block; border:0; padding:0; text-align:left; white-space:normal; min-width:0; overflow-wrap:anywhere; }
    table.stack td[data-label]::before { content:attr(data-label); display:block; color:var(--muted); font-size:11px; text-transform:uppercase; }
    table.stack td.id, table.stack td.conns, table.stack td.empty { grid-column:1 / -1; }
    table.stack td.id { padding-right:64px; font-size:15px; }
    table.stack td.id::before { display:none; }
    table.stack td.act { position:absolute; top:8px; right:0; }
    table.stack td.empty { text-align:center; }
    #trace { height:460px; }
    .trace-tools select { max-width:none; flex:1 1 40%; }
  }
`;

const BODY = String.raw`
<header>
  <h1><a href="#">ocpp-gateway</a></h1>
  <div class="stats">
    <span class="stat">connected <span class="v" id="s-conn">–</span></span>
    <span class="stat">frames in <span class="v" id="s-in">–</span>/s</span>
    <span class="stat">out <span class="v" id="s-out">–</span>/s</span>
    <span class="stat">broker <span id="s-broker" class="pill">–</span></span>
  </div>
  <nav><a id="docs-link" href="/docs/">API docs (Swagger UI)</a><a id="openapi-link" href="/api/v1/openapi.json">OpenAPI</a></nav>
</header>
<main>
  <div id="offline" class="banner" role="alert" hidden>The gateway does not answer: the numbers below are stale.</div>
  <div id="keybox" class="card keybox" hidden>
    <form id="key-form">
      <label for="key">API key</label>
      <input id="key" type="password" autocomplete="off" spellcheck="false">
      <button type="submit" class="primary" id="key-save">Use key</button>
    </form>
    <p id="key-error" role="alert"></p>
  </div>
  <section id="list-view">
    <div class="overview">
      <div class="card">
        <h3>Frames per second</h3>
        <div class="legend"><span class="key in">in <b id="c-in">–</b></span><span class="key out">out <b id="c-out">–</b></span><span>scale 0–<span id="c-frames-top">1</span>/s, last <span class="c-span">0 s</span></span></div>
        <svg id="chart-frames" class="chart" viewBox="0 0 300 60" preserveAspectRatio="none" role="img" aria-label="Frames per second in and out"></svg>
      </div>
      <div class="card">
        <h3>Connected charge points</h3>
        <div class="legend"><span class="key conn">now <b id="c-conn">–</b></span><span>scale 0–<span id="c-conn-top">1</span>, last <span class="c-span">0 s</span></span></div>
        <svg id="chart-conn" class="chart" viewBox="0 0 300 60" preserveAspectRatio="none" role="img" aria-label="Connected charge points"></svg>
      </div>
      <div class="card counters">
        <h3>Errors and timeouts <span class="muted small">since the gateway started; +N: over the last <span class="c-span">0 s</span></span></h3>
        <div id="counters" class="tiles"></div>
      </div>
    </div>
    <div class="card">
      <div class="bar">
        <h2>Connected</h2>
        <span class="muted" id="count"></span>
        <input id="search" type="search" placeholder="Search charge point id" aria-label="Search charge point id">
        <span class="grow"></span>
        <button id="prev" type="button">&larr; Prev</button><span id="page" class="muted"></span><button id="next" type="button">Next &rarr;</button>
      </div>
      <table class="stack">
        <thead><tr><th>Charge point</th><th>Protocol</th><th>Vendor · model</th><th>Firmware</th><th>Connectors</th><th>Connected</th><th>Last seen</th><th class="num">Frames in / out</th><th class="num">Queue</th><th id="th-worker" title="ocpp.workers &gt; 1: the pid of the worker process serving it" hidden>Worker pid</th><th></th></tr></thead>
        <tbody id="rows"></tbody>
      </table>
    </div>
    <div class="card">
      <div class="bar"><h2>Recently disconnected</h2><span class="muted" id="gone-count"></span></div>
      <table class="stack">
        <thead><tr><th>Charge point</th><th>Protocol</th><th>Reason</th><th>Disconnected</th><th>Was connected</th><th>Vendor · model</th></tr></thead>
        <tbody id="gone-rows"></tbody>
      </table>
      <p class="muted small" id="gone-note"></p>
    </div>
  </section>
  <section id="cp-view" hidden>
    <p><a href="#">&larr; All charge points</a></p>
    <div class="cp-head"><h2 id="cp-title"></h2><span id="cp-state" class="pill"></span><span class="grow"></span><button id="cp-kick" class="danger" type="button" disabled>Kick</button></div>
    <p id="cp-gone" class="card" role="status" hidden></p>
    <div class="grid">
      <div>
        <div class="card"><h3>Connection</h3><dl id="cp-info"></dl></div>
        <div class="card">
          <h3>Charge point</h3>
          <dl id="cp-facts"></dl>
          <table class="stack">
            <thead id="cp-connectors-head"></thead>
            <tbody id="cp-connectors"></tbody>
          </table>
        </div>
        <div class="card">
          <h3>Send a CALL</h3>
          <form id="call-form">
            <div class="bar"><label for="action">Action</label><select id="action"></select><button type="button" id="template">Reset to template</button></div>
            <p class="muted small" id="action-note"></p>
            <textarea id="payload" spellcheck="false" aria-label="Payload (JSON)">{}</textarea>
            <div class="bar"><button class="primary" type="submit" id="send" disabled>Send</button><span id="call-status" class="muted" role="status"></span></div>
            <p class="bad small" id="send-note" hidden>Not connected: a CALL cannot be sent until the charge point is back.</p>
            <pre id="call-result"></pre>
          </form>
        </div>
      </div>
      <div class="card">
        <div class="bar"><h3>Live trace</h3><span id="trace-state" class="pill"></span></div>
        <div class="bar trace-tools">
          <button type="button" id="trace-pause" aria-pressed="false">Pause</button>
          <select id="trace-action" aria-label="Filter by action"></select>
          <select id="trace-type" aria-label="Filter by message type">
            <option value="">All types</option><option value="CALL">CALL</option><option value="CALLRESULT">CALLRESULT</option>
            <option value="CALLERROR">CALLERROR</option><option value="SEND">SEND</option><option value="unanswered">Unanswered CALLs</option><option value="malformed">Not OCPP-J</option>
          </select>
          <select id="trace-dir" aria-label="Filter by direction"><option value="">Both directions</option><option value="in">From the CP</option><option value="out">To the CP</option></select>
          <button type="button" id="trace-download">Download JSONL</button>
          <button type="button" id="trace-clear">Clear</button>
        </div>
        <p class="muted small" id="trace-info"></p>
        <div id="trace"></div>
      </div>
    </div>
  </section>
</main>
<div id="notice" class="notice" role="status" hidden></div>
<dialog id="confirm" aria-labelledby="confirm-text">
  <p id="confirm-text"></p>
  <div class="bar"><button id="confirm-cancel" type="button">Cancel</button><button id="confirm-ok" type="button" class="danger solid">Kick</button></div>
</dialog>
`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ocpp-gateway</title>
<style>${STYLE}</style>
</head>
<body>${BODY}<script>${DASHBOARD_SCRIPT}</script>
</body>
</html>
`;

/** The page may run its own script and style only, and talk to its own origin only. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `script-src ${sha256(DASHBOARD_SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');
