/* The Models tab's A/B trials (docs/training.md, "A/B trials"): start a trial of a version that passed the gate on
 * a share of the new conversations, follow both arms (conversations, hand-off and containment rates, ratings, the
 * tests' p-values and the verdict, which waits for the planned sample; a chart of each arm's hand-off rate as
 * the trial's conversations come in), end it or promote the candidate; the ended trials' results. Text is set with textContent only. */
import uPlot from './uPlot.esm.js';
import { el, api, toast, dateTime } from './console-lib.js';
import { stylesheet } from './console-reports.js';
import { number, t } from './i18n.js';

const ARMS = ['live', 'candidate'];
const outcomes = () => ({ ended: t('trials.outcome.ended'), promoted: t('trials.outcome.promoted'),
  'rolled back': t('trials.outcome.rolled_back') });
const verdicts = (params) => ({ collecting: t('trials.verdict.collecting', params),
  better: t('trials.verdict.better', params), worse: t('trials.verdict.worse', params),
  mixed: t('trials.verdict.mixed', params), no_difference: t('trials.verdict.no_difference', params) });
const percent = (x) => (x == null ? '–' : `${number(Math.round(x * 1000) / 10)}%`);
const plain = (x) => (x == null ? '–' : number(x));
const pValue = (p) => (p == null ? '–' : p < 0.001 ? '< 0.001' : number(Math.round(p * 1000) / 1000));
const points = (x) => (x == null ? '–' : `${x > 0 ? '+' : ''}${number(Math.round(x * 1000) / 10)}`);

export default class TrialsPanel {
  constructor(root, reload) {
    this.reload = reload; // the Models tab's load(): versions and the live one change with a promotion
    this.plot = null;
    this.status = el('p', { 'data-testid': 'trial-status' });
    this.form = el('form', { class: 'inbox-toolbar', 'data-testid': 'trial-form', onsubmit: (e) => { e.preventDefault(); this.start(); } });
    this.candidate = el('select', { 'data-testid': 'trial-version', 'aria-label': t('trials.candidate') });
    this.share = el('input', { type: 'number', min: '1', max: '50', step: '1', value: '10', required: true,
      'data-testid': 'trial-share', 'aria-label': t('trials.share') });
    this.form.append(el('label', {}, t('trials.candidate'), ' ', this.candidate),
      el('label', {}, t('trials.share'), ' ', this.share, ' %'),
      el('button', { type: 'submit', class: 'primary', 'data-testid': 'trial-start' }, t('trials.start')));
    this.actions = el('div', { class: 'inbox-toolbar', hidden: true },
      el('button', { type: 'button', 'data-testid': 'trial-end', onclick: () => this.end() }, t('trials.end')),
      el('button', { type: 'button', class: 'primary', 'data-testid': 'trial-promote', onclick: () => this.promote() },
        t('trials.promote')),
      el('button', { type: 'button', 'data-testid': 'trial-refresh', onclick: () => this.results(null) }, t('models.refresh')));
    this.result = el('div', { 'data-testid': 'trial-results' });
    this.ended = el('tbody', {});
    root.append(el('section', { class: 'models-trials', 'data-testid': 'trials' },
      el('h3', { text: t('trials.title') }),
      el('p', { class: 'muted', text: t('trials.intro') }),
      this.status, this.form, this.actions, this.result,
      el('h4', { text: t('trials.ended') }),
      el('div', { class: 'table-wrap' }, el('table', { 'data-testid': 'trials-ended' },
        el('thead', {}, el('tr', {}, ...[t('trials.col.trial'), t('trials.col.candidate'), t('trials.col.share'),
          t('trials.col.started'), t('trials.col.ended'), t('trials.col.outcome'), ''].map((h) => el('th', { text: h })))),
        this.ended))));
  }

  /** Draw the trials from ``GET /api/models/trials``, with ``versions`` and ``live`` of the Models tab. */
  async load(versions, live) {
    let page;
    try {
      page = await api('GET', '/api/models/trials');
    } catch (e) { toast(e.message, 'error'); return; }
    this.running = page.running;
    this.share.max = String(Math.round((page.max_share || 0.5) * 100));
    const eligible = versions.filter((v) => v.version !== live && v.gate && v.gate.passed);
    this.candidate.replaceChildren(...eligible.map((v) => el('option', { value: v.version, text: v.version })));
    this.form.hidden = Boolean(page.running) || !eligible.length;
    this.actions.hidden = !page.running;
    const r = page.running;
    this.status.textContent = r ? t('trials.running', { version: r.version, share: percent(r.share),
      live: r.live || '–', since: dateTime(r.started_at), by: r.started_by })
      : eligible.length ? t('trials.none') : t('trials.none_eligible');
    this.ended.replaceChildren(...page.ended.map((e) => el('tr', { 'data-testid': 'trials-ended-row', 'data-trial': e.id },
      el('td', { text: e.id }), el('td', { text: e.version }), el('td', { text: percent(e.share) }),
      el('td', { text: dateTime(e.started_at) }), el('td', { text: dateTime(e.ended_at) }),
      el('td', { text: outcomes()[e.outcome] || e.outcome || '' }),
      el('td', {}, el('button', { type: 'button', class: 'small', 'data-testid': 'trials-open',
        onclick: () => this.results(e.id) }, t('trials.show'))))));
    if (page.running) await this.results(null);
    else this.clear();
  }

