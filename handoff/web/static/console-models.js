/* The trainers' workbench: the bot's models (docs/training.md, "Retraining" and "Versions"). Every version with
 * who trained it, when, its data hash and the regression gate's verdict; the live one; Retrain (in the background,
 * progress shown); a version's comparison with the model live when it was trained (per-intent F1, hand-off
 * decisions, confusions that changed, test stories, trainer-confirmed examples); Promote and Roll back. Text is
 * set with textContent only (the reports quote customers' words from the inbox). */
import { el, api, toast, dateTime } from './console-lib.js';

const POLL_MS = 1500;
const fixed = (x) => (x == null ? '–' : Number(x).toFixed(3));
const signed = (x) => (x == null ? '–' : `${x >= 0 ? '+' : ''}${Number(x).toFixed(3)}`);

export default class ModelsView {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.timer = null;
    this.data = null;
    this.selected = null;
    this.live = el('p', { 'data-testid': 'models-live' });
    this.retrainButton = el('button', { type: 'button', class: 'primary', 'data-testid': 'models-retrain',
      onclick: () => this.retrain() }, 'Retrain');
    this.rollbackButton = el('button', { type: 'button', 'data-testid': 'models-rollback',
      onclick: () => this.rollback() }, 'Roll back');
    this.bar = el('progress', { max: '100', value: '0', 'data-testid': 'models-progress-bar' });
    this.stage = el('span', { 'data-testid': 'models-stage' });
    this.logBox = el('pre', { class: 'models-log', 'data-testid': 'models-log' });
    this.progress = el('div', { class: 'models-progress', 'data-testid': 'models-progress', hidden: true },
      this.bar, this.stage, el('details', {}, el('summary', { text: 'Output' }), this.logBox));
    this.versions = el('div', { class: 'table-wrap', 'data-testid': 'models-versions' });
    this.report = el('section', { class: 'models-report', 'data-testid': 'models-report', hidden: true });
    root.append(el('section', { class: 'models' },
      el('h2', { text: 'Models' }),
      el('p', { class: 'muted', text: 'Retrain the bot from the current training data (the inbox\'s confirmed '
        + 'examples included). A candidate is compared with the live model on the regression set and may be '
        + 'promoted only if nothing regresses; promotion swaps the model on every Rasa server without dropping a '
        + 'conversation.' }),
      this.live,
      el('div', { class: 'inbox-toolbar' }, this.retrainButton, this.rollbackButton,
        el('button', { type: 'button', 'data-testid': 'models-refresh', onclick: () => this.load() }, 'Refresh')),
      this.progress, this.versions, this.report));
  }

  show() { this.load(); }

  hide() { this.stopPolling(); }

  stopPolling() { if (this.timer) { clearTimeout(this.timer); this.timer = null; } }

  async load() {
    this.stopPolling();
    try {
      this.data = await api('GET', '/api/models');
    } catch (e) { toast(e.message, 'error'); return; }
    const d = this.data;
    this.live.textContent = d.live
      ? `Live: ${d.live}${d.since ? ` since ${dateTime(Date.parse(d.since) / 1000)}` : ''} · gate tolerance `
        + `${d.tolerance} · ${d.servers} Rasa server${d.servers === 1 ? '' : 's'}`
      : 'No live version recorded yet.';
    this.renderTraining(d.training);
    this.renderVersions(d.versions || [], d.live);
    if (d.training && d.training.running) this.timer = setTimeout(() => this.load(), POLL_MS);
  }

  renderTraining(t) {
    this.progress.hidden = !t;
    this.retrainButton.disabled = Boolean(t && t.running);
    if (!t) return;
    this.bar.value = t.percent || 0;
    let text = `${Math.round(t.percent || 0)}% · ${t.stage}${t.detail ? `: ${t.detail}` : ''}`;
    if (!t.running && t.exit_code != null) {
      text = t.passed === true ? `Done: ${t.version} passed the gate`
        : t.passed === false ? `Done: ${t.version || 'the candidate'} did not pass the gate`
          : `The retraining failed (exit code ${t.exit_code})`;
    }
    this.stage.textContent = text;
    this.logBox.textContent = (t.log || []).join('\n');
  }

  renderVersions(versions, live) {
    const head = el('tr', {}, ...['Version', 'Trained', 'By', 'Data', 'Macro F1', 'Gate', ''].map((h) => el('th', { text: h })));
    const rows = versions.map((v) => {
      const gate = v.gate ? (v.gate.passed ? 'passed' : 'failed') : '–';
      const isLive = v.version === live;
      const promote = isLive ? el('span', { class: 'badge', text: 'live' })
        : el('button', { type: 'button', class: 'small primary', 'data-testid': 'models-promote',
          onclick: () => this.promote(v) }, 'Promote');
      return el('tr', { 'data-testid': 'models-version', 'data-version': v.version, class: isLive ? 'live' : '' },
        el('td', {}, el('button', { type: 'button', class: 'link', 'data-testid': 'models-open',
          disabled: !v.has_report, title: v.has_report ? 'Compare with the live model' : 'No gate report',
          onclick: () => this.openReport(v.version) }, v.version)),
        el('td', { text: v.trained_at || '' }),
        el('td', { text: v.trained_by || '' }),
        el('td', { text: (v.data_hash || '').slice(0, 8), title: v.data_hash || '' }),
        el('td', { text: fixed(v.metrics && v.metrics.macro_f1) }),
        el('td', { 'data-testid': 'models-gate', text: gate, class: `gate-${gate}` }),
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
    const verdict = el('p', { 'data-testid': 'models-verdict', class: r.passed ? 'gate-passed' : 'gate-failed',
      text: `${r.version} against ${r.live || 'no live model'}: ${r.passed ? 'passed' : 'did not pass'} the gate `
        + `(tolerance ${r.tolerance})` });
    const failures = el('ul', { 'data-testid': 'models-failures' }, ...(r.failures || []).map((f) => el('li', { text: f })));
    const intents = el('table', { 'data-testid': 'models-intents' },
      el('thead', {}, el('tr', {}, ...['Intent', 'Support', 'Live F1', 'Candidate F1', 'Change'].map((h) => el('th', { text: h })))),
      el('tbody', {}, ...(r.intents || []).map((i) => el('tr', { class: i.regressed ? 'regressed' : '',
        'data-intent': i.intent },
      el('td', { text: i.intent }), el('td', { text: String(i.support) }), el('td', { text: fixed(i.live) }),
      el('td', { text: fixed(i.candidate) }), el('td', { text: signed(i.delta) })))));
    const h = r.handoff || {};
    const handoff = el('table', { 'data-testid': 'models-handoff' },
      el('thead', {}, el('tr', {}, el('th', { text: 'Hand-off decisions' }), el('th', { text: 'Live' }), el('th', { text: 'Candidate' }))),
      el('tbody', {},
        el('tr', {}, el('td', { text: 'Out-of-scope messages handed off' }), el('td', { text: fixed((h.live || {}).recall) }),
          el('td', { text: fixed((h.candidate || {}).recall) })),
        el('tr', {}, el('td', { text: 'In-scope messages handed off' }), el('td', { text: fixed((h.live || {}).in_scope_rate) }),
          el('td', { text: fixed((h.candidate || {}).in_scope_rate) }))));
    const confusions = (r.confusions || []).length
      ? el('ul', { 'data-testid': 'models-confusions' }, ...r.confusions.map((c) => el('li', { text: `${c.pair}: ${c.live} → ${c.candidate}` })))
      : el('p', { class: 'muted', 'data-testid': 'models-confusions', text: 'No confusion changed.' });
    const stories = el('ul', { 'data-testid': 'models-stories' }, ...(r.stories || []).map((s) => el('li', {
      class: s.candidate ? '' : 'regressed', text: `${s.candidate ? 'pass' : 'FAIL'} · ${s.story}` })));
    const inbox = r.inbox || {};
    this.report.replaceChildren(
      el('h3', { text: `Comparison: ${r.version}` }), verdict, failures,
      el('h4', { text: 'Per-intent F1 on the regression set' }), intents,
      el('h4', { text: 'Hand-off decisions' }), handoff,
      el('h4', { text: 'Confusions that changed (gold → predicted: live → candidate)' }), confusions,
      el('h4', { text: 'Conversation tests' }), stories,
      el('h4', { text: 'Trainer-confirmed examples' }),
      el('p', { 'data-testid': 'models-inbox', text: `${inbox.understood || 0} of ${inbox.total || 0} understood` }),
      el('ul', {}, ...(inbox.missed || []).map((m) => el('li', { text: `“${m.text}”: ${m.intent}, predicted ${m.predicted}` }))));
    this.report.hidden = false;
  }

  async retrain() {
    try {
      await api('POST', '/api/models/retrain');
      toast('Retraining started.');
    } catch (e) { toast(e.message, 'error'); }
    await this.load();
  }

  async promote(version) {
    const wasLive = ((this.data && this.data.history) || []).some((h) => h.version === version.version);
    const force = !(version.gate && version.gate.passed) && !wasLive;
    if (force && !window.confirm(`${version.version} did not pass the regression gate (or was never gated). `
      + 'Promote it anyway? Only an admin may.')) return;
    this.stage.textContent = `Promoting ${version.version}…`;
    try {
      const result = await api('POST', `/api/models/${encodeURIComponent(version.version)}/promote`, { force });
      toast(`${result.live} is live on every Rasa server.`);
    } catch (e) { toast(e.message, 'error'); }
    await this.load();
  }

  async rollback() {
    try {
      const result = await api('POST', '/api/models/rollback');
      toast(`Rolled back: ${result.live} is live.`);
    } catch (e) { toast(e.message, 'error'); }
    await this.load();
  }
}
