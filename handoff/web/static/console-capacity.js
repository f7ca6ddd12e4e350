/* The supervisors' Capacity view (docs/capacity.md, "The capacity page"): the forecast against the contacts that
 * came and the agents required against those scheduled per interval (charts drawn by uPlot, served from /static),
 * the understaffed intervals, a what-if on the roster and the targets that recomputes as it is edited, and the
 * routing simulator. Everything shown is built with el()/textContent: names and configurations stay text. */

import uPlot from './uPlot.esm.js';
import { api, duration, el, toast } from './console-lib.js';
import { number as formatNumber, t } from './i18n.js';

const COLORS = ['#2563eb', '#d97706', '#059669', '#dc2626'];
const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'];
const DEBOUNCE_MS = 300;
// Candidate routings the simulator offers (handoff/routing.yml's format); "custom" leaves the text as typed.
const PRESETS = {
  current: '',
  'no tier filter': 'strategies:\n  - {name: schedule, weight: 0.5, options: {wind_down_minutes: 15}}\n'
    + '  - {name: profile, weight: 2.0}\n  - {name: workload, weight: 1.0}\nqueue: {aging_seconds: 300}\n',
  'least busy only': 'strategies:\n  - {name: schedule, weight: 0.5}\n  - {name: tier, weight: 0}\n'
    + '  - {name: workload, weight: 1.0}\n',
};
const figures = () => [
  [t('capacity.fig.queued'), 'queued', 'n'], [t('capacity.fig.offline'), 'offline', 'n'], [t('reports.wait_p50'), 'wait_p50', 's'],
  [t('reports.wait_p90'), 'wait_p90', 's'], [t('capacity.service_level'), 'service_level', '%'],
  [t('reports.abandonment'), 'abandonment', '%'], [t('reports.transfers'), 'transfers', 'n'],
  [t('capacity.fig.sticky_hits'), 'sticky_hits', 'n'], [t('capacity.fig.sticky_rate'), 'sticky_rate', '%'],
  [t('capacity.fig.utilisation'), 'utilisation', '%'],
];

const isoDay = (date) => date.toISOString().slice(0, 10);
const percent = (value) => formatNumber(value, { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 });

function shown(value, kind) {
  if (value == null) return '–';
  if (kind === '%') return percent(value);
  if (kind === 's') return duration(value);
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

/** A spread {mean, min, max} as "mean (min–max)", or the mean alone when every run agreed. */
function spread(figure, kind) {
  if (figure == null || figure.mean == null) return '–';
  if (figure.min === figure.max) return shown(figure.mean, kind);
  return `${shown(figure.mean, kind)} (${shown(figure.min, kind)}–${shown(figure.max, kind)})`;
}

/** Shift windows as text: "mon-fri 09:00-17:00; sat 10:00-14:00" (empty: always on shift). */
export function shiftText(windows) {
  const byTime = new Map();
  for (const w of windows) {
    const key = `${w.start}-${w.end}`;
    byTime.set(key, [...(byTime.get(key) || []), w.weekday]);
  }
  const parts = [];
  for (const [times, days] of byTime) {
    const sorted = [...new Set(days)].sort((a, b) => a - b);
    let first = sorted[0];
    for (let i = 1; i <= sorted.length; i += 1) {
      if (i === sorted.length || sorted[i] !== sorted[i - 1] + 1) {
        const last = sorted[i - 1];
        parts.push(`${first === last ? DAYS[first] : `${DAYS[first]}-${DAYS[last]}`} ${times}`);
        first = sorted[i];
      }
    }
  }
  return parts.join('; ');
}

/** The windows of a shift's text, or throw an Error saying what is wrong. */
export function parseShift(text) {
  const windows = [];
  for (const part of text.split(';').map((p) => p.trim()).filter(Boolean)) {
    const match = /^([a-z]{3})(?:-([a-z]{3}))? +(\d\d:\d\d)-(\d\d:\d\d)$/i.exec(part);
    if (!match) throw new Error(t('capacity.shift.format', { part }));
    const from = DAYS.indexOf(match[1].toLowerCase());
    const to = match[2] ? DAYS.indexOf(match[2].toLowerCase()) : from;
    if (from < 0 || to < from) throw new Error(t('capacity.shift.days', { part }));
    const [, , , start, end] = match;
    if (!/^([01]\d|2[0-3]):[0-5]\d$/.test(start) || !/^([01]\d|2[0-3]):[0-5]\d$/.test(end)) throw new Error(t('capacity.shift.times', { part }));
    if (end !== '00:00' && end <= start) throw new Error(t('capacity.shift.order', { part }));
    for (let day = from; day <= to; day += 1) windows.push({ weekday: day, start, end });
  }
  return windows;
}

function stylesheet() {
  if (!document.querySelector('link[data-uplot]')) {
    document.head.append(el('link', { rel: 'stylesheet', href: '/static/uPlot.min.css', dataset: { uplot: '1' } }));
  }
}

function drawChart(box, title, xs, series, width) {
  const options = {
    title, width, height: 240, tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), 'Etc/UTC'),
    series: [{}, ...series.map(([label], i) => ({ label, stroke: COLORS[i], width: 2, spanGaps: false,
      points: { show: xs.length < 60 } }))],
    axes: [{}, { size: 50 }],
  };
  box.dataset.points = String(series.map(([, values]) => values.filter((v) => v != null).length).join(','));
  return new uPlot(options, [xs, ...series.map(([, values]) => values)], box);
}

