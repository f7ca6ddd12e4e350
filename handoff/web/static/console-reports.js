/* The supervisors' Reports view: today's KPIs against the team's targets, the QA metrics of a period over days
 * or weeks (charts drawn by uPlot, served from /static: uPlot.esm.js, MIT, see uPlot.LICENSE), a breakdown table
 * and the CSV download. Definitions: docs/metrics.md. Everything shown is built with el()/textContent. */

import uPlot from './uPlot.esm.js';
import { api, duration, el, toast } from './console-lib.js';

const DIMENSIONS = ['path', 'agent', 'team', 'tier', 'channel', 'category', 'reason', 'article'];
const TILES = {
  queue_wait_seconds: 'Queue wait (p90)', first_response_seconds: 'First response (p90)',
  resolution_seconds: 'Resolution (p90)', csat: 'CSAT', containment_rate: 'Containment',
  handoff_rate: 'Hand-off rate', sla_attainment: 'SLA attainment',
};
// The breakdown table's columns: [heading, metric, kind]; the CSV carries every metric.
const COLUMNS = [
  ['Conversations', 'conversations', 'n'], ['Containment', 'containment_rate', '%'], ['Hand-offs', 'handoffs', 'n'],
  ['Tickets', 'tickets', 'n'], ['Wait p50', 'queue_wait_p50', 's'], ['Wait p90', 'queue_wait_p90', 's'],
  ['1st response p50', 'first_response_p50', 's'], ['Handle', 'handle_time_mean', 's'],
  ['Resolution p50', 'resolution_time_p50', 's'], ['Abandoned', 'abandonment_rate', '%'],
  ['Transfers', 'transfers', 'n'], ['Reopened', 'reopen_rate', '%'], ['CSAT', 'csat_average', 'f'],
  ['CSAT responses', 'csat_response_rate', '%'], ['Helpful', 'helpfulness', '%'], ['SLA', 'sla_attainment', '%'],
];
const CHARTS = [
  { title: 'Volume', unit: 'n', series: [['conversations', 'Conversations'], ['handoffs', 'Hand-offs'], ['tickets', 'Tickets']] },
  { title: 'Rates', unit: '%', series: [['containment_rate', 'Containment'], ['handoff_rate', 'Hand-off rate'],
    ['sla_attainment', 'SLA attainment'], ['abandonment_rate', 'Abandonment']] },
  { title: 'Times (p90)', unit: 's', series: [['queue_wait_p90', 'Queue wait'], ['first_response_p90', 'First response'],
    ['resolution_time_p90', 'Resolution']] },
  { title: 'Satisfaction', unit: 'f', series: [['csat_average', 'CSAT (1-5)']] },
];
const COLORS = ['#2563eb', '#d97706', '#059669', '#dc2626'];

function shown(value, kind) {
  if (value == null) return '–';
  if (kind === '%') return `${(value * 100).toFixed(1)}%`;
  if (kind === 's') return duration(value);
  if (kind === 'f') return value.toFixed(2);
  return String(value);
}

const tileKind = (target) => (target.endsWith('_seconds') ? 's' : target === 'csat' ? 'f' : '%');
const isoDay = (date) => date.toISOString().slice(0, 10);

/** uPlot's stylesheet, once per page (the Practice tab's chart uses it too). */
export function stylesheet() {
  if (!document.querySelector('link[data-uplot]')) {
    document.head.append(el('link', { rel: 'stylesheet', href: '/static/uPlot.min.css', dataset: { uplot: '1' } }));
  }
}

