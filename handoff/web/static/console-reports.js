/* The supervisors' Reports view: today's KPIs against the team's targets, the QA metrics of a period over days
 * or weeks (charts drawn by uPlot, served from /static: uPlot.esm.js, MIT, see uPlot.LICENSE), a breakdown table
 * and the CSV download. Definitions: docs/metrics.md. Everything shown is built with el()/textContent. */

import uPlot from './uPlot.esm.js';
import { api, duration, el, toast } from './console-lib.js';
import { number, t } from './i18n.js';

const DIMENSIONS = ['path', 'agent', 'team', 'tier', 'channel', 'category', 'reason', 'article'];
// Labels are functions: the catalog is read when a view draws, not when the module loads.
const tiles = () => ({
  queue_wait_seconds: t('reports.tile.queue_wait'), first_response_seconds: t('reports.tile.first_response'),
  resolution_seconds: t('reports.tile.resolution'), csat: t('reports.csat'), containment_rate: t('reports.containment'),
  handoff_rate: t('reports.handoff_rate'), sla_attainment: t('reports.sla_attainment'),
});
// The breakdown table's columns: [heading, metric, kind]; the CSV carries every metric.
const columns = () => [
  [t('tab.conversations'), 'conversations', 'n'], [t('reports.containment'), 'containment_rate', '%'],
  [t('reports.handoffs'), 'handoffs', 'n'], [t('tab.tickets'), 'tickets', 'n'], [t('reports.wait_p50'), 'queue_wait_p50', 's'],
  [t('reports.wait_p90'), 'queue_wait_p90', 's'], [t('reports.first_response_p50'), 'first_response_p50', 's'],
  [t('reports.handle'), 'handle_time_mean', 's'], [t('reports.resolution_p50'), 'resolution_time_p50', 's'],
  [t('reports.abandoned'), 'abandonment_rate', '%'], [t('reports.transfers'), 'transfers', 'n'],
  [t('reports.reopened'), 'reopen_rate', '%'], [t('reports.csat'), 'csat_average', 'f'],
  [t('reports.csat_responses'), 'csat_response_rate', '%'], [t('reports.helpful'), 'helpfulness', '%'],
  [t('reports.sla'), 'sla_attainment', '%'],
];
const charts = () => [
  { title: t('reports.chart.volume'), unit: 'n', series: [['conversations', t('tab.conversations')],
    ['handoffs', t('reports.handoffs')], ['tickets', t('tab.tickets')]] },
  { title: t('reports.chart.rates'), unit: '%', series: [['containment_rate', t('reports.containment')],
    ['handoff_rate', t('reports.handoff_rate')], ['sla_attainment', t('reports.sla_attainment')],
    ['abandonment_rate', t('reports.abandonment')]] },
  { title: t('reports.chart.times'), unit: 's', series: [['queue_wait_p90', t('reports.queue_wait')],
    ['first_response_p90', t('reports.first_response')], ['resolution_time_p90', t('reports.resolution')]] },
  { title: t('reports.chart.satisfaction'), unit: 'f', series: [['csat_average', t('reports.csat_scale')]] },
];
const COLORS = ['#2563eb', '#d97706', '#059669', '#dc2626'];

