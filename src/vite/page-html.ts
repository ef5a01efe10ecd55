/**
 * The ledger page: one self-contained HTML document, no framework, no CDN, nothing fetched but
 * our own endpoints (the CSP in page.ts enforces it). Everything from the project (file and model
 * names, messages) reaches the DOM through `textContent` and attributes, never as HTML.
 * Written without template literals: it is itself one.
 */

export const PAGE_STYLE = String.raw`
:root { color-scheme: light dark; --fg: #1d2129; --muted: #6b7280; --line: #d8dce3; --bg: #fff; --accent: #2563eb; --warn-bg: #fff1c2; --warn-fg: #8a5a00; --bad: #c2410c; --ok: #15803d; }
@media (prefers-color-scheme: dark) {
  :root { --fg: #e6e8eb; --muted: #9aa3af; --line: #353a43; --bg: #16181c; --accent: #60a5fa; --warn-bg: #4a3a0c; --warn-fg: #fcd679; --bad: #fb923c; --ok: #4ade80; }
}
* { box-sizing: border-box; }
body { margin: 0; padding: 16px 24px 48px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; align-items: baseline; gap: 8px 16px; border-bottom: 1px solid var(--line); padding-bottom: 8px; }
h1 { font-size: 18px; margin: 0; }
h2 { font-size: 15px; margin: 24px 0 8px; }
#status { font-size: 12px; padding: 1px 8px; border-radius: 9px; border: 1px solid var(--line); color: var(--muted); }
#status.live { color: var(--ok); border-color: var(--ok); }
#summary { color: var(--muted); }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 0 24px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 3px 8px 3px 0; border-bottom: 1px solid var(--line); vertical-align: top; }
th { font-weight: 600; color: var(--muted); font-size: 12px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; word-break: break-all; }
tr.many td { background: var(--warn-bg); color: var(--warn-fg); font-weight: 600; }
.empty { color: var(--muted); font-style: italic; }
.verdict-ok { color: var(--ok); }
.verdict-leak { color: var(--bad); font-weight: 600; }
.verdict-unknown { color: var(--muted); }
ul.warnings { padding-left: 18px; margin: 0; }
ul.warnings li { margin: 2px 0; }
ol.retainer { margin: 0; padding-left: 22px; }
#chart svg { width: 100%; max-width: 960px; height: auto; display: block; }
#chart .axis { stroke: var(--line); }
#chart .label { fill: var(--muted); font-size: 11px; }
#chart .line { fill: none; stroke: var(--accent); stroke-width: 2; }
#chart .point { fill: var(--accent); }
#chart .point.leak { fill: var(--bad); }
#chart .point.failed { fill: var(--bg); stroke: var(--bad); stroke-width: 2; }
`;

