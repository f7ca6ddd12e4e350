/* The trainers' workbench: the bot's models (docs/training.md, "Retraining" and "Versions"). Every version with
 * who trained it, when, its data hash and the regression gate's verdict; the live one; Retrain (in the background,
 * progress shown); a version's comparison with the model live when it was trained (per-intent F1, hand-off
 * decisions, confusions that changed, test stories, trainer-confirmed examples); Promote and Roll back; A/B trials
 * (console-trials.js). Text is
 * set with textContent only (the reports quote customers' words from the inbox). */
import { el, api, toast, dateTime } from './console-lib.js';
import { t } from './i18n.js';
import TrialsPanel from './console-trials.js';

const POLL_MS = 1500;
const fixed = (x) => (x == null ? '–' : Number(x).toFixed(3));
const signed = (x) => (x == null ? '–' : `${x >= 0 ? '+' : ''}${Number(x).toFixed(3)}`);
/** The retraining's stages (bot/retrain.py and handoff/service/models.py) in words; another stage as written. */
const stages = () => ({
  starting: t('models.stage.starting'),
  'hashing the training data': t('models.stage.hashing'),
  'training the candidate': t('models.stage.training'),
  'scoring the candidate': t('models.stage.scoring_candidate'),
  'scoring the live model': t('models.stage.scoring_live'),
  comparing: t('models.stage.comparing'),
  'kept as version': t('models.stage.kept'),
  promoting: t('models.stage.promoting'),
  done: t('models.stage.done'),
  failed: t('models.stage.failed'),
});