function shown(value, kind) {
  if (value == null) return '–';
  if (kind === '%') return number(value, { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 });
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
    this.since = el('input', { type: 'date', value: isoDay(since), 'aria-label': t('reports.from'), 'data-testid': 'report-since' });
    this.until = el('input', { type: 'date', value: isoDay(until), 'aria-label': t('reports.until_excluded'), 'data-testid': 'report-until' });
    const dimensions = { path: t('reports.by.path'), agent: t('reports.by.agent'), team: t('reports.by.team'),
      tier: t('reports.by.tier'), channel: t('reports.by.channel'), category: t('reports.by.category'),
      reason: t('reports.by.reason'), article: t('reports.by.article') };
    this.bucket = el('select', { 'aria-label': t('reports.bucket') }, el('option', { value: 'day', text: t('reports.per_day') }),
      el('option', { value: 'week', text: t('reports.per_week') }));
    this.by = el('select', { 'aria-label': t('reports.breakdown'), 'data-testid': 'report-by' },
      el('option', { value: 'agent', text: dimensions.agent }),
      ...DIMENSIONS.filter((d) => d !== 'agent').map((d) => el('option', { value: d, text: dimensions[d] || d })));
    this.csv = el('a', { class: 'button', 'data-testid': 'report-csv', download: 'handoff-report.csv', text: t('reports.csv') });
    this.tiles = el('div', { class: 'kpi-tiles', 'data-testid': 'kpi-tiles' });
    this.charts = el('div', { class: 'report-charts', 'data-testid': 'report-charts' });
    this.table = el('div', { class: 'table-wrap report-table' });
    this.note = el('p', { class: 'report-note' });
    const form = el('form', { class: 'report-period', onsubmit: (ev) => { ev.preventDefault(); this.load(); } },
      el('label', {}, t('reports.from'), ' ', this.since), el('label', {}, t('reports.until'), ' ', this.until), this.bucket,
      this.by, el('button', { type: 'submit', text: t('automation.show') }), this.csv);
    root.append(el('h2', { text: t('reports.today') }), this.tiles, el('h2', { text: t('reports.over_time') }), form,
      this.note, this.charts, el('h2', { text: t('reports.breakdown') }), this.table);
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
      this.note.textContent = this.bucket.value === 'week' ? t('reports.note_weeks', { timezone: series.timezone })
        : t('reports.note_days', { timezone: series.timezone });
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
        el('div', { class: 'kpi-label', text: tiles()[tile.target] || tile.target }),
        el('div', { class: 'kpi-value', text: shown(tile.value, kind) }),
        el('div', { class: 'kpi-goal', text: t('reports.target', { op: tile.direction === 'max' ? '≤' : '≥', goal: shown(tile.goal, kind) }) }));
    }));
  }

  drawCharts(series) {
    this.plots.forEach((plot) => plot.destroy());
    this.plots = [];
    this.charts.replaceChildren();
    const xs = series.points.map((p) => Date.parse(`${p.start}T00:00:00Z`) / 1000);
    const width = Math.max(320, Math.min(560, (this.root.clientWidth || 1200) / 2 - 40));
    for (const chart of charts()) {
      const box = el('div', { class: 'report-chart', 'data-testid': 'report-chart' });
      this.charts.append(box);
      const scale = chart.unit === '%' ? (v) => (v == null ? null : v * 100) : chart.unit === 's' ? (v) => (v == null ? null : v / 60) : (v) => v;
      const data = [xs, ...chart.series.map(([metric]) => series.points.map((p) => scale(p.metrics[metric])))];
      const unit = { '%': '%', s: t('reports.min'), n: '', f: '' }[chart.unit];
      const options = {
        title: chart.title, width, height: 220, tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
        series: [{}, ...chart.series.map(([, label], i) => ({ label, stroke: COLORS[i], width: 2, spanGaps: true,
          points: { show: xs.length < 40 } }))],
        axes: [{}, { values: (u, ticks) => ticks.map((v) => `${v}${unit}`), size: 60 }],
      };
      this.plots.push(new uPlot(options, data, box));
    }
  }

  drawTable(summary) {
    const cols = columns();
    const head = el('tr', {}, el('th', { text: summary.by || t('reports.group') }), ...cols.map(([title]) => el('th', { text: title })));
    const row = (label, metrics, cls) => el('tr', { class: cls }, el('td', { text: label }),
      ...cols.map(([, metric, kind]) => el('td', { text: shown(metrics[metric], kind) })));
    const rows = summary.rows.map((r) => row(r.label, r.metrics));
    const total = row(t('reports.all'), summary.total, 'total');
    this.table.replaceChildren(el('table', { 'data-testid': 'report-table' }, el('thead', {}, head),
      el('tbody', {}, ...rows, total)));
    const reasons = Object.entries(summary.reasons);
    if (reasons.length) {
      this.table.append(el('p', { class: 'report-note',
        text: t('reports.reasons', { reasons: reasons.map(([code, n]) => `${code} ${n}`).join(', ') }) }));
    }
  }
}