export default class ReportsView {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.plots = [];
    stylesheet();
    const until = new Date(Date.now() + 86400000);
    const since = new Date(until.getTime() - 30 * 86400000);
    this.since = el('input', { type: 'date', value: isoDay(since), 'aria-label': 'From', 'data-testid': 'report-since' });
    this.until = el('input', { type: 'date', value: isoDay(until), 'aria-label': 'Until (excluded)', 'data-testid': 'report-until' });
    this.bucket = el('select', { 'aria-label': 'Bucket' }, el('option', { value: 'day', text: 'per day' }),
      el('option', { value: 'week', text: 'per week' }));
    this.by = el('select', { 'aria-label': 'Breakdown', 'data-testid': 'report-by' }, el('option', { value: 'agent', text: 'by agent' }),
      ...DIMENSIONS.filter((d) => d !== 'agent').map((d) => el('option', { value: d, text: `by ${d}` })));
    this.csv = el('a', { class: 'button', 'data-testid': 'report-csv', download: 'handoff-report.csv', text: 'Download CSV' });
    this.tiles = el('div', { class: 'kpi-tiles', 'data-testid': 'kpi-tiles' });
    this.charts = el('div', { class: 'report-charts', 'data-testid': 'report-charts' });
    this.table = el('div', { class: 'table-wrap report-table' });
    this.note = el('p', { class: 'report-note' });
    const form = el('form', { class: 'report-period', onsubmit: (ev) => { ev.preventDefault(); this.load(); } },
      el('label', {}, 'From ', this.since), el('label', {}, 'until ', this.until), this.bucket, this.by,
      el('button', { type: 'submit', text: 'Show' }), this.csv);
    root.append(el('h2', { text: 'Today against targets' }), this.tiles, el('h2', { text: 'Over time' }), form,
      this.note, this.charts, el('h2', { text: 'Breakdown' }), this.table);
  }

  show() { this.load(); }

  hide() {}

  query(extra = {}) {
    const params = new URLSearchParams({ since: this.since.value, until: this.until.value, ...extra });
    return params.toString();
  }

  async load() {
    this.csv.href = `/api/reports/export.csv?${this.query({ bucket: this.bucket.value, by: this.by.value })}`;
    try {
      const [today, series, summary] = await Promise.all([
        api('GET', '/api/reports/today'),
        api('GET', `/api/reports/timeseries?${this.query({ bucket: this.bucket.value })}`),
        api('GET', `/api/reports/summary?${this.query({ by: this.by.value })}`),
      ]);
      this.drawTiles(today);
      this.note.textContent = `Days in ${series.timezone}; ${this.bucket.value === 'week' ? 'weeks start on Monday' : 'one point per day'}. Definitions: docs/metrics.md.`;
      this.drawCharts(series);
      this.drawTable(summary);
    } catch (err) {
      toast(err.message, 'error');
    }
  }

  drawTiles(today) {
    this.tiles.replaceChildren(...today.tiles.map((tile) => {
      const kind = tileKind(tile.target);
      const state = tile.met == null ? 'none' : tile.met ? 'met' : 'missed';
      return el('div', { class: `kpi ${state}`, 'data-testid': `kpi-${tile.target}` },
        el('div', { class: 'kpi-label', text: TILES[tile.target] || tile.target }),
        el('div', { class: 'kpi-value', text: shown(tile.value, kind) }),
        el('div', { class: 'kpi-goal', text: `target ${tile.direction === 'max' ? '≤' : '≥'} ${shown(tile.goal, kind)}` }));
    }));
  }

  drawCharts(series) {
    this.plots.forEach((plot) => plot.destroy());
    this.plots = [];
    this.charts.replaceChildren();
    const xs = series.points.map((p) => Date.parse(`${p.start}T00:00:00Z`) / 1000);
    const width = Math.max(320, Math.min(560, (this.root.clientWidth || 1200) / 2 - 40));
    for (const chart of CHARTS) {
      const box = el('div', { class: 'report-chart', 'data-testid': 'report-chart' });
      this.charts.append(box);
      const scale = chart.unit === '%' ? (v) => (v == null ? null : v * 100) : chart.unit === 's' ? (v) => (v == null ? null : v / 60) : (v) => v;
      const data = [xs, ...chart.series.map(([metric]) => series.points.map((p) => scale(p.metrics[metric])))];
      const unit = { '%': '%', s: 'min', n: '', f: '' }[chart.unit];
      const options = {
        title: chart.title, width, height: 220, tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
        series: [{}, ...chart.series.map(([, label], i) => ({ label, stroke: COLORS[i], width: 2, spanGaps: true,
          points: { show: xs.length < 40 } }))],
        axes: [{}, { values: (u, ticks) => ticks.map((t) => `${t}${unit}`), size: 60 }],
      };
      this.plots.push(new uPlot(options, data, box));
    }
  }

  drawTable(summary) {
    const head = el('tr', {}, el('th', { text: summary.by || 'group' }), ...COLUMNS.map(([title]) => el('th', { text: title })));
    const row = (label, metrics, cls) => el('tr', { class: cls }, el('td', { text: label }),
      ...COLUMNS.map(([, metric, kind]) => el('td', { text: shown(metrics[metric], kind) })));
    const rows = summary.rows.map((r) => row(r.label, r.metrics));
    const total = row('all', summary.total, 'total');
    this.table.replaceChildren(el('table', { 'data-testid': 'report-table' }, el('thead', {}, head),
      el('tbody', {}, ...rows, total)));
    const reasons = Object.entries(summary.reasons);
    if (reasons.length) {
      this.table.append(el('p', { class: 'report-note',
        text: `Hand-off reasons: ${reasons.map(([code, n]) => `${code} ${n}`).join(', ')}` }));
    }
  }
}
