/* The Automation tab (supervisors and admins): the rules of handoff/automation.yml in plain words with how many
 * tickets each acted on (GET /api/automation/rules), and the log of what they did (GET /api/automation/events). */
import { el, api, humanize, dateTime, duration } from './console-lib.js';

const KINDS = {
  idle_customer: 'Idle customer', on_arrival: 'On arrival', first_response_sla: 'First-response SLA',
  close_callback: 'Close after callback',
};

/** A sentence from the service's plain words: its first letter capitalised, nothing else changed (names keep
 * their underscores). */
const sentence = (text) => { const s = String(text || ''); return s.charAt(0).toUpperCase() + s.slice(1); };

/** What one event did, in a sentence (also the ticket detail's "Automation" list). */
export function describeEvent(e) {
  const d = e.details || {};
  const change = (what, c) => (c ? `${what} ${humanize(c.from || 'none')} → ${humanize(c.to)}` : null);
  if (e.action === 'resolved') {
    return `Resolved after the customer was silent ${duration(d.silent_seconds || 0)}; told them: “${d.notice || ''}”`;
  }
  if (e.action === 'priority_raised' || e.action === 'requeued') {
    const parts = [change('Priority', d.priority),
      `${duration(Math.max(0, d.left_seconds || 0))} left of the ${duration(d.target_seconds || 0)} first-response target`];
    if (e.action === 'requeued') parts.push('taken from the agent who had not answered and queued again');
    return parts.filter(Boolean).join('; ');
  }
  if (e.action === 'closed') return `Closed; the callback was made ${dateTime(d.callback_sent_at)}`;
  return [d.tags && d.tags.length ? `Tagged ${d.tags.join(', ')}` : null, change('category', d.category),
    change('priority', d.priority)].filter(Boolean).join('; ') || humanize(e.action);
}

export default class AutomationView {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.rules = el('tbody', { 'data-testid': 'automation-rules' });
    this.events = el('tbody', { 'data-testid': 'automation-events' });
    this.rule = el('select', { name: 'rule', 'aria-label': 'Rule' }, el('option', { value: '', text: 'All rules' }));
    this.since = el('input', { name: 'since', type: 'datetime-local', 'aria-label': 'Since' });
    const filters = el('form', { class: 'filters automation-filters', 'aria-label': 'Automation log filters',
      onsubmit: (ev) => { ev.preventDefault(); this.loadEvents(); } },
    el('label', {}, 'Rule ', this.rule), el('label', {}, 'Since ', this.since),
    el('button', { type: 'submit', class: 'small', text: 'Show' }));
    root.append(
      el('div', { class: 'detail-head' }, el('h2', { text: 'Automation rules' }),
        el('button', { type: 'button', class: 'ghost small', text: 'Refresh', onclick: () => this.load() })),
      el('p', { class: 'muted', text: 'The rules of the automation file (HANDOFF_AUTOMATION). Each acts at most once '
        + 'per ticket and writes what it did in the ticket\'s history.' }),
      el('table', { class: 'automation-rules' },
        el('thead', {}, el('tr', {}, ...['Rule', 'Kind', 'When', 'Then', 'Enabled', 'Tickets acted on', 'Last']
          .map((h) => el('th', { text: h })))),
        this.rules),
      el('h2', { text: 'What the rules did' }),
      filters,
      el('table', { class: 'automation-events' },
        el('thead', {}, el('tr', {}, ...['Time', 'Ticket', 'Rule', 'Action', 'What it did'].map((h) => el('th', { text: h })))),
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
    el('td', { text: r.name }), el('td', { text: KINDS[r.kind] || r.kind }),
    el('td', { text: sentence(r.when) }), el('td', { text: sentence(r.then) }),
    el('td', { text: r.enabled ? 'Yes' : 'No (never acts)' }),
    el('td', { class: 'count' }, el('meter', { min: '0', max: String(most), value: String(r.count),
      'aria-label': `${r.name}: ${r.count} tickets` }), el('span', { text: ` ${r.count}` })),
    el('td', { text: r.last_acted_at ? dateTime(r.last_acted_at) : '—' }))));
    if (!rules.length) this.rules.append(el('tr', {}, el('td', { colspan: '7', class: 'muted', text: 'No rules.' })));
    const chosen = this.rule.value;
    this.rule.replaceChildren(el('option', { value: '', text: 'All rules' }),
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
      this.events.append(el('tr', {}, el('td', { colspan: '5', class: 'muted', text: 'The rules have not acted yet.' })));
    }
  }
}
