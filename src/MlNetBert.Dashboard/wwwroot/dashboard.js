// The dashboard's page: hash routes (#/, #/run/ID, #/compare/ID,ID, #/sweep/ID) drawn from the JSON API.
// Nothing here knows a task by name: the try-it box asks the run (pair or not, column names) and draws what the
// prediction holds (probabilities as bars, a score, entities or answers highlighted, an embedding's size).
'use strict';

const main = document.getElementById('main');
let timer = null;          // the refresh of the current page while something trains
const charts = [];         // uPlot instances to destroy when the page changes

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

async function api(path, init) {
  const r = await fetch(path, init);
  const body = await r.json().catch(() => ({ error: r.statusText }));
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}

const enc = encodeURIComponent;
const runLink = id => h('a', { href: '#/run/' + id }, id);
function fmt(v, digits = 4) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : Math.abs(v) >= 0.01 ? v.toFixed(digits) : String(Number(v.toPrecision(4)));
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}
function duration(s) {
  if (s === null || s === undefined) return '';
  s = Math.round(s);
  return s >= 3600 ? `${Math.floor(s / 3600)}h${String(Math.floor(s % 3600 / 60)).padStart(2, '0')}m`
       : s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}
const status = s => h('span', { class: 'status status-' + s, 'data-status': s }, s);

// A table whose every column sorts on a click (numbers as numbers, empty cells last).
function sortableTable(columns, rows, id) {
  let key = null, desc = false;
  const tbody = h('tbody');
  const head = h('tr', {}, columns.map((c, i) => h('th', {
    class: 'sortable' + (c.num ? ' num' : ''), title: 'sort',
    onclick: () => { desc = key === i ? !desc : !!c.num; key = i; draw(); },
  }, c.title)));
  function draw() {
    const sorted = rows.slice();
    if (key !== null) {
      const v = columns[key].value;
      sorted.sort((a, b) => {
        const x = v(a), y = v(b);
        if (x === null || x === undefined || x === '') return 1;
        if (y === null || y === undefined || y === '') return -1;
        const r = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
        return desc ? -r : r;
      });
    }
    tbody.replaceChildren(...sorted.map(r => h('tr', {}, columns.map(c =>
      h('td', { class: c.num ? 'num' : null }, c.cell ? c.cell(r) : fmt(c.value(r)))))));
  }
  draw();
  return h('table', { id }, h('thead', {}, head), tbody);
}

function chart(el, title, series, data, opts = {}) {
  const width = Math.max(360, Math.min(el.clientWidth || 640, 900));
  const u = new uPlot({
    title, width, height: 260,
    scales: { x: { time: false } },
    axes: [{ label: opts.xLabel || 'step' }, { label: opts.yLabel || '' }, ...(opts.axes || [])],
    series: [{ label: opts.xLabel || 'step' }, ...series],
    cursor: { drag: { x: true, y: false } },
  }, data, el);
  charts.push(u);
  return u;
}
const palette = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