export const PAGE_SCRIPT = String.raw`
'use strict';
(() => {
  // The page lives at /__orm-hmr or /__orm-hmr/; its endpoints next to it.
  const base = location.pathname.replace(/\/+$/, '');
  // The server's bound, from the history event: the page keeps what records.json would.
  let limit = 500;
  const MB = 1024 * 1024;
  const SVG = 'http://www.w3.org/2000/svg';
  let records = [];

  // Builders: strings always become text nodes, so nothing from the project is parsed as HTML.
  function append(node, children) {
    for (const child of [].concat(children == null ? [] : children)) {
      if (child == null || child === false) continue;
      node.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) if (value != null) node.setAttribute(key, String(value));
    return append(node, children);
  }
  function svg(tag, attrs, children) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) if (value != null) node.setAttribute(key, String(value));
    return append(node, children);
  }
  function fill(id, children) {
    const node = document.getElementById(id);
    node.replaceChildren();
    append(node, children);
  }
  function empty(text) {
    return el('p', { class: 'empty' }, text);
  }
  function table(head, rows) {
    return el('table', null, [
      el('thead', null, el('tr', null, head.map((h) => el('th', { class: h.num ? 'num' : null }, h.text)))),
      el('tbody', null, rows),
    ]);
  }
  function mb(bytes, signed) {
    if (typeof bytes !== 'number') return '';
    const text = (bytes / MB).toFixed(2) + ' MB';
    return signed && bytes >= 0 ? '+' + text : text;
  }
  function time(iso) {
    const date = new Date(iso);
    return isNaN(date) ? '' : date.toLocaleTimeString();
  }
  const last = () => records[records.length - 1];

  function render() {
    const latest = last();
    document.title = latest ? 'orm-hmr · reload #' + latest.reload : 'orm-hmr';
    renderSummary(latest);
    renderChart();
    renderGenerations(latest);
    renderSideEffects(latest);
    renderWarnings();
    renderReleased();
    renderRetainer();
    renderReloads();
  }

  function renderSummary(latest) {
    if (!latest) return fill('summary', 'no reload yet: edit a model file');
    const verdict = latest.verdict || 'unknown';
    fill('summary', [
      records.length + (records.length === 1 ? ' reload' : ' reloads') + ' · heap ' + mb(latest.heapUsed),
      latest.reload > 1 ? ' (' + mb(latest.heapDeltaFromFirst, true) + ' since #1)' : '',
      ' · verdict ',
      el('span', { class: 'verdict-' + verdict, id: 'verdict' }, verdict),
    ]);
  }

  function renderChart() {
    const W = 720, H = 240, L = 64, R = 16, T = 14, B = 34;
    const root = svg('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-label': 'Heap after GC per reload' });
    const list = records.filter((r) => typeof r.heapUsed === 'number');
    if (list.length === 0) return fill('chart', empty('The chart starts with the first reload.'));
    const values = list.map((r) => r.heapUsed / MB);
    let lo = Math.min(...values), hi = Math.max(...values);
    // At least 1 MB of range: GC noise of a few kB must not look like a cliff.
    if (hi - lo < 1) { const mid = (hi + lo) / 2; lo = mid - 0.5; hi = mid + 0.5; }
    const pad = (hi - lo) * 0.1; lo -= pad; hi += pad;
    const x = (i) => list.length === 1 ? (L + W - R) / 2 : L + (i * (W - L - R)) / (list.length - 1);
    const y = (v) => T + ((hi - v) / (hi - lo)) * (H - T - B);
    for (let k = 0; k <= 3; k++) {
      const v = lo + ((hi - lo) * k) / 3;
      root.appendChild(svg('line', { class: 'axis', x1: L, x2: W - R, y1: y(v), y2: y(v) }));
      root.appendChild(svg('text', { class: 'label', x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, v.toFixed(1) + ' MB'));
    }
    root.appendChild(svg('polyline', { class: 'line', points: list.map((r, i) => x(i).toFixed(1) + ',' + y(values[i]).toFixed(1)).join(' ') }));
    const step = Math.ceil(list.length / 12);
    list.forEach((r, i) => {
      const failed = r.failed && r.failed.length > 0;
      const title = 'reload #' + r.reload + ': ' + mb(r.heapUsed) + ' (' + mb(r.heapDelta, true) + ')' + (failed ? ', failed' : '');
      root.appendChild(svg('circle', {
        class: 'point' + (r.verdict === 'leak' ? ' leak' : '') + (failed ? ' failed' : ''),
        cx: x(i), cy: y(values[i]), r: list.length > 100 ? 2 : 4, 'data-reload': r.reload,
      }, svg('title', null, title)));
      // Every step-th reload number, and always the last, without crowding it.
      if ((i % step === 0 && i + step / 2 <= list.length - 1) || i === list.length - 1) {
        root.appendChild(svg('text', { class: 'label reload', x: x(i), y: H - B + 18, 'text-anchor': 'middle' }, '#' + r.reload));
      }
    });
    fill('chart', root);
  }

  // The reload that last re-evaluated each file and purged each model.
  function lastReloaded() {
    const models = {}, files = {};
    for (const r of records) {
      for (const p of r.purged || []) models[p.name] = r.reload;
      for (const f of r.files || []) files[f] = r.reload;
    }
    return { models, files };
  }

  function countTable(counts, reloadedAt, what) {
    const names = Object.keys(counts || {}).sort((a, b) => (counts[b] > 1) - (counts[a] > 1) || a.localeCompare(b));
    if (names.length === 0) return empty('No ' + what + ' tracked yet.');
    return table([{ text: what }, { text: 'generations', num: true }, { text: 'last reloaded', num: true }], names.map((name) =>
      el('tr', { class: counts[name] > 1 ? 'many' : null, 'data-name': name }, [
        el('td', { class: 'mono name' }, name),
        el('td', { class: 'num count' }, counts[name]),
        el('td', { class: 'num' }, reloadedAt[name] ? '#' + reloadedAt[name] : ''),
      ])));
  }

  function renderGenerations(latest) {
    const at = lastReloaded();
    fill('models', countTable(latest && latest.alive, at.models, 'model'));
    fill('files', countTable(latest && latest.generations, at.files, 'file'));
  }

  function renderSideEffects(latest) {
    const list = (latest && latest.sideEffects) || [];
    if (list.length === 0) return fill('side-effects', empty('No live timers, listeners, servers or sockets started by model files.'));
    fill('side-effects', table([{ text: 'kind' }, { text: 'file' }, { text: 'on' }, { text: 'live', num: true }], list.map((s) =>
      el('tr', { class: s.count > 1 ? 'many' : null }, [
        el('td', null, s.kind), el('td', { class: 'mono' }, s.file), el('td', { class: 'mono' }, s.target || ''), el('td', { class: 'num' }, s.count),
      ]))));
  }

  function renderWarnings() {
    const list = [];
    for (const r of records) for (const w of r.warnings || []) list.push({ reload: r.reload, w });
    if (list.length === 0) return fill('warnings', empty('No warnings.'));
    fill('warnings', el('ul', { class: 'warnings' }, list.reverse().map(({ reload, w }) =>
      el('li', { class: 'verdict-leak' }, ['#' + reload + ' ', el('span', { class: 'mono' }, w.kind + ' ' + w.subject), ': ' + w.message]))));
  }

  function renderReleased() {
    const list = [];
    for (const r of records) for (const x of r.released || []) list.push({ reload: r.reload, x });
    if (list.length === 0) return fill('released', empty('Nothing released yet.'));
    fill('released', table([{ text: 'reload', num: true }, { text: 'adapter' }, { text: 'name' }, { text: 'action' }], list.reverse().slice(0, 200).map(({ reload, x }) =>
      el('tr', null, [el('td', { class: 'num' }, '#' + reload), el('td', null, x.adapter), el('td', { class: 'mono' }, x.name), el('td', null, x.action)]))));
  }

  function renderRetainer() {
    const r = records.slice().reverse().find((r) => Array.isArray(r.retainerPath) && r.retainerPath.length > 0);
    if (!r) return fill('retainer', empty('No retainer path (recorded with the trace option when an old generation stays alive).'));
    fill('retainer', [el('p', null, 'At reload #' + r.reload + ', from a GC root to an old generation:'),
      el('ol', { class: 'retainer' }, r.retainerPath.map((step) => el('li', { class: 'mono' }, step)))]);
  }

  function renderReloads() {
    if (records.length === 0) return fill('reloads', empty('No reload yet.'));
    fill('reloads', table([
      { text: '#', num: true }, { text: 'time' }, { text: 'files' }, { text: 'purged' }, { text: 'heap', num: true },
      { text: 'Δ', num: true }, { text: 'verdict' }, { text: 'gc', num: true },
    ], records.slice(-100).reverse().map((r) => {
      const failed = r.failed || [];
      const verdict = r.verdict || 'unknown';
      return el('tr', { class: failed.length ? 'many' : null, 'data-reload': r.reload }, [
        el('td', { class: 'num' }, r.reload),
        el('td', null, time(r.time)),
        el('td', { class: 'mono' }, [(r.files || []).join(', '), failed.length ? ' (failed: ' + failed.join(', ') + ', kept previous)' : '']),
        el('td', { class: 'mono' }, (r.purged || []).map((p) => p.adapter + ':' + p.name).join(', ')),
        el('td', { class: 'num' }, mb(r.heapUsed)),
        el('td', { class: 'num' }, mb(r.heapDelta, true)),
        el('td', { class: 'verdict-' + verdict }, verdict),
        el('td', { class: 'num' }, r.gc ? Math.round(r.gcMs) + ' ms' : 'no GC'),
      ]);
    })));
  }

  function status(text, live) {
    const node = document.getElementById('status');
    node.textContent = text;
    node.className = live ? 'live' : '';
  }

  // The stream starts with the whole history, then one event per reload; after a reconnect
  // (a restarted dev server) the history replaces what we had.
  const events = new EventSource(base + '/events');
  events.addEventListener('history', (event) => {
    const history = JSON.parse(event.data);
    limit = history.limit;
    records = history.records;
    render();
  });
  events.addEventListener('record', (event) => {
    records.push(JSON.parse(event.data));
    if (records.length > limit) records.splice(0, records.length - limit);
    render();
  });
  events.addEventListener('open', () => status('live', true));
  // EventSource retries by itself while the server restarts; CLOSED means it was told to stop.
  events.addEventListener('error', () => status(events.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting…', false));
  render();
})();
`;