export default class ModelsView {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.timer = null;
    this.data = null;
    this.selected = null;
    this.live = el('p', { 'data-testid': 'models-live' });
    this.retrainButton = el('button', { type: 'button', class: 'primary', 'data-testid': 'models-retrain',
      onclick: () => this.retrain() }, t('models.retrain'));
    this.rollbackButton = el('button', { type: 'button', 'data-testid': 'models-rollback',
      onclick: () => this.rollback() }, t('models.rollback'));
    this.bar = el('progress', { max: '100', value: '0', 'data-testid': 'models-progress-bar' });
    this.stage = el('span', { 'data-testid': 'models-stage' });
    this.logBox = el('pre', { class: 'models-log', 'data-testid': 'models-log' });
    this.progress = el('div', { class: 'models-progress', 'data-testid': 'models-progress', hidden: true },
      this.bar, this.stage, el('details', {}, el('summary', { text: t('models.output') }), this.logBox));
    this.versions = el('div', { class: 'table-wrap', 'data-testid': 'models-versions' });
    this.report = el('section', { class: 'models-report', 'data-testid': 'models-report', hidden: true });
    const section = el('section', { class: 'models' },
      el('h2', { text: t('models.title') }),
      el('p', { class: 'muted', text: t('models.intro') }),
      this.live,
      el('div', { class: 'inbox-toolbar' }, this.retrainButton, this.rollbackButton,
        el('button', { type: 'button', 'data-testid': 'models-refresh', onclick: () => this.load() }, t('models.refresh'))),
      this.progress, this.versions, this.report);
    root.append(section);
    this.trials = new TrialsPanel(section, () => this.load());
  }

  show() { this.load(); }

  hide() { this.stopPolling(); }

  stopPolling() { if (this.timer) { clearTimeout(this.timer); this.timer = null; } }

  /** Everything; ``polling`` (a retraining's progress): the versions and the progress only, not the trials. */
  async load(polling = false) {
    this.stopPolling();
    try {
      this.data = await api('GET', '/api/models');
    } catch (e) { toast(e.message, 'error'); return; }
    const d = this.data;
    const live = { version: d.live, tolerance: d.tolerance, count: d.servers };
    this.live.textContent = !d.live ? t('models.no_live_version')
      : d.since ? t('models.live_since', { ...live, time: dateTime(Date.parse(d.since) / 1000) })
        : t('models.live', live);
    this.renderTraining(d.training);
    this.renderVersions(d.versions || [], d.live);
    if (d.training && d.training.running) this.timer = setTimeout(() => this.load(true), POLL_MS);
    if (!polling) await this.trials.load(d.versions || [], d.live);
  }

  renderTraining(run) {
    this.progress.hidden = !run;
    this.retrainButton.disabled = Boolean(run && run.running);
    if (!run) return;
    this.bar.value = run.percent || 0;
    const step = { percent: Math.round(run.percent || 0), stage: stages()[run.stage] || run.stage, detail: run.detail };
    let text = run.detail ? t('models.progress_detail', step) : t('models.progress', step);
    if (!run.running && run.exit_code != null) {
      text = run.passed === true ? t('models.done_passed', { version: run.version })
        : run.passed === false ? t('models.done_failed', { version: run.version || t('models.the_candidate') })
          : t('models.retrain_failed', { code: run.exit_code });
    }
    this.stage.textContent = text;
    this.logBox.textContent = (run.log || []).join('\n');
  }

  renderVersions(versions, live) {
    const head = el('tr', {}, ...[t('models.col.version'), t('models.col.trained'), t('models.col.by'),
      t('models.col.data'), t('models.col.macro_f1'), t('models.col.gate'), ''].map((h) => el('th', { text: h })));
    const gateWords = { passed: t('models.gate.passed'), failed: t('models.gate.failed'), '–': '–' };
    const rows = versions.map((v) => {
      const gate = v.gate ? (v.gate.passed ? 'passed' : 'failed') : '–';
      const isLive = v.version === live;
      const promote = isLive ? el('span', { class: 'badge', text: t('models.live_badge') })
        : el('button', { type: 'button', class: 'small primary', 'data-testid': 'models-promote',
          onclick: () => this.promote(v) }, t('models.promote'));
      return el('tr', { 'data-testid': 'models-version', 'data-version': v.version, class: isLive ? 'live' : '' },
        el('td', {}, el('button', { type: 'button', class: 'link', 'data-testid': 'models-open',
          disabled: !v.has_report, title: v.has_report ? t('models.compare_title') : t('models.no_report'),
          onclick: () => this.openReport(v.version) }, v.version)),
        el('td', { text: v.trained_at || '' }),
        el('td', { text: v.trained_by || '' }),
        el('td', { text: (v.data_hash || '').slice(0, 8), title: v.data_hash || '' }),
        el('td', { text: fixed(v.metrics && v.metrics.macro_f1) }),
        el('td', { 'data-testid': 'models-gate', text: gateWords[gate], class: `gate-${gate}` }),
        el('td', {}, promote));
    });
    this.versions.replaceChildren(el('table', { 'data-testid': 'models-table' }, el('thead', {}, head),
      el('tbody', {}, ...rows)));
  }

  async openReport(version) {
    try {
      const r = await api('GET', `/api/models/${encodeURIComponent(version)}/report`);
      this.selected = version;
      this.renderReport(r);
    } catch (e) { toast(e.message, 'error'); }
  }

  renderReport(r) {
    const against = { version: r.version, live: r.live || t('models.no_live_model'), tolerance: r.tolerance };
    const verdict = el('p', { 'data-testid': 'models-verdict', class: r.passed ? 'gate-passed' : 'gate-failed',
      text: r.passed ? t('models.verdict_passed', against) : t('models.verdict_failed', against) });
    const failures = el('ul', { 'data-testid': 'models-failures' }, ...(r.failures || []).map((f) => el('li', { text: f })));
    const intents = el('table', { 'data-testid': 'models-intents' },
      el('thead', {}, el('tr', {}, ...[t('models.col.intent'), t('models.col.support'), t('models.col.live_f1'),
        t('models.col.candidate_f1'), t('models.col.change')].map((h) => el('th', { text: h })))),
      el('tbody', {}, ...(r.intents || []).map((i) => el('tr', { class: i.regressed ? 'regressed' : '',
        'data-intent': i.intent },
      el('td', { text: i.intent }), el('td', { text: String(i.support) }), el('td', { text: fixed(i.live) }),
      el('td', { text: fixed(i.candidate) }), el('td', { text: signed(i.delta) })))));
    const h = r.handoff || {};
    const handoff = el('table', { 'data-testid': 'models-handoff' },
      el('thead', {}, el('tr', {}, el('th', { text: t('models.handoff') }), el('th', { text: t('models.col.live') }),
        el('th', { text: t('models.col.candidate') }))),
      el('tbody', {},
        el('tr', {}, el('td', { text: t('models.handoff_out_of_scope') }), el('td', { text: fixed((h.live || {}).recall) }),
          el('td', { text: fixed((h.candidate || {}).recall) })),
        el('tr', {}, el('td', { text: t('models.handoff_in_scope') }), el('td', { text: fixed((h.live || {}).in_scope_rate) }),
          el('td', { text: fixed((h.candidate || {}).in_scope_rate) }))));
    const confusions = (r.confusions || []).length
      ? el('ul', { 'data-testid': 'models-confusions' }, ...r.confusions.map((c) => el('li', { text: `${c.pair}: ${c.live} → ${c.candidate}` })))
      : el('p', { class: 'muted', 'data-testid': 'models-confusions', text: t('models.no_confusion_changed') });
    const stories = el('ul', { 'data-testid': 'models-stories' }, ...(r.stories || []).map((s) => el('li', {
      class: s.candidate ? '' : 'regressed',
      text: s.candidate ? t('models.story_pass', { story: s.story }) : t('models.story_fail', { story: s.story }) })));
    const inbox = r.inbox || {};
    this.report.replaceChildren(
      el('h3', { text: t('models.comparison', { version: r.version }) }), verdict, failures,
      el('h4', { text: t('models.per_intent') }), intents,
      el('h4', { text: t('models.handoff') }), handoff,
      el('h4', { text: t('models.confusions') }), confusions,
      el('h4', { text: t('models.stories') }), stories,
      el('h4', { text: t('models.inbox') }),
      el('p', { 'data-testid': 'models-inbox',
        text: t('models.inbox_understood', { understood: inbox.understood || 0, total: inbox.total || 0 }) }),
      el('ul', {}, ...(inbox.missed || []).map((m) => el('li', {
        text: t('models.missed', { text: m.text, intent: m.intent, predicted: m.predicted }) }))));
    this.report.hidden = false;
  }

  async retrain() {
    try {
      await api('POST', '/api/models/retrain');
      toast(t('models.retrain_started'));
    } catch (e) { toast(e.message, 'error'); }
    await this.load();
  }

  async promote(version) {
    const wasLive = ((this.data && this.data.history) || []).some((h) => h.version === version.version);
    const force = !(version.gate && version.gate.passed) && !wasLive;
    if (force && !window.confirm(t('models.confirm_force', { version: version.version }))) return;
    this.stage.textContent = t('models.promoting', { version: version.version });
    try {
      const result = await api('POST', `/api/models/${encodeURIComponent(version.version)}/promote`, { force });
      toast(t('models.promoted', { version: result.live }));
    } catch (e) { toast(e.message, 'error'); }
    await this.load();
  }

  async rollback() {
    try {
      const result = await api('POST', '/api/models/rollback');
      toast(t('models.rolled_back', { version: result.live }));
    } catch (e) { toast(e.message, 'error'); }
    await this.load();
  }
}