// ---- runs -------------------------------------------------------------------------------------------------------
async function runsPage() {
  const data = await api('/api/runs');
  document.getElementById('root').textContent = data.root;
  const selected = new Set();
  const compare = h('button', { id: 'compare', disabled: true, onclick: () => location.hash = '#/compare/' + [...selected].map(enc).join(',') }, 'Compare selected');
  const columns = [
    { title: '', value: () => '', cell: r => h('input', { type: 'checkbox', onchange: e => {
      e.target.checked ? selected.add(r.id) : selected.delete(r.id); compare.disabled = selected.size < 2; } }) },
    { title: 'run', value: r => r.id, cell: r => runLink(r.id) },
    { title: 'status', value: r => r.status, cell: r => [status(r.status), r.progress ? progressCell(r.progress) : null,
      r.problem ? h('div', { class: 'problem' }, r.problem) : null] },
    { title: 'task', value: r => r.task },
    { title: 'checkpoint', value: r => r.checkpoint },
    { title: 'data', value: r => r.train_file },
    { title: 'metric', value: r => r.metric },
    { title: 'value', num: true, value: r => r.value },
    { title: 'duration', num: true, value: r => r.duration_seconds, cell: r => duration(r.duration_seconds) },
    { title: 'written', value: r => r.modified, cell: r => new Date(r.modified).toLocaleString() },
  ];
  const parts = [h('h1', {}, `Runs (${data.runs.length})`)];
  if (data.runs.length === 0) parts.push(h('p', { class: 'muted' }, 'No run folders here yet: mlnetbert train --out ' + data.root + '/NAME'));
  else parts.push(sortableTable(columns, data.runs, 'runs'), compare);
  if (data.sweeps.length) {
    parts.push(h('h2', {}, 'Sweeps'), sortableTable([
      { title: 'sweep', value: s => s.id, cell: s => h('a', { href: '#/sweep/' + s.id }, s.id) },
      { title: 'trials', num: true, value: s => s.trials },
      { title: 'completed', num: true, value: s => s.completed },
      { title: 'state', value: s => s.finished ? 'finished' : 'in progress', cell: s => [s.finished ? 'finished' : 'in progress',
        s.problem ? h('div', { class: 'problem' }, s.problem) : null] },
    ], data.sweeps, 'sweeps'));
  }
  main.replaceChildren(...parts);
  if (data.runs.some(r => r.status === 'running')) timer = setTimeout(route, 2000);
}

function progressCell(p) {
  const frac = p.total_steps ? p.step / p.total_steps : null;
  return h('div', { class: 'muted', 'data-progress': p.step }, frac === null ? '' : h('span', { class: 'progress' }, h('span', { style: `width:${(100 * frac).toFixed(1)}%` })),
    ` step ${p.step}${p.total_steps ? '/' + p.total_steps : ''}` + (p.epoch ? `, epoch ${p.epoch}${p.epochs ? '/' + p.epochs : ''}` : '')
    + (p.loss !== null && p.loss !== undefined ? `, loss ${fmt(p.loss)}` : '') + (p.remaining_seconds ? `, ${duration(p.remaining_seconds)} left` : ''));
}

// ---- one run ----------------------------------------------------------------------------------------------------
async function runPage(id) {
  const [run, log] = await Promise.all([api('/api/run?id=' + enc(id)), api('/api/run/log?id=' + enc(id))]);
  const s = run.summary;
  const parts = [h('h1', {}, 'Run ', h('code', {}, id), ' ', status(s.status))];
  if (s.problem) parts.push(h('p', { class: 'problem', id: 'problem' }, s.problem));
  if (s.progress) parts.push(progressCell(s.progress));
  parts.push(h('p', { class: 'muted' }, [s.task, s.checkpoint, s.train_file].filter(Boolean).join(' · '), ' — ', run.path));
  if (s.metric) parts.push(h('p', {}, h('strong', {}, s.metric + ': '), h('span', { id: 'key-metric' }, fmt(s.value)),
    s.duration_seconds ? `  (training ${duration(s.duration_seconds)})` : ''));

  parts.push(h('h2', {}, 'Metrics'), metricsView(run.metrics, run.run.json));
  parts.push(h('h2', {}, 'Training curves'), curvesView(log));
  if (run.files.includes('curves.png')) parts.push(h('details', {}, h('summary', {}, 'curves.png'), h('img', { class: 'plot', src: `/api/run/file?id=${enc(id)}&name=curves.png`, alt: 'curves' })));
  parts.push(h('h2', {}, 'Options'), optionsView(run.run));
  parts.push(h('h2', {}, 'ONNX parity'), run.parity.json ? kvTable(run.parity.json, 'parity') : h('p', { class: 'muted' }, run.parity.problem));
  if (run.analysis) {
    parts.push(h('h2', {}, 'Analysis'), h('pre', { class: 'wrap', id: 'analysis' }, run.analysis.markdown),
      h('div', { class: 'grid' }, run.analysis.images.map(n => h('img', { class: 'plot', src: `/api/run/file?id=${enc(id)}&name=${enc(n)}`, alt: n }))));
  }
  if (run.try_it) parts.push(h('h2', {}, 'Try it'), tryIt(id, run.try_it));
  else if (run.model_problem) parts.push(h('h2', {}, 'Try it'), h('p', { class: 'problem', id: 'model-problem' }, run.model_problem));
  parts.push(h('h2', {}, 'Use this model'), h('div', { id: 'snippets' }, h('p', { class: 'muted' }, 'Loading…')));
  parts.push(h('h2', {}, 'Files'), h('p', { class: 'muted' }, run.files.join('  ')));
  main.replaceChildren(...parts);
  drawCurves(log);
  api('/api/run/snippets?id=' + enc(id)).then(snippets => document.getElementById('snippets').replaceChildren(...snippets.map(sn =>
    h('div', { class: 'snippet' }, h('h3', {}, sn.title), h('pre', { 'data-language': sn.language }, sn.code),
      h('button', { onclick: () => navigator.clipboard?.writeText(sn.code) }, 'Copy')))))
    .catch(e => document.getElementById('snippets').replaceChildren(h('p', { class: 'muted' }, e.message)));
  if (s.status === 'running') timer = setTimeout(route, 2000);
}