export default class CapacityView {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.plots = {};
    this.plan = null; // the last plan's answer (its roster is what the what-if starts from)
    this.timer = null;
    this.asked = 0; // what-if requests sent; only the latest one's answer is drawn
    stylesheet();
    const today = new Date();
    this.since = el('input', { type: 'date', value: isoDay(new Date(today.getTime() - 7 * 86400000)), 'aria-label': t('reports.from') });
    this.until = el('input', { type: 'date', value: isoDay(new Date(today.getTime() + 86400000)), 'aria-label': t('reports.until_excluded') });
    this.forecastChart = el('div', { class: 'report-chart', 'data-testid': 'capacity-forecast-chart' });
    this.forecastNote = el('p', { class: 'report-note', 'data-testid': 'capacity-forecast-note' });
    const forecastForm = el('form', { class: 'report-period', onsubmit: (ev) => { ev.preventDefault(); this.loadForecast(); } },
      el('label', {}, t('reports.from'), ' ', this.since), el('label', {}, t('reports.until'), ' ', this.until),
      el('button', { type: 'submit', text: t('automation.show') }));

    this.first = el('input', { type: 'date', value: isoDay(new Date(today.getTime() + 86400000)), 'aria-label': t('capacity.first_day'), 'data-testid': 'capacity-first' });
    this.days = el('select', { 'aria-label': t('capacity.days') }, el('option', { value: '1', text: t('capacity.n_days', { count: 1 }) }),
      el('option', { value: '7', text: t('capacity.n_days', { count: 7 }), selected: true }),
      el('option', { value: '14', text: t('capacity.n_days', { count: 14 }) }));
    this.interval = el('select', { 'aria-label': t('capacity.interval') },
      el('option', { value: '15', text: t('capacity.n_min', { count: 15 }) }),
      el('option', { value: '30', text: t('capacity.n_min', { count: 30 }), selected: true }),
      el('option', { value: '60', text: t('capacity.n_min', { count: 60 }) }));
    const planForm = el('form', { class: 'report-period', onsubmit: (ev) => { ev.preventDefault(); this.loadPlan(); } },
      el('label', {}, t('reports.from'), ' ', this.first), this.days, this.interval,
      el('button', { type: 'submit', text: t('capacity.plan') }));
    const number = (label, testid, attrs) => {
      const input = el('input', { type: 'number', 'aria-label': label, 'data-testid': testid, ...attrs,
        oninput: () => this.schedule() });
      return [input, el('label', {}, `${label} `, input)];
    };
    [this.level, this.levelLabel] = number(t('capacity.level'), 'capacity-level', { min: 1, max: 99, step: 1 });
    [this.within, this.withinLabel] = number(t('capacity.within'), 'capacity-within', { min: 0, max: 86400, step: 1 });
    [this.occupancy, this.occupancyLabel] = number(t('capacity.occupancy'), 'capacity-occupancy', { min: 1, max: 100, step: 1 });
    [this.shrinkage, this.shrinkageLabel] = number(t('capacity.shrinkage'), 'capacity-shrinkage', { min: 0, max: 99, step: 1 });
    this.summary = el('p', { class: 'capacity-summary', 'data-testid': 'capacity-understaffed' });
    this.planNote = el('p', { class: 'report-note' });
    this.planChart = el('div', { class: 'report-chart', 'data-testid': 'capacity-plan-chart' });
    this.short = el('div', { class: 'table-wrap report-table' });
    this.roster = el('tbody', {});
    const rosterTable = el('table', { 'data-testid': 'capacity-roster' }, el('thead', {}, el('tr', {},
      el('th', { text: t('board.agent') }), el('th', { text: t('capacity.chats') }),
      el('th', { text: t('capacity.shift_head') }), el('th', { text: '' }))), this.roster);
    const rosterButtons = el('div', { class: 'report-period' },
      el('button', { type: 'button', 'data-testid': 'capacity-add-agent', text: t('capacity.add_agent'), onclick: () => this.addAgent() }),
      el('button', { type: 'button', text: t('capacity.reset_roster'), onclick: () => this.resetRoster() }));

