/* The Automation tab (supervisors and admins): the rules of handoff/automation.yml in plain words with how many
 * tickets each acted on (GET /api/automation/rules), and the log of what they did (GET /api/automation/events). */
import { el, api, humanize, dateTime, duration } from './console-lib.js';
import { t } from './i18n.js';

const kinds = () => ({
  idle_customer: t('automation.kind.idle_customer'), on_arrival: t('automation.kind.on_arrival'),
  first_response_sla: t('automation.kind.first_response_sla'), close_callback: t('automation.kind.close_callback'),
});

/** A sentence from the service's plain words: its first letter capitalised, nothing else changed (names keep
 * their underscores). */
const sentence = (text) => { const s = String(text || ''); return s.charAt(0).toUpperCase() + s.slice(1); };

/** What one event did, in a sentence (also the ticket detail's "Automation" list). */
export function describeEvent(e) {
  const d = e.details || {};
  const change = (what, c) => (c ? t('automation.change', { what, from: humanize(c.from || 'none'), to: humanize(c.to) }) : null);
  if (e.action === 'resolved') {
    return t('automation.did.resolved', { silent: duration(d.silent_seconds || 0), notice: d.notice || '' });
  }
  if (e.action === 'priority_raised' || e.action === 'requeued') {
    const parts = [change(t('automation.priority_cap'), d.priority),
      t('automation.did.left', { left: duration(Math.max(0, d.left_seconds || 0)), target: duration(d.target_seconds || 0) })];
    if (e.action === 'requeued') parts.push(t('automation.did.requeued'));
    return parts.filter(Boolean).join('; ');
  }
  if (e.action === 'closed') return t('automation.did.closed', { time: dateTime(d.callback_sent_at) });
  return [d.tags && d.tags.length ? t('automation.did.tagged', { tags: d.tags.join(', ') }) : null,
    change(t('automation.category'), d.category), change(t('automation.priority'), d.priority)].filter(Boolean).join('; ') || humanize(e.action);
}

export default class AutomationView {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.rules = el('tbody', { 'data-testid': 'automation-rules' });
    this.events = el('tbody', { 'data-testid': 'automation-events' });
    this.rule = el('select', { name: 'rule', 'aria-label': t('automation.rule') },
      el('option', { value: '', text: t('automation.all_rules') }));
    this.since = el('input', { name: 'since', type: 'datetime-local', 'aria-label': t('automation.since') });
    const filters = el('form', { class: 'filters automation-filters', 'aria-label': t('automation.filters'),
      onsubmit: (ev) => { ev.preventDefault(); this.loadEvents(); } },
    el('label', {}, t('automation.rule'), ' ', this.rule), el('label', {}, t('automation.since'), ' ', this.since),
    el('button', { type: 'submit', class: 'small', text: t('automation.show') }));
    root.append(
      el('div', { class: 'detail-head' }, el('h2', { text: t('automation.title') }),
        el('button', { type: 'button', class: 'ghost small', text: t('common.refresh'), onclick: () => this.load() })),
      el('p', { class: 'muted', text: t('automation.intro') }),
      el('table', { class: 'automation-rules' },
        el('thead', {}, el('tr', {}, ...[t('automation.rule'), t('automation.kind'), t('automation.when'), t('automation.then'), t('automation.enabled'),
          t('automation.acted_on'), t('automation.last')]
          .map((h) => el('th', { text: h })))),
        this.rules),
      el('h2', { text: t('automation.log') }),
      filters,
      el('table', { class: 'automation-events' },
        el('thead', {}, el('tr', {}, ...[t('automation.time'), t('automation.ticket'), t('automation.rule'), t('automation.action'),
          t('automation.what')].map((h) => el('th', { text: h })))),
        this.events));
  }

  show() { this.load(); }

  hide() {}

  async load() {
    await Promise.all([this.loadRules(), this.loadEvents()]);
  }

  async loadRules() {
    let rules;
    try {
      rules = (await api('GET', '/api/automation/rules')).rules;
    } catch (e) {
      this.rules.replaceChildren(el('tr', {}, el('td', { colspan: '7', class: 'muted', text: e.message })));
      return;
    }
    const most = Math.max(1, ...rules.map((r) => r.count));
    this.rules.replaceChildren(...rules.map((r) => el('tr', { 'data-testid': 'automation-rule', 'data-rule': r.name,
      class: r.enabled ? '' : 'disabled' },
    el('td', { text: r.name }), el('td', { text: kinds()[r.kind] || r.kind }),
    el('td', { text: sentence(r.when) }), el('td', { text: sentence(r.then) }),
    el('td', { text: r.enabled ? t('common.yes') : t('automation.never_acts') }),
    el('td', { class: 'count' }, el('meter', { min: '0', max: String(most), value: String(r.count),
      'aria-label': t('automation.count_label', { name: r.name, count: r.count }) }), el('span', { text: ` ${r.count}` })),
    el('td', { text: r.last_acted_at ? dateTime(r.last_acted_at) : '—' }))));
    if (!rules.length) this.rules.append(el('tr', {}, el('td', { colspan: '7', class: 'muted', text: t('automation.no_rules') })));
    const chosen = this.rule.value;
    this.rule.replaceChildren(el('option', { value: '', text: t('automation.all_rules') }),
      ...rules.map((r) => el('option', { value: r.name, text: r.name, selected: r.name === chosen })));
  }

  async loadEvents() {
    const params = new URLSearchParams();
    if (this.rule.value) params.set('rule', this.rule.value);
    if (this.since.value) params.set('since', new Date(this.since.value).toISOString());
    let events;
    try {
      events = (await api('GET', `/api/automation/events?${params}`)).events;
    } catch (e) {
      this.events.replaceChildren(el('tr', {}, el('td', { colspan: '5', class: 'muted', text: e.message })));
      return;
    }
    this.events.replaceChildren(...events.map((e) => el('tr', { 'data-testid': 'automation-event' },
      el('td', { text: dateTime(e.created_at) }),
      el('td', {}, el('button', { type: 'button', class: 'link', text: e.ticket_number || `#${e.ticket_id}`,
        onclick: () => document.dispatchEvent(new CustomEvent('open-ticket', { detail: e.ticket_id })) })),
      el('td', { text: e.rule }), el('td', { text: humanize(e.action) }), el('td', { text: describeEvent(e) }))));
    if (!events.length) {
      this.events.append(el('tr', {}, el('td', { colspan: '5', class: 'muted', text: t('automation.no_events') })));
    }
  }
}