function kvTable(obj, id) {
  return h('table', { id }, Object.entries(obj).filter(([, v]) => v === null || typeof v !== 'object')
    .map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', { class: typeof v === 'number' ? 'num' : null }, fmt(v)))));
}

// Metrics by shape: scalars; arrays of objects (per-class rows); objects of objects (per-type rows); a matrix.
function metricsView(metrics, runJson) {
  if (!metrics.json) return h('p', { class: 'muted' }, metrics.problem);
  const final = metrics.json.final || {};
  const out = [kvTable(final, 'metrics')];
  for (const [k, v] of Object.entries(final)) {
    if (Array.isArray(v) && v.length && typeof v[0] === 'object' && !Array.isArray(v[0])) {
      const cols = Object.keys(v[0]);
      out.push(h('h3', {}, k.replace(/_/g, ' ')), h('table', { id: k }, h('tr', {}, cols.map(c => h('th', {}, c))),
        v.map(row => h('tr', {}, cols.map(c => h('td', { class: typeof row[c] === 'number' ? 'num' : null }, fmt(row[c])))))));
    } else if (Array.isArray(v) && v.length && Array.isArray(v[0])) {
      const labels = (final.per_class || []).map(c => c.label);
      const names = labels.length === v.length ? labels : (runJson?.data?.labels || v.map((_, i) => i));
      const max = Math.max(1, ...v.flat());
      out.push(h('h3', {}, k.replace(/_/g, ' ') + ' (rows: truth, columns: predicted)'), h('table', { class: 'cm', id: k },
        h('tr', {}, h('th', {}, ''), names.map(n => h('th', {}, n))),
        v.map((row, i) => h('tr', {}, h('th', {}, names[i]), row.map(c =>
          h('td', { style: `background: rgba(74,123,208,${(0.8 * c / max).toFixed(2)})` }, c))))));
    } else if (v && typeof v === 'object' && !Array.isArray(v) && Object.values(v).every(x => x && typeof x === 'object')) {
      const keys = Object.keys(v), cols = keys.length ? Object.keys(v[keys[0]]) : [];
      out.push(h('h3', {}, k.replace(/_/g, ' ')), h('table', { id: k }, h('tr', {}, h('th', {}, ''), cols.map(c => h('th', {}, c))),
        keys.map(t => h('tr', {}, h('th', {}, t), cols.map(c => h('td', { class: 'num' }, fmt(v[t][c])))))));
    }
  }
  const rest = Object.fromEntries(Object.entries(metrics.json).filter(([k, v]) => k !== 'final' && (v === null || typeof v !== 'object')));
  out.push(h('details', {}, h('summary', {}, 'training'), kvTable(rest, 'training')));
  return h('div', {}, out);
}

function optionsView(runFile) {
  if (!runFile.json) return h('p', { class: 'problem' }, runFile.problem);
  const j = runFile.json;
  const rows = { ...(j.options || {}) };
  for (const [k, v] of Object.entries(j.data || {})) if (v && typeof v === 'object' && !Array.isArray(v)) rows[k + ' file'] = v.path + ` (${v.rows_used ?? '?'} rows)`;
  if (j.data?.labels) rows.labels = j.data.labels.join(', ');
  if (j.argv) rows.command = 'mlnetbert ' + j.argv.join(' ');
  if (j.versions) rows.versions = Object.entries(j.versions).map(([k, v]) => `${k} ${v}`).join(', ');
  return kvTable(rows, 'options');
}

function curvesView(log) {
  if (log.problem && !log.steps.length) return h('p', { class: 'muted' }, log.problem);
  return h('div', { class: 'grid' }, h('div', { id: 'loss-chart' }), h('div', { id: 'valid-chart' }),
    log.skipped_lines ? h('p', { class: 'muted' }, `${log.skipped_lines} unreadable line(s) of log.csv skipped`) : null);
}

function drawCurves(log) {
  const lossEl = document.getElementById('loss-chart');
  if (!lossEl || !log.steps.length) return;
  chart(lossEl, 'training loss', [
    { label: 'loss', stroke: palette[0] },
    { label: 'learning rate', stroke: palette[2], scale: 'lr' },
  ], [log.steps.map(s => s.step), log.steps.map(s => s.loss), log.steps.map(s => s.learning_rate)],
  { yLabel: 'loss', axes: [{ scale: 'lr', side: 1, label: 'learning rate', grid: { show: false }, size: 70,
    values: (u, ticks) => ticks.map(v => v === 0 ? '0' : v.toExponential(1)) }] });
  const points = log.epochs.filter(e => e.validation !== null);
  if (points.length) {
    chart(document.getElementById('valid-chart'), 'validation ' + (log.metric || ''), [
      { label: log.metric || 'validation', stroke: palette[1], points: { show: true, size: 7 } },
    ], [points.map(e => e.epoch), points.map(e => e.validation)], { xLabel: 'epoch', yLabel: log.metric || '' });
  }
}

// ---- try it -----------------------------------------------------------------------------------------------------
function tryIt(id, t) {
  const text = h('textarea', { id: 'try-text', placeholder: t.text });
  const text2 = t.pair ? h('textarea', { id: 'try-text2', placeholder: t.text2 }) : null;
  const result = h('div', { id: 'try-result' });
  const go = async () => {
    result.replaceChildren(h('p', { class: 'muted' }, '…'));
    try {
      const a = await api('/api/run/predict?id=' + enc(id), { method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ text: text.value, text2: text2 ? text2.value : null }) });
      result.replaceChildren(...showPrediction(a, text.value, text2 ? text2.value : null));
    } catch (e) { result.replaceChildren(h('p', { class: 'problem' }, e.message)); }
  };
  return h('div', { class: 'card' }, h('label', {}, t.text), text, text2 ? [h('label', {}, t.text2), text2] : null,
    h('p', {}, h('button', { id: 'try-go', onclick: go }, 'Predict')), result);
}