    this.simSince = el('input', { type: 'date', value: isoDay(new Date(today.getTime() - 7 * 86400000)), 'aria-label': t('capacity.replay_from') });
    this.simUntil = el('input', { type: 'date', value: isoDay(today), 'aria-label': t('capacity.replay_until') });
    this.preset = el('select', { 'aria-label': t('capacity.candidate'), onchange: () => { this.routing.value = PRESETS[this.preset.value] ?? this.routing.value; } },
      ...Object.keys(PRESETS).map((name) => el('option', { value: name, text: name === 'current' ? t('capacity.current_routing') : name })),
      el('option', { value: 'custom', text: t('capacity.custom') }));
    this.routing = el('textarea', { rows: 7, cols: 60, spellcheck: 'false', 'aria-label': t('capacity.routing_label'),
      placeholder: t('capacity.routing_placeholder'), 'data-testid': 'capacity-routing',
      oninput: () => { this.preset.value = 'custom'; } });
    this.seeds = el('input', { type: 'number', min: 1, max: 5, value: 3, 'aria-label': t('capacity.seeds') });
    this.useRoster = el('input', { type: 'checkbox', 'aria-label': t('capacity.use_roster_label') });
    this.runButton = el('button', { type: 'submit', text: t('capacity.run'), 'data-testid': 'capacity-simulate' });
    this.simResult = el('div', { class: 'table-wrap report-table', 'data-testid': 'capacity-simulation' });
    const simForm = el('form', { class: 'capacity-simulator', onsubmit: (ev) => { ev.preventDefault(); this.simulate(); } },
      el('div', { class: 'report-period' }, el('label', {}, t('capacity.replay_from'), ' ', this.simSince),
        el('label', {}, t('reports.until'), ' ', this.simUntil), this.preset,
        el('label', {}, t('capacity.seeds_word'), ' ', this.seeds), el('label', {}, this.useRoster, ' ', t('capacity.use_roster'))),
      this.routing, el('div', {}, this.runButton));

