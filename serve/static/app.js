// The cellc web view: plain DOM and SVG, no framework, no build step.
// The server downsamples and pages everything; this script draws what it
// gets and fetches again when the event stream says a run changed. It
// never reloads the page, so an open drawing or a table page stays put.
'use strict';
(() => {
  const SVGNS = 'http://www.w3.org/2000/svg';
  const token = new URLSearchParams(location.search).get('token') || '';
  const COLORS = ['#1f6fb4', '#d9622b', '#2c9c4a', '#8e44ad', '#c0392b', '#16a2a2', '#b8860b', '#555'];
  const DASH = { 1: '', 5: '7 4', 25: '2 3' };

  const state = {
    runs: [], drawings: true, versions: {}, view: '', kind: '',
    page: 0, size: 20, sort: 'reward', order: 'desc', failPage: 0,
    selected: '', updated: '', overlay: null, live: false, busy: false, again: false,
  };

  // ---- helpers ----
  function url(path, params) {
    const u = new URL(path, location.origin);
    for (const [k, v] of Object.entries(params || {})) u.searchParams.set(k, v);
    if (token) u.searchParams.set('token', token);
    return u.pathname + u.search;
  }
  async function getJSON(path, params) {
    const r = await fetch(url(path, params), { cache: 'no-store' });
    let body = null;
    try { body = await r.json(); } catch (_) { body = null; }
    if (!r.ok) throw new Error((body && body.error) || (r.status + ' ' + r.statusText));
    return body;
  }
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? '' : v);
    }
    for (const k of kids.flat(Infinity)) {
      if (k == null || k === false) continue;
      e.append(k instanceof Node ? k : String(k));
    }
    return e;
  }
  function svg(tag, attrs, ...kids) {
    const e = document.createElementNS(SVGNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v != null) e.setAttribute(k, v);
    for (const k of kids.flat(Infinity)) if (k != null) e.append(k instanceof Node ? k : String(k));
    return e;
  }
  const $ = (id) => document.getElementById(id);
  function fill(id, ...kids) { const e = $(id); if (e) e.replaceChildren(...kids.flat(Infinity).filter((k) => k != null && k !== false)); return e; }
  const fmt4 = (v) => (v == null ? '–' : Number(v).toFixed(4));
  const pct = (v) => (v == null ? '–' : (100 * v).toFixed(2) + '%');
  const commas = (n) => (n == null ? '–' : Math.round(n).toLocaleString('en-US'));
  function si(n) {
    if (n == null) return '–';
    const a = Math.abs(n);
    if (a >= 1e9) return (n / 1e9).toFixed(2) + 'B';
    if (a >= 1e6) return (n / 1e6).toFixed(1) + 'M';
    if (a >= 1e3) return (n / 1e3).toFixed(1) + 'K';
    return String(n);
  }
  function dur(s) {
    if (s == null) return '–';
    s = Math.round(s);
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
    const h = Math.floor(s / 3600);
    if (h < 48) return h + ' h ' + Math.floor((s % 3600) / 60) + ' min';
    return Math.floor(h / 24) + ' d ' + (h % 24) + ' h';
  }
  function ago(t) {
    if (!t) return 'before this view started';
    const s = (Date.now() - new Date(t).getTime()) / 1000;
    if (s < 2) return 'just now';
    return dur(s) + ' ago';
  }
  function num(v, digits) {
    if (v == null) return '–';
    const a = Math.abs(v);
    if (a !== 0 && (a < 1e-3 || a >= 1e5)) return Number(v).toExponential(2);
    return Number(v).toFixed(digits == null ? 4 : digits);
  }
  function firstLine(s, n) {
    s = String(s || '').split('\n')[0];
    return s.length > n ? s.slice(0, n) + '…' : s;
  }
  function problemsBox(list) {
    if (!list || !list.length) return null;
    return el('div', { class: 'problems', role: 'alert' },
      el('strong', {}, 'Some of this run could not be read:'),
      el('ul', {}, list.map((p) => el('li', {}, p))));
  }
  function section(id, title, ...kids) {
    return el('section', { class: 'card', id: 'sec-' + id }, el('h2', {}, title), el('div', { id }, kids));
  }
  function tile(label, value, sub, id) {
    return el('div', { class: 'tile' }, el('div', { class: 'tile-label' }, label),
      el('div', { class: 'tile-value', id }, value), sub ? el('div', { class: 'tile-sub' }, sub) : null);
  }

  // ---- charts ----
  // ticks are round values between lo and hi, about n of them, and the
  // number of decimals their step needs.
  function ticks(lo, hi, n, integer) {
    if (!(hi > lo)) { hi = lo + 1; }
    const raw = (hi - lo) / Math.max(n, 1);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    let step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
    if (integer) step = Math.max(1, Math.round(step));
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(+v.toPrecision(12));
    const decimals = Math.max(0, -Math.floor(Math.log10(step) + 1e-9) + (String(step / mag).includes('.') ? 1 : 0));
    return { values: out, decimals };
  }
  // chart draws lines and dots: series = [{name, color, dash, points: [[x,y]...], dots}].
  function chart(opts) {
    const W = opts.width || 760, H = opts.height || 320;
    const m = { l: 58, r: 14, t: 10, b: 40 };
    const pts = opts.series.flatMap((s) => s.points).filter((p) => p[1] != null);
    let x0 = opts.xMin != null ? opts.xMin : Math.min(...pts.map((p) => p[0]));
    let x1 = Math.max(opts.xMax || -Infinity, ...pts.map((p) => p[0]));
    let y0 = Math.min(...pts.map((p) => p[1]));
    let y1 = Math.max(...pts.map((p) => p[1]));
    if (!pts.length) { x0 = 0; x1 = opts.xMax || 1; y0 = 0; y1 = 1; }
    if (x1 <= x0) x1 = x0 + 1;
    if (y1 <= y0) { y0 -= 0.05 * (Math.abs(y0) || 1); y1 += 0.05 * (Math.abs(y1) || 1); }
    const pad = (y1 - y0) * 0.06; y0 -= pad; y1 += pad;
    if (opts.yMin != null) y0 = Math.max(y0, opts.yMin);
    const X = (x) => m.l + (x - x0) / (x1 - x0) * (W - m.l - m.r);
    const Y = (y) => H - m.b - (y - y0) / (y1 - y0) * (H - m.t - m.b);
    const yt = ticks(y0, y1, 5);
    const yf = opts.yFormat === 'percent' ? (v) => (100 * v).toFixed(Math.max(0, yt.decimals - 2)) + '%' : (v) => v.toFixed(yt.decimals);
    const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': opts.label || 'chart', id: opts.id });
    const grid = svg('g', { class: 'grid' });
    for (const t of yt.values) {
      grid.append(svg('line', { x1: m.l, x2: W - m.r, y1: Y(t), y2: Y(t) }));
      grid.append(svg('text', { x: m.l - 6, y: Y(t) + 4, 'text-anchor': 'end' }, yf(t)));
    }
    const xt = ticks(x0, x1, 7, opts.xInteger);
    for (const t of xt.values) {
      grid.append(svg('line', { x1: X(t), x2: X(t), y1: m.t, y2: H - m.b, class: 'v' }));
      grid.append(svg('text', { x: X(t), y: H - m.b + 16, 'text-anchor': 'middle' }, t.toFixed(xt.decimals)));
    }
    root.append(grid);
    if (opts.xLabel) root.append(svg('text', { class: 'axis-label', x: (m.l + W - m.r) / 2, y: H - 6, 'text-anchor': 'middle' }, opts.xLabel));
    if (opts.yLabel) root.append(svg('text', { class: 'axis-label', x: 12, y: (m.t + H - m.b) / 2, transform: `rotate(-90 12 ${(m.t + H - m.b) / 2})`, 'text-anchor': 'middle' }, opts.yLabel));
    for (const s of opts.series) {
      const g = svg('g', { class: 'series' + (s.dots ? ' dots' : ''), 'data-name': s.name });
      g.append(svg('title', {}, s.name));
      if (s.dots) {
        for (const p of s.points) {
          if (p[1] == null) continue;
          g.append(svg('circle', { class: 'pt', cx: X(p[0]).toFixed(1), cy: Y(p[1]).toFixed(1), r: 2.4, fill: s.color }));
        }
      } else {
        let d = '', pen = false;
        for (const p of s.points) {
          if (p[1] == null) { pen = false; continue; }
          d += (pen ? 'L' : 'M') + X(p[0]).toFixed(1) + ' ' + Y(p[1]).toFixed(1);
          pen = true;
        }
        g.append(svg('path', { d, fill: 'none', stroke: s.color, 'stroke-width': s.width || 2, 'stroke-dasharray': s.dash || null }));
        if (s.points.length <= 40) {
          for (const p of s.points) if (p[1] != null) g.append(svg('circle', { cx: X(p[0]), cy: Y(p[1]), r: 2.5, fill: s.color }));
        }
      }
      root.append(g);
    }
    return root;
  }
  function legend(items) {
    return el('div', { class: 'legend' }, items.map((it) => el('span', { class: 'key' },
      svg('svg', { width: 26, height: 10 },
        it.dots ? svg('circle', { cx: 13, cy: 5, r: 3, fill: it.color }) :
          svg('line', { x1: 0, x2: 26, y1: 5, y2: 5, stroke: it.color, 'stroke-width': 2, 'stroke-dasharray': it.dash || null })),
      it.label)));
  }

  // ---- runs and routing ----
  async function loadRuns() {
    const body = await getJSON('/api/runs');
    state.runs = body.runs;
    state.drawings = body.drawings;
    for (const r of body.runs) if (state.versions[r.id] == null) state.versions[r.id] = r.version;
    renderNav();
    return body;
  }
  function renderNav() {
    fill('runs', state.runs.map((r) => el('a', {
      href: '#/run/' + encodeURIComponent(r.id), class: 'run-link' + (r.id === state.view ? ' active' : ''), title: r.name,
    }, el('span', { class: 'kind kind-' + r.kind }, r.kind), ' ', r.name)));
  }
  function route() {
    const m = location.hash.match(/^#\/run\/(.+)$/);
    return m ? decodeURIComponent(m[1]) : '';
  }
  async function render() {
    let id = route();
    if (!id && state.runs.length === 1) { location.replace('#/run/' + encodeURIComponent(state.runs[0].id)); return; }
    if (id !== state.view) {
      state.view = id; state.page = 0; state.failPage = 0; state.selected = ''; state.kind = '';
      state.sort = 'reward'; state.order = 'desc';
    }
    renderNav();
    if (!id) return renderOverview();
    const run = state.runs.find((r) => r.id === id);
    if (!run) { fill('main', el('div', { class: 'card' }, el('p', {}, `No run "${id}". `, el('a', { href: '#/' }, 'All runs')))); return; }
    await refresh();
  }
  function renderOverview() {
    state.kind = 'overview';
    fill('main', el('section', { class: 'card' }, el('h2', {}, 'Runs'),
      state.runs.length ? el('table', { class: 'grid-table' },
        el('thead', {}, el('tr', {}, el('th', {}, 'run'), el('th', {}, 'kind'), el('th', {}, 'status'), el('th', {}, 'updated'))),
        el('tbody', {}, state.runs.map((r) => el('tr', {},
          el('td', {}, el('a', { href: '#/run/' + encodeURIComponent(r.id) }, r.name)),
          el('td', {}, el('span', { class: 'kind kind-' + r.kind }, r.kind)),
          el('td', {}, r.headline || r.message || ''),
          el('td', { class: 'muted' }, r.updated && !r.updated.startsWith('0001') ? ago(r.updated) : '–'))))) :
        el('p', { class: 'muted' }, 'Nothing to show yet.')));
  }

  // refresh fetches what the current view shows; calls that arrive while
  // one is running fold into one more.
  async function refresh() {
    if (state.busy) { state.again = true; return; }
    state.busy = true;
    try {
      do {
        state.again = false;
        const id = state.view;
        if (!id) { await loadRuns(); renderOverview(); continue; }
        const sum = await getJSON('/api/runs/' + encodeURIComponent(id));
        if (id !== state.view) continue;
        const kind = sum.search ? 'search' : sum.train ? 'train' : sum.run.kind;
        if (kind !== state.kind) { state.kind = kind; skeleton(kind, sum.run); }
        state.updated = sum.run.updated && !sum.run.updated.startsWith('0001') ? sum.run.updated : '';
        fill('run-updated', state.updated ? 'updated ' + ago(state.updated) : '');
        if (sum.search) await updateSearch(id, sum.search);
        else if (sum.train) updateTrain(id, sum.train);
        else fill('run-message', el('p', { class: 'waiting' }, sum.run.message || 'Nothing here yet.'));
      } while (state.again);
    } catch (e) {
      fill('errors', el('div', { class: 'problems' }, 'Could not load: ' + e.message));
    } finally {
      state.busy = false;
    }
  }

  function skeleton(kind, run) {
    const head = el('div', { class: 'run-head' }, el('h1', {}, run.name), el('span', { class: 'kind kind-' + kind }, kind),
      el('span', { class: 'muted', id: 'run-updated' }));
    if (kind === 'search') {
      fill('main', head, el('div', { id: 'errors' }), el('div', { id: 'problems' }),
        el('div', { class: 'tiles', id: 'progress' }),
        section('fig6', 'Mean reward of the top-k models against models sampled (Figure 6)'),
        el('div', { class: 'two' },
          section('topk', 'Top architectures'),
          el('section', { class: 'card', id: 'sec-cell' }, el('h2', {}, 'Cell'), el('div', { id: 'cell' },
            el('p', { class: 'muted' }, 'Click a row to draw its cell and show its .cell text.')))),
        el('div', { class: 'two' }, section('workers', 'Workers'), section('controller', 'Controller')),
        section('failures', 'Failures'),
        section('retrain', 'Retraining'));
    } else if (kind === 'train') {
      fill('main', head, el('div', { id: 'errors' }), el('div', { id: 'problems' }),
        el('div', { class: 'tiles', id: 'tstats' }),
        section('charts', 'Curves'),
        el('div', { class: 'two' }, section('config', 'Configuration'), section('spec', 'Network (.cell)')));
    } else {
      fill('main', head, el('div', { id: 'errors' }), el('div', { class: 'card', id: 'run-message' }));
    }
  }

  // ---- search view ----
  async function updateSearch(id, s) {
    fill('errors');
    fill('problems', problemsBox(s.problems));
    const p = s.progress;
    const total = p.count || 0;
    const frac = total ? Math.min(1, p.observed / total) : 0;
    fill('progress',
      el('div', { class: 'tile wide' }, el('div', { class: 'tile-label' }, 'architectures observed'),
        el('div', { class: 'tile-value', id: 'stat-observed' }, `${p.observed} / ${total}`),
        el('div', { class: 'bar' }, el('div', { class: 'bar-fill', style: `width:${(100 * frac).toFixed(1)}%` })),
        el('div', { class: 'tile-sub' }, `${p.sampled} sampled · state: ${s.state}`)),
      tile('trained', String(p.trained), `${p.unique} unique architectures`, 'stat-results'),
      tile('failed', String(p.failed), null, 'stat-failed'),
      tile('in flight', String(p.in_flight), p.waiting ? `${p.waiting} repeats waiting` : 'queued or training', 'stat-queued'),
      tile('children / hour', p.per_hour == null ? '–' : commas(p.per_hour), p.rate_basis || null, 'stat-rate'),
      tile('ETA', p.done ? 'done' : dur(p.eta_seconds), null, 'stat-eta'),
      tile('best reward', fmt4(p.best), s.controller.strategy || null, 'stat-best'));
    await Promise.all([updateFig6(id), updateTable(id)]);
    updateWorkers(s);
    updateController(s.controller);
    updateFailures(id, s.failures);
    updateRetrain(id, s);
  }

  async function updateFig6(id) {
    const searches = state.runs.filter((r) => r.kind === 'search');
    // Every search is overlaid at first (PPO against random, say); the
    // check boxes take them off.
    if (state.overlay == null || !state.overlay.has(id)) state.overlay = new Set(searches.slice(0, COLORS.length).map((r) => r.id).concat(id));
    const shown = searches.filter((r) => state.overlay.has(r.id));
    const curves = await Promise.all(shown.map((r) => getJSON('/api/runs/' + encodeURIComponent(r.id) + '/curve', { points: 600 }).catch(() => null)));
    const series = [], keys = [];
    let xMax = 0, count = 0;
    shown.forEach((r, i) => {
      const c = curves[i];
      if (!c) return;
      const color = COLORS[searches.indexOf(r) % COLORS.length];
      xMax = Math.max(xMax, c.x_max); count = Math.max(count, c.count || 0);
      if (r.id === id && c.scatter.length) {
        series.push({ name: `${r.name}: reward of each model`, color: '#9ab', points: c.scatter, dots: true });
        keys.push({ label: 'each model', color: '#9ab', dots: true });
      }
      for (const sr of c.series) {
        const name = `${r.name} top-${sr.k}`;
        series.push({ name, color, dash: DASH[sr.k], points: sr.points });
        keys.push({ label: name, color, dash: DASH[sr.k] });
      }
    });
    const c0 = curves[shown.findIndex((r) => r.id === id)];
    const box = el('div', {});
    if (!series.length || !c0 || !c0.trained) box.append(el('p', { class: 'muted', id: 'fig6-empty' }, 'No trained architecture yet: the chart fills in as results arrive.'));
    // Drawn at the width it is shown at, so that its text keeps its size.
    const width = Math.max(480, Math.round(($('fig6') || {}).clientWidth || 760));
    box.append(chart({ id: 'fig6', width, height: 340, series, xMin: 0, xMax: Math.max(xMax, 1), xInteger: true, xLabel: 'models sampled', yLabel: 'reward (validation accuracy)', label: 'Figure 6' }));
    box.append(legend(keys));
    if (searches.length > 1) {
      box.append(el('div', { class: 'overlay' }, 'Overlay: ', searches.map((r, i) => el('label', { class: 'chk' },
        el('input', { type: 'checkbox', checked: state.overlay.has(r.id), disabled: r.id === id, onchange: (e) => {
          if (e.target.checked) state.overlay.add(r.id); else state.overlay.delete(r.id);
          updateFig6(id);
        } }), el('span', { class: 'swatch', style: `background:${COLORS[i % COLORS.length]}` }), r.name))));
    }
    if (c0) box.append(el('p', { class: 'muted small' }, `${c0.trained} trained, ${c0.failed} failed; the lines are the mean reward of the best 1, 5 and 25 unique models among the first x sampled (downsampled on the server).`));
    fill('fig6', box);
  }

  const COLS = [
    ['rank', 'rank', null], ['cell', 'cell', null], ['reward', 'reward', 'reward'], ['params', 'params', 'params'],
    ['mult-adds', 'mult_adds', 'mult_adds'], ['train s', 'train_seconds', 'train_seconds'], ['worker', 'worker', null],
    ['attempts', 'attempts', 'attempts'], ['job', 'seq', 'seq'],
  ];
  async function updateTable(id) {
    const t = await getJSON('/api/runs/' + encodeURIComponent(id) + '/results', { page: state.page, size: state.size, sort: state.sort, order: state.order });
    const pages = Math.max(1, Math.ceil(t.total / t.size));
    if (state.page >= pages && state.page > 0) { state.page = pages - 1; return updateTable(id); }
    const head = el('tr', {}, COLS.map(([label, , key]) => {
      if (!key) return el('th', {}, label);
      const on = state.sort === key;
      return el('th', { class: 'sortable' + (on ? ' on' : ''), title: 'sort by ' + label, onclick: () => {
        if (state.sort === key) state.order = state.order === 'desc' ? 'asc' : 'desc';
        else { state.sort = key; state.order = 'desc'; }
        state.page = 0; updateTable(id);
      } }, label, on ? (state.order === 'desc' ? ' ▼' : ' ▲') : '');
    }));
    const rows = t.rows.map((r) => el('tr', { class: 'row' + (r.hash === state.selected ? ' selected' : ''), 'data-hash': r.hash, tabindex: 0,
      onclick: () => selectCell(id, r.hash), onkeydown: (e) => { if (e.key === 'Enter') selectCell(id, r.hash); } },
    el('td', { class: 'num' }, r.rank),
    el('td', { class: 'thumb' }, state.drawings ? el('img', { src: url('/api/runs/' + encodeURIComponent(id) + '/cells/' + r.hash + '/svg'), alt: r.hash, loading: 'lazy', title: r.hash,
      onerror: (e) => e.target.replaceWith(el('span', { class: 'mono' }, r.hash)) }) : el('span', { class: 'mono' }, r.hash)),
    el('td', { class: 'num strong' }, fmt4(r.reward)),
    el('td', { class: 'num' }, commas(r.params)),
    el('td', { class: 'num' }, si(r.mult_adds)),
    el('td', { class: 'num' }, num(r.train_seconds, 1)),
    el('td', { class: 'mono small' }, r.worker),
    el('td', { class: 'num' }, r.attempts),
    el('td', { class: 'mono small' }, r.seq >= 0 ? '#' + r.seq : r.job_id)));
    fill('topk',
      el('table', { class: 'grid-table', id: 'topk-table' }, el('thead', {}, head), el('tbody', {}, rows)),
      t.total ? null : el('p', { class: 'muted' }, 'No architecture has trained yet.'),
      pager(state.page, pages, t.total, (p) => { state.page = p; updateTable(id); }));
  }
  function pager(page, pages, total, go) {
    return el('div', { class: 'pager' },
      el('button', { disabled: page <= 0, onclick: () => go(0) }, '«'),
      el('button', { disabled: page <= 0, onclick: () => go(page - 1) }, '‹ prev'),
      el('span', { class: 'muted' }, ` page ${page + 1} of ${pages} (${commas(total)}) `),
      el('button', { disabled: page >= pages - 1, onclick: () => go(page + 1) }, 'next ›'),
      el('button', { disabled: page >= pages - 1, onclick: () => go(pages - 1) }, '»'));
  }

  // A drawing is dot's SVG, put inline; what could run script is dropped
  // on the way in (the server makes it, but results.jsonl names the ops).
  function inlineSVG(text) {
    const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
    const root = doc.documentElement;
    if (!root || root.nodeName !== 'svg') throw new Error('not an SVG drawing');
    root.querySelectorAll('script, foreignObject, iframe').forEach((n) => n.remove());
    for (const n of [root, ...root.querySelectorAll('*')]) {
      for (const a of [...n.attributes]) {
        if (/^on/i.test(a.name) || (/href$/i.test(a.name) && /^\s*javascript:/i.test(a.value))) n.removeAttribute(a.name);
      }
    }
    root.removeAttribute('width'); root.removeAttribute('height');
    root.setAttribute('class', 'drawing');
    return document.importNode(root, true);
  }
  async function selectCell(id, hash) {
    state.selected = hash;
    document.querySelectorAll('#topk-table tr.row').forEach((tr) => tr.classList.toggle('selected', tr.dataset.hash === hash));
    fill('cell', el('p', { class: 'muted' }, 'Loading ' + hash + '…'));
    try {
      const base = '/api/runs/' + encodeURIComponent(id) + '/cells/' + encodeURIComponent(hash);
      const c = await getJSON(base);
      let drawing;
      if (!state.drawings) drawing = el('p', { class: 'muted' }, 'This server draws no cells.');
      else {
        const r = await fetch(url(base + '/svg'));
        if (r.ok) drawing = inlineSVG(await r.text());
        else {
          let msg = r.statusText;
          try { msg = (await r.json()).error; } catch (_) { /* keep statusText */ }
          drawing = el('p', { class: 'problems' }, 'No drawing: ' + msg);
        }
      }
      if (state.selected !== hash) return;
      const res = c.result;
      const text = el('pre', { class: 'cell-text', id: 'cell-text' }, c.text);
      fill('cell',
        el('div', { class: 'cell-head' }, el('span', { class: 'mono strong' }, c.hash),
          res ? el('span', {}, ` rank ${res.rank} · reward ${fmt4(res.reward)} · ${commas(res.params)} params · ${si(res.mult_adds)} mult-adds · ${num(res.train_seconds, 1)} s on ${res.worker}`) : null,
          c.failed ? el('span', { class: 'bad' }, ' failed: ' + firstLine(c.error, 200)) : null,
          c.retrain ? el('span', {}, ` · retrained: validation ${fmt4(c.retrain.validation)}, test ${fmt4(c.retrain.test)}`) : null),
        el('div', { class: 'drawing-box', id: 'cell-drawing' }, drawing),
        el('div', { class: 'cell-actions' },
          el('button', { id: 'copy-cell', onclick: (e) => copy(c.text, e.target) }, 'Copy .cell'),
          el('span', { class: 'muted small' }, ' save it as a .cell file; cellc check, build and train take it')),
        text);
    } catch (e) {
      fill('cell', el('p', { class: 'problems' }, e.message));
    }
  }
  async function copy(text, button) {
    try {
      if (navigator.clipboard && window.isSecureContext) await navigator.clipboard.writeText(text);
      else {
        const ta = el('textarea', { class: 'offscreen' }, text);
        document.body.append(ta); ta.select(); document.execCommand('copy'); ta.remove();
      }
      button.textContent = 'Copied';
    } catch (_) {
      button.textContent = 'Select the text below to copy';
    }
    setTimeout(() => { button.textContent = 'Copy .cell'; }, 1500);
  }

  function updateWorkers(s) {
    const rows = s.workers.map((w) => el('tr', {},
      el('td', { class: 'mono small' }, w.name === 'controller' ? 'controller (did not compile)' : w.name),
      el('td', { class: 'small' }, w.heartbeat ? (w.stopped ? 'stopped ' : '') + ago(w.heartbeat) : '–'),
      el('td', { class: 'mono small' }, (w.training || []).length ?
        w.training.map((j) => el('span', { class: 'job', title: `${j.hash}, attempt ${j.attempt}, since ${j.started}` }, j.job_id)) :
        (w.heartbeat && !w.stopped ? 'idle' : '–')),
      el('td', { class: 'num' }, w.jobs), el('td', { class: 'num' }, w.failed), el('td', { class: 'num' }, dur(w.train_seconds)),
      el('td', { class: 'mono small' }, w.last_job), el('td', { class: 'muted small' }, ago(w.last_seen))));
    const flight = s.in_flight || [];
    fill('workers',
      rows.length ? el('table', { class: 'grid-table' }, el('thead', {}, el('tr', {}, ['worker', 'heartbeat', 'training now', 'jobs', 'failed', 'training', 'last job', 'last result'].map((h) => el('th', {}, h)))), el('tbody', {}, rows)) :
        el('p', { class: 'muted' }, 'No worker has reported yet.'),
      el('h3', {}, `Jobs in flight (${flight.length})`),
      flight.length ? el('p', { class: 'mono small flight' }, flight.slice(0, 40).map((j) => el('span', { class: 'job', title: j.hash }, j.job_id)), flight.length > 40 ? ` … and ${flight.length - 40} more` : '') :
        el('p', { class: 'muted small' }, 'none'),
      el('p', { class: 'muted small' }, 'Heartbeats come from the workers every few seconds (workers.json); a worker\'s last result is when this view saw it arrive.'));
  }

  function updateController(c) {
    const kids = [el('dl', { class: 'kv' },
      el('dt', {}, 'strategy'), el('dd', {}, c.strategy || '–'),
      el('dt', {}, 'search'), el('dd', { class: 'mono' }, c.search_id || '–'),
      el('dt', {}, 'updates'), el('dd', {}, c.updates),
      c.applies ? [el('dt', {}, 'baseline'), el('dd', { id: 'ctrl-baseline' }, fmt4(c.baseline)),
        el('dt', {}, 'entropy'), el('dd', { id: 'ctrl-entropy' }, fmt4(c.entropy)),
        el('dt', {}, 'loss'), el('dd', {}, fmt4(c.loss)),
        el('dt', {}, 'pending'), el('dd', {}, c.pending)] : [])];
    if (!c.applies) kids.push(el('p', { class: 'muted small' }, c.strategy ? `${c.strategy} has no baseline or entropy.` : 'The strategy is not known yet.'));
    else if (c.history.length >= 2) {
      kids.push(chart({ width: 420, height: 180, series: [
        { name: 'baseline', color: COLORS[0], points: c.history.map((h) => [h.observed, h.baseline]) },
      ], xInteger: true, xLabel: 'models observed', yLabel: 'baseline', label: 'baseline' }));
      kids.push(chart({ width: 420, height: 180, series: [
        { name: 'entropy', color: COLORS[1], points: c.history.map((h) => [h.observed, h.entropy]) },
      ], xInteger: true, xLabel: 'models observed', yLabel: 'entropy', label: 'entropy' }));
      kids.push(el('p', { class: 'muted small' }, 'Sampled while this view is open: controller.json keeps only the latest values.'));
    }
    fill('controller', kids);
  }

  async function updateFailures(id, first) {
    let f = first;
    if (state.failPage > 0) f = await getJSON('/api/runs/' + encodeURIComponent(id) + '/failures', { page: state.failPage, size: 10 });
    const pages = Math.max(1, Math.ceil(f.total / 10));
    fill('failures', f.total ? [
      el('table', { class: 'grid-table' }, el('thead', {}, el('tr', {}, ['job', 'hash', 'worker', 'attempts', 'error'].map((h) => el('th', {}, h)))),
        el('tbody', {}, f.rows.map((r) => el('tr', {},
          el('td', { class: 'mono small' }, r.job_id), el('td', { class: 'mono small' }, r.hash), el('td', { class: 'mono small' }, r.worker),
          el('td', { class: 'num' }, r.attempts),
          el('td', { class: 'err' }, el('details', {}, el('summary', {}, firstLine(r.error, 120)), el('pre', {}, r.error))))))),
      pager(state.failPage, pages, f.total, (p) => { state.failPage = p; updateFailures(id, first); }),
    ] : el('p', { class: 'muted' }, 'No failures.'));
  }

  function updateRetrain(id, s) {
    const kids = [];
    if (s.retrain.length) {
      kids.push(el('table', { class: 'grid-table' },
        el('thead', {}, el('tr', {}, ['rank', 'hash', 'search', 'validation', 'test', 'params', 'mult-adds', 'train s'].map((h) => el('th', {}, h)))),
        el('tbody', {}, s.retrain.map((r) => el('tr', { class: 'row', onclick: () => selectCell(id, r.hash) },
          el('td', { class: 'num' }, r.rank), el('td', { class: 'mono small' }, r.hash), el('td', { class: 'num' }, fmt4(r.search_reward)),
          el('td', { class: 'num strong' }, r.error ? 'failed' : fmt4(r.validation)), el('td', { class: 'num' }, fmt4(r.test)),
          el('td', { class: 'num' }, commas(r.params)), el('td', { class: 'num' }, si(r.mult_adds)), el('td', { class: 'num' }, num(r.train_seconds, 1)))))));
    }
    if (s.ranking) kids.push(el('details', {}, el('summary', {}, 'ranking.txt'), el('pre', {}, s.ranking)));
    if (!kids.length) {
      kids.push(el('p', { class: 'muted' }, s.retrain_top == null ? 'Nothing retrained yet.' : s.retrain_top > 0 ?
        `The best ${s.retrain_top} will be retrained when the search is done.` : 'This search retrains nothing.'));
    }
    if (s.files.length) {
      kids.push(el('p', { class: 'small' }, 'Files: ', s.files.map((f) => [el('a', { href: url('/api/runs/' + encodeURIComponent(id) + '/files/' + f), target: '_blank', rel: 'noopener' }, f), ' '])));
    }
    fill('retrain', kids);
  }

  // ---- training view ----
  function updateTrain(id, t) {
    fill('errors');
    fill('problems', problemsBox(t.problems));
    const tr = t.train || {}, va = t.val || {}, te = t.test;
    fill('tstats',
      tile('network', t.network || '–', null),
      tile('epoch', tr.epoch == null ? '–' : String(tr.epoch), tr.step != null ? `step ${commas(tr.step)}` : null, 'stat-epoch'),
      tile('training loss', num(tr.loss), tr.top1 != null ? `top-1 ${pct(tr.top1)}` : null),
      tile('validation top-1', pct(va.top1), va.top5 != null ? `top-5 ${pct(va.top5)}` : null, 'stat-val'),
      tile('images/s', tr.images_per_sec == null ? '–' : commas(tr.images_per_sec), null),
      tile('test top-1', te ? pct(te.top1) : '–', te && te.top5 != null ? `top-5 ${pct(te.top5)}` : null));
    const splitColor = { train: COLORS[0], val: COLORS[1], test: COLORS[2] };
    const charts = t.charts.filter((c) => Object.keys(c.lines).length).map((c) => {
      const series = Object.entries(c.lines).map(([split, pts], i) => ({ name: split, color: splitColor[split] || COLORS[3 + i], points: pts }));
      return el('div', { class: 'small-chart' }, el('h3', {}, c.title),
        chart({ width: 420, height: 220, series, xInteger: true, xLabel: 'epoch', yFormat: c.format, label: c.title }),
        legend(series.map((s) => ({ label: s.name, color: s.color }))));
    });
    fill('charts', charts.length ? el('div', { class: 'chart-grid' }, charts) :
      el('p', { class: 'muted' }, 'No metrics yet: a record is written at the end of each epoch.'));
    const meta = Object.entries(t.meta).sort();
    fill('config', t.config ? el('pre', { class: 'cell-text' }, t.config) : el('p', { class: 'muted' }, 'Not known yet.'),
      meta.length ? el('dl', { class: 'kv' }, meta.map(([k, v]) => [el('dt', {}, k), el('dd', { class: 'mono small' }, firstLine(v, 200))])) : null,
      t.files.length ? el('p', { class: 'small' }, 'Files: ', t.files.map((f) => [el('a', { href: url('/api/runs/' + encodeURIComponent(id) + '/files/' + f), target: '_blank', rel: 'noopener' }, f), ' '])) : null);
    fill('spec', t.spec ? [el('button', { onclick: (e) => copy(t.spec, e.target) }, 'Copy .cell'), el('pre', { class: 'cell-text' }, t.spec)] :
      el('p', { class: 'muted' }, 'Not known yet.'));
  }

  // ---- live updates ----
  function setLive(text, ok) {
    const e = $('live');
    e.textContent = text;
    e.className = 'live' + (ok ? ' on' : ' off');
  }
  let timer = 0;
  function soon() { clearTimeout(timer); timer = setTimeout(refresh, 150); }
  function connect() {
    if (!window.EventSource) { setLive('polling', true); return; }
    const es = new EventSource(url('/api/events'));
    es.onopen = () => { state.live = true; setLive('live', true); };
    es.onerror = () => { state.live = false; setLive(es.readyState === EventSource.CLOSED ? 'disconnected' : 'reconnecting…', false); };
    es.addEventListener('runs', async () => { await loadRuns().catch(() => {}); if (!state.view) soon(); });
    es.addEventListener('run', (ev) => {
      const d = JSON.parse(ev.data);
      const old = state.versions[d.id];
      state.versions[d.id] = d.version;
      if (old === d.version) return;
      if (d.id === state.view || !state.view || (state.overlay && state.overlay.has(d.id))) soon();
    });
  }
  // Without the event stream (a proxy that buffers it, a server gone and
  // back), compare versions every few seconds instead.
  setInterval(async () => {
    if (state.live) return;
    try {
      const before = JSON.stringify(state.versions);
      const body = await getJSON('/api/runs');
      state.runs = body.runs;
      for (const r of body.runs) state.versions[r.id] = r.version;
      if (JSON.stringify(state.versions) !== before) soon();
      if (!window.EventSource) setLive('polling', true);
    } catch (_) { setLive('server unreachable', false); }
  }, 3000);
  // Relative times ("12 s ago") age even when nothing changes.
  setInterval(() => {
    if (state.view && state.updated) fill('run-updated', 'updated ' + ago(state.updated));
  }, 5000);

  window.addEventListener('hashchange', render);
  // Figure 6 is drawn at the width it has.
  window.addEventListener('resize', soon);
  (async () => {
    $('foot-note').textContent = location.host;
    try { await loadRuns(); } catch (e) { fill('main', el('div', { class: 'problems' }, 'Could not load the runs: ' + e.message)); return; }
    connect();
    render();
  })();
})();