// Draws whatever the prediction holds, by its shape.
function showPrediction(a, text, text2) {
  const o = a.output, out = [h('p', { id: 'try-line' }, h('code', {}, a.line))];
  if (o.probabilities) {
    const max = Math.max(...Object.values(o.probabilities));
    out.push(h('table', { id: 'try-probabilities' }, Object.entries(o.probabilities).map(([label, p]) => h('tr', { class: p === max ? 'diff' : null },
      h('th', {}, label), h('td', { class: 'num' }, p.toFixed(4)), h('td', {}, h('span', { class: 'bar', style: `width:${Math.round(300 * p)}px` }))))));
  }
  if (typeof o.score === 'number') out.push(h('p', {}, 'score ', h('strong', { id: 'try-score' }, o.score.toFixed(4))));
  if (o.entities) out.push(h('p', { id: 'try-entities' }, highlight(text, o.entities.map(e => ({ start: e.start, end: e.end, tag: e.type, score: e.score })))));
  if (o.answers) {
    const best = o.answers.slice(0, 1).map(x => ({ start: x.start, end: x.end, tag: x.score.toFixed(2), score: x.score }));
    out.push(h('p', { id: 'try-answer' }, highlight(text2 ?? text, best)),
      h('ol', {}, o.answers.map(x => h('li', {}, `${x.text} (${x.score.toFixed(3)})`))));
  }
  if (o.embedding) out.push(h('p', {}, `a vector of ${o.embedding.length} floats: [${o.embedding.slice(0, 6).map(v => v.toFixed(4)).join(', ')}, …]`));
  return out;
}