    root.append(
      el('h2', { text: t('capacity.forecast_title') }), forecastForm, this.forecastNote, this.forecastChart,
      el('h2', { text: t('capacity.staffing_title') }), planForm,
      el('div', { class: 'report-period' }, this.levelLabel, this.withinLabel, this.occupancyLabel, this.shrinkageLabel),
      this.summary, this.planNote, this.planChart, el('h3', { text: t('capacity.understaffed') }), this.short,
      el('h2', { text: t('capacity.whatif_title') }),
      el('p', { class: 'report-note', text: t('capacity.whatif_intro') }),
      el('div', { class: 'table-wrap' }, rosterTable), rosterButtons,
      el('h2', { text: t('capacity.simulator_title') }),
      el('p', { class: 'report-note', text: t('capacity.simulator_intro') }),
      simForm, this.simResult);
  }

  show() {
    if (!this.plan) {
      this.loadForecast();
      this.loadPlan();
    }
  }

  hide() { clearTimeout(this.timer); }

  width() { return Math.max(360, Math.min(1100, (this.root.clientWidth || 1200) - 40)); }

  async loadForecast() {
    try {
      const params = new URLSearchParams({ since: this.since.value, until: this.until.value, interval: this.interval.value });
      const found = await api('GET', `/api/capacity/forecast?${params}`);
      const xs = found.intervals.map((row) => Date.parse(row.start) / 1000);
      if (this.plots.forecast) this.plots.forecast.destroy();
      this.forecastChart.replaceChildren();
      this.plots.forecast = drawChart(this.forecastChart, t('capacity.contacts_chart'), xs, [
        [t('capacity.forecast'), found.intervals.map((row) => row.forecast)],
        [t('capacity.came'), found.intervals.map((row) => row.actual)]], this.width());
      const wape = found.wape == null ? '' : t('capacity.wape', { wape: percent(found.wape) });
      this.forecastNote.textContent = found.forecast_error
        ? found.forecast_error
        : t('capacity.forecast_note', { minutes: found.interval_seconds / 60, timezone: found.timezone, since: found.since,
          expected: found.forecast_total.toFixed(1), came: found.actual_total }) + wape;
    } catch (err) {
      toast(err.message, 'error');
    }
  }

  async loadPlan() {
    const params = new URLSearchParams({ first: this.first.value, days: this.days.value, interval: this.interval.value });
    try {
      const plan = await api('GET', `/api/capacity/plan?${params}`);
      this.plan = plan;
      if (plan.available) {
        this.level.value = Math.round(plan.target.service_level * 100);
        this.within.value = plan.target.within;
        this.occupancy.value = Math.round(plan.target.occupancy * 100);
        this.shrinkage.value = Math.round(plan.target.shrinkage * 100);
      }
      this.drawRoster(plan.roster);
      this.drawPlan(plan);
    } catch (err) {
      toast(err.message, 'error');
    }
  }

  resetRoster() {
    if (!this.plan) return;
    this.drawRoster(this.plan.roster);
    this.schedule();
  }

  drawRoster(agents) {
    this.roster.replaceChildren(...agents.map((agent) => this.rosterRow(agent)));
  }

  rosterRow(agent) {
    const name = el('input', { type: 'text', value: agent.name, maxlength: 200, 'aria-label': t('board.agent'), oninput: () => this.schedule() });
    const capacity = el('input', { type: 'number', min: 1, max: 50, value: agent.capacity, 'aria-label': t('capacity.chats'),
      oninput: () => this.schedule() });
    const shift = el('input', { type: 'text', size: 40, value: shiftText(agent.shift), 'aria-label': t('capacity.shift_of', { name: agent.name }),
      'data-testid': 'capacity-shift', oninput: () => this.schedule() });
    const row = el('tr', { dataset: { agent: agent.id } }, el('td', {}, name), el('td', {}, capacity), el('td', {}, shift),
      el('td', {}, el('button', { type: 'button', text: t('capacity.remove'), onclick: () => { row.remove(); this.schedule(); } })));
    row.agent = agent;
    row.fields = { name, capacity, shift };
    return row;
  }

  addAgent() {
    const taken = new Set([...this.roster.children].map((row) => row.agent.id));
    let n = 1;
    while (taken.has(`new-${n}`)) n += 1;
    this.roster.append(this.rosterRow({ id: `new-${n}`, name: t('capacity.new_agent', { n }), capacity: 3, tiers: [1], languages: ['en'],
      skills: [], timezone: 'UTC', shift: parseShift('mon-fri 09:00-17:00') }));
    this.schedule();
  }

  /** The roster as edited, or null (the faulty field marked) when a field does not parse. */
  editedRoster() {
    let ok = true;
    const agents = [...this.roster.children].map((row) => {
      const { name, capacity, shift } = row.fields;
      let windows = [];
      try {
        windows = parseShift(shift.value);
        shift.setCustomValidity('');
        shift.title = '';
      } catch (err) {
        shift.setCustomValidity(err.message);
        shift.title = err.message;
        ok = false;
      }
      const chats = Number(capacity.value);
      if (!Number.isInteger(chats) || chats < 1 || chats > 50) ok = false;
      return { ...row.agent, name: name.value.slice(0, 200) || row.agent.id, capacity: chats, shift: windows };
    });
    return ok ? agents : null;
  }

  target() {
    return { service_level: Number(this.level.value) / 100, within: Number(this.within.value),
      occupancy: Number(this.occupancy.value) / 100, shrinkage: Number(this.shrinkage.value) / 100 };
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.whatIf(), DEBOUNCE_MS);
  }

  async whatIf() {
    if (!this.plan || !this.plan.available) return;
    const agents = this.editedRoster();
    if (!agents) {
      this.planNote.textContent = t('capacity.invalid_roster');
      return;
    }
    const asked = ++this.asked;
    try {
      const answer = await api('POST', '/api/capacity/what-if', { first: this.plan.first, days: this.plan.days,
        interval: this.plan.interval_seconds / 60, target: this.target(), agents });
      if (asked === this.asked) this.drawPlan(answer, true);
    } catch (err) {
      if (asked === this.asked) toast(err.message, 'error');
    }
  }

  drawPlan(plan, edited = false) {
    if (this.plots.plan) this.plots.plan.destroy();
    this.plots.plan = null;
    this.planChart.replaceChildren();
    if (!plan.available) {
      this.summary.textContent = plan.reason;
      this.planNote.textContent = '';
      this.short.replaceChildren();
      return;
    }
    const rows = plan.intervals;
    const short = rows.filter((row) => row.understaffed);
    this.summary.textContent = t('capacity.summary', { short: short.length, count: rows.length })
      + (edited ? t('capacity.whatif_suffix') : '');
    this.summary.dataset.count = String(short.length);
    const m = plan.measured;
    this.planNote.textContent = t('capacity.plan_note', { demand: plan.demand_source.replace(/\.$/, ''),
      handle: duration(m.handle_seconds),
      patience: m.patience_seconds ? t('capacity.patience', { time: duration(m.patience_seconds) }) : t('capacity.no_patience'),
      concurrency: m.concurrency.toFixed(2), since: m.since.slice(0, 10), until: m.until.slice(0, 10), tickets: m.tickets,
      timezone: plan.timezone });
    const xs = rows.map((row) => Date.parse(row.start) / 1000);
    this.plots.plan = drawChart(this.planChart, t('capacity.agents_chart'), xs, [
      [t('capacity.required'), rows.map((row) => row.required)], [t('capacity.scheduled'), rows.map((row) => row.scheduled)],
      [t('capacity.demand_contacts'), rows.map((row) => row.demand)]], this.width());
    const head = el('tr', {}, ...[t('capacity.interval'), t('capacity.demand'), t('capacity.required'), t('capacity.scheduled'),
      t('capacity.gap'), t('capacity.service_level'), t('capacity.mean_wait'), t('capacity.abandon')]
      .map((text) => el('th', { text })));
    const body = short.map((row) => el('tr', {}, el('td', { text: row.start.slice(0, 16).replace('T', ' ') }),
      el('td', { text: row.demand.toFixed(2) }), el('td', { text: String(row.required) }), el('td', { text: row.scheduled.toFixed(1) }),
      el('td', { text: row.gap.toFixed(1) }), el('td', { text: shown(row.service_level, '%') }),
      el('td', { text: row.mean_wait == null ? '∞' : duration(row.mean_wait) }), el('td', { text: shown(row.abandonment, '%') })));
    this.short.replaceChildren(body.length
      ? el('table', { 'data-testid': 'capacity-short-table' }, el('thead', {}, head), el('tbody', {}, ...body))
      : el('p', { class: 'report-note', text: t('capacity.none_short') }));
  }

  async simulate() {
    const body = { since: this.simSince.value, until: this.simUntil.value, seeds: Number(this.seeds.value) || 3 };
    if (this.routing.value.trim()) body.routing = this.routing.value;
    if (this.useRoster.checked) {
      const agents = this.editedRoster();
      if (!agents) { toast(t('capacity.fix_roster'), 'error'); return; }
      body.agents = agents;
    }
    this.runButton.disabled = true;
    this.simResult.replaceChildren(el('p', { class: 'report-note', text: t('capacity.simulating') }));
    try {
      this.drawSimulation(await api('POST', '/api/capacity/simulate', body));
    } catch (err) {
      this.simResult.replaceChildren();
      toast(err.message, 'error');
    } finally {
      this.runButton.disabled = false;
    }
  }

  drawSimulation(result) {
    const head = el('tr', {}, el('th', { text: '' }), el('th', { text: t('capacity.measured') }), el('th', { text: t('capacity.current') }),
      el('th', { text: t('capacity.candidate_col') }));
    const measured = result.measured.overall;
    const rows = figures().map(([label, key, kind]) => el('tr', {}, el('td', { text: label }),
      el('td', { text: key in measured ? shown(measured[key], kind) : '' }),
      el('td', { text: spread(result.current.overall[key], kind) }), el('td', { text: spread(result.candidate.overall[key], kind) })));
    this.simResult.replaceChildren(
      el('p', { class: 'report-note', text: t('capacity.sim_note', { handoffs: result.handoffs, since: result.since, until: result.until,
        timezone: result.timezone, seeds: result.seeds.length, within: duration(result.target_seconds) }) }),
      el('table', { 'data-testid': 'capacity-simulation-table' }, el('thead', {}, head), el('tbody', {}, ...rows)));
  }
}