  clear() {
    if (this.plot) this.plot.destroy();
    this.plot = null;
    this.result.replaceChildren();
  }

  async results(trialId) {
    let r;
    try {
      r = await api('GET', `/api/models/trials/${trialId ? encodeURIComponent(trialId) : 'current'}`);
    } catch (e) { toast(e.message, 'error'); return; }
    this.clear();
    const a = r.arms;
    const row = (key, label, fmt, difference, p) => el('tr', { 'data-metric': key },
      el('th', { scope: 'row', text: label }), el('td', { text: fmt(a.live[key]) }), el('td', { text: fmt(a.candidate[key]) }),
      el('td', { text: difference }), el('td', { text: p }));
    const h = r.handoff_test;
    const interval = h.low == null ? '' : ` (${points(h.low)} … ${points(h.high)})`;
    const table = el('table', { 'data-testid': 'trial-arms' },
      el('thead', {}, el('tr', {}, ...['', t('trials.arm.live'), t('trials.arm.candidate'), t('trials.col.difference'),
        t('trials.col.p')].map((x) => el('th', { text: x })))),
      el('tbody', {},
        row('conversations', t('trials.metric.conversations'), plain, '', ''),
        row('handoff_rate', t('trials.metric.handoff_rate'), percent,
          h.difference == null ? '–' : `${points(h.difference)}${interval}`, pValue(h.p)),
        row('containment_rate', t('trials.metric.containment_rate'), percent,
          h.difference == null ? '–' : points(-h.difference), pValue(h.p)),
        row('ratings', t('trials.metric.ratings'), plain, '', ''),
        row('rating_average', t('trials.metric.rating_average'), plain,
          r.rating_test.difference == null ? '–' : number(r.rating_test.difference), pValue(r.rating_test.p)),
        row('satisfied_rate', t('trials.metric.satisfied_rate'), percent, '', '')));
    const verdict = el('p', { 'data-testid': 'trial-verdict', class: `trial-${r.verdict}`,
      text: verdicts({ alpha: r.alpha })[r.verdict] || r.verdict });
    const plan = el('p', { class: 'muted', 'data-testid': 'trial-plan',
      text: t('trials.plan', { planned: plain(r.planned_per_arm), smaller: plain(r.smaller_arm) }) });
    const chart = el('div', { class: 'trial-chart', 'data-testid': 'trial-chart' });
    this.result.append(el('h4', { text: t('trials.results', { id: r.trial.id, version: r.trial.version }) }),
      table, verdict, plan, chart);
    this.draw(chart, r.progress);
  }

  /** Each arm's hand-off rate so far against the trial's conversations so far: whether the rates have settled. */
  draw(root, progress) {
    if (progress.length < 2) return;
    stylesheet();
    const xs = progress.map((p) => p.conversations);
    const series = ARMS.map((arm) => progress.map((p) => (p[arm] == null ? null : p[arm] * 100)));
    this.plot = new uPlot({ title: t('trials.chart_title'), width: 520, height: 200,
      scales: { x: { time: false }, y: { range: [0, 100] } },
      series: [{ label: t('trials.series.conversations') },
        { label: t('trials.arm.live'), stroke: '#6b7280', width: 2, spanGaps: true },
        { label: t('trials.arm.candidate'), stroke: '#2563eb', width: 2, spanGaps: true }] }, [xs, ...series], root);
  }

  async start() {
    const share = Number(this.share.value) / 100;
    try {
      await api('POST', '/api/models/trial', { version: this.candidate.value, share });
      toast(t('trials.started', { version: this.candidate.value }));
    } catch (e) { toast(e.message, 'error'); }
    await this.reload();
  }

  async end() {
    try {
      await api('DELETE', '/api/models/trial');
      toast(t('trials.ended_toast'));
    } catch (e) { toast(e.message, 'error'); }
    await this.reload();
  }

  async promote() {
    const version = this.running && this.running.version;
    if (!version) return;
    try {
      const result = await api('POST', `/api/models/${encodeURIComponent(version)}/promote`, { force: false });
      toast(t('models.promoted', { version: result.live }));
    } catch (e) { toast(e.message, 'error'); }
    await this.reload();
  }
}