function highlight(text, spans) {
  const parts = [];
  let at = 0;
  for (const s of spans.slice().sort((a, b) => a.start - b.start)) {
    if (s.start < at) continue;
    parts.push(text.slice(at, s.start), h('mark', { title: `${s.tag} ${s.score.toFixed(3)}` }, text.slice(s.start, s.end), h('span', { class: 'tag' }, s.tag)));
    at = s.end;
  }
  parts.push(text.slice(at));
  return parts;
}

// ---- compare ----------------------------------------------------------------------------------------------------
async function comparePage(ids) {
  const runs = await Promise.all(ids.map(id => api('/api/run?id=' + enc(id))));
  const logs = await Promise.all(ids.map(id => api('/api/run/log?id=' + enc(id))));
  const opts = runs.map(r => ({ ...(r.run.json?.options || {}), task: r.summary.task, data: r.summary.train_file, [r.summary.metric || 'metric']: r.summary.value }));
  const keys = [...new Set(opts.flatMap(o => Object.keys(o)))];
  const differs = k => new Set(opts.map(o => JSON.stringify(o[k] ?? null))).size > 1;
  const onlyDiff = h('input', { type: 'checkbox', id: 'only-diff', checked: true, onchange: () => body.replaceChildren(...rows()) });
  const rows = () => keys.filter(k => !onlyDiff.checked || differs(k)).map(k => h('tr', { class: differs(k) ? 'diff' : null },
    h('th', {}, k), opts.map(o => h('td', { class: typeof o[k] === 'number' ? 'num' : null }, fmt(o[k])))));
  const body = h('tbody', {}, rows());
  main.replaceChildren(h('h1', {}, `Compare ${ids.length} runs`),
    h('h2', {}, 'Options'), h('label', {}, onlyDiff, ' only what differs'),
    h('table', { id: 'compare-options' }, h('thead', {}, h('tr', {}, h('th', {}, ''), ids.map(id => h('th', {}, runLink(id))))), body),
    h('h2', {}, 'Validation curves'), h('div', { class: 'grid' }, h('div', { id: 'compare-valid' }), h('div', { id: 'compare-loss' })));
  const epochs = [...new Set(logs.flatMap(l => l.epochs.map(e => e.epoch)))].sort((a, b) => a - b);
  const series = ids.map((id, i) => ({ label: id, stroke: palette[i % palette.length], points: { show: true, size: 7 }, spanGaps: true }));
  if (epochs.length) {
    chart(document.getElementById('compare-valid'), 'validation ' + (logs.find(l => l.metric)?.metric || ''), series,
      [epochs, ...logs.map(l => epochs.map(e => l.epochs.find(x => x.epoch === e)?.validation ?? null))], { xLabel: 'epoch' });
  }
  const steps = [...new Set(logs.flatMap(l => l.steps.map(s => s.step)))].sort((a, b) => a - b);
  if (steps.length) {
    chart(document.getElementById('compare-loss'), 'training loss', ids.map((id, i) => ({ label: id, stroke: palette[i % palette.length], spanGaps: true })),
      [steps, ...logs.map(l => { const m = new Map(l.steps.map(s => [s.step, s.loss])); return steps.map(s => m.get(s) ?? null); })]);
  }
}