export const PAGE_HTML =
  '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n' +
  '<meta name="viewport" content="width=device-width, initial-scale=1">\n' +
  // No favicon request.
  '<link rel="icon" href="data:,">\n' +
  '<title>orm-hmr</title>\n<style>' + PAGE_STYLE + '</style>\n</head>\n<body>\n' +
  '<header><h1>orm-hmr</h1><span id="status">connecting…</span><span id="summary"></span></header>\n' +
  '<h2>Heap after GC, per reload</h2>\n<div id="chart"></div>\n' +
  '<div class="grid">\n' +
  '<section><h2>Live generations per model</h2><div id="models"></div></section>\n' +
  '<section><h2>Live generations per file</h2><div id="files"></div></section>\n' +
  '</div>\n' +
  '<h2>Warnings</h2>\n<div id="warnings"></div>\n' +
  '<div class="grid">\n' +
  '<section><h2>Side effects still live</h2><div id="side-effects"></div></section>\n' +
  '<section><h2>Released connections</h2><div id="released"></div></section>\n' +
  '</div>\n' +
  '<h2>Retainer path</h2>\n<div id="retainer"></div>\n' +
  '<h2>Reloads</h2>\n<div id="reloads"></div>\n' +
  '<script>' + PAGE_SCRIPT + '</script>\n</body>\n</html>\n';