// ---- sweep ------------------------------------------------------------------------------------------------------
async function sweepPage(id) {
  const s = await api('/api/sweep?id=' + enc(id));
  const optionKeys = [...new Set(s.rows.flatMap(r => Object.keys(r.options)))];
  const numeric = v => v !== undefined && v !== '' && !isNaN(Number(v)) ? Number(v) : v;
  const selected = new Set();
  const compare = h('button', { id: 'compare', disabled: true, onclick: () => location.hash = '#/compare/' + [...selected].map(enc).join(',') }, 'Compare selected');
  const columns = [
    { title: '', value: () => '', cell: r => r.run_id ? h('input', { type: 'checkbox', onchange: e => {
      e.target.checked ? selected.add(r.run_id) : selected.delete(r.run_id); compare.disabled = selected.size < 2; } }) : '' },
    { title: 'trial', value: r => r.name, cell: r => [r.run_id ? runLink(r.run_id) : r.name, r.best ? ' ★' : ''] },
    ...optionKeys.map(k => ({ title: k, num: true, value: r => numeric(r.options[k]) })),
    { title: 'status', value: r => r.status },
    { title: 'metric', value: r => r.metric },
    { title: 'value', num: true, value: r => r.value },
    { title: 'training', num: true, value: r => r.training_seconds, cell: r => duration(r.training_seconds) },
  ];
  const parts = [h('h1', {}, 'Sweep ', h('code', {}, id), s.finished ? '' : ' (in progress)')];
  if (s.problem) parts.push(h('p', { class: 'problem' }, s.problem));
  parts.push(sortableTable(columns, s.rows, 'leaderboard'), compare);
  if (s.over_seeds) {
    const cols = Object.keys(s.over_seeds[0] || {});
    parts.push(h('h2', {}, 'Over seeds'), sortableTable(cols.map(c => ({ title: c, num: typeof s.over_seeds[0][c] === 'number', value: r => r[c] })), s.over_seeds, 'over-seeds'));
  }
  main.replaceChildren(...parts);
  if (!s.finished) timer = setTimeout(route, 3000);
}

// ---- routing ----------------------------------------------------------------------------------------------------
async function route() {
  clearTimeout(timer);
  // A refresh keeps what the user is typing: only redraw a run page with a try-it box when nothing was typed.
  const typed = document.getElementById('try-text')?.value;
  const hash = decodeURIComponent(location.hash.slice(1) || '/');
  const [, page, arg] = hash.match(/^\/([a-z]*)\/?(.*)$/) || [];
  if (typed && page === 'run' && main.dataset.page === hash) { timer = setTimeout(route, 2000); return; }
  while (charts.length) charts.pop().destroy();
  main.dataset.page = hash;
  try {
    if (page === 'run') await runPage(arg);
    else if (page === 'compare') await comparePage(arg.split(',').filter(Boolean));
    else if (page === 'sweep') await sweepPage(arg);
    else await runsPage();
    main.dataset.ready = hash;
  } catch (e) {
    main.replaceChildren(h('h1', {}, 'Not available'), h('p', { class: 'problem' }, e.message), h('p', {}, h('a', { href: '#/' }, 'all runs')));
    main.dataset.ready = hash;
  }
}
window.addEventListener('hashchange', route);
route();
