/* The Tickets tab: a filtered list (GET /api/tickets) and one ticket's full record (GET /api/tickets/{id}). */
import { $, el, api, humanize, dateTime, toast } from './console-lib.js';
import { describeEvent } from './console-automation.js';
import { t as tr } from './i18n.js'; // `t` is a ticket here

const PAGE = 50;

const pick = (obj, ...keys) => {
  for (const k of keys) if (obj && obj[k] != null) return obj[k];
  return null;
};

export class TicketsView {
  constructor(app) {
    this.app = app;
    this.offset = 0;
    this.loaded = false;
    this.selected = null;
    $('#ticket-filters').addEventListener('submit', (ev) => { ev.preventDefault(); this.offset = 0; this.load(); });
    $('#tickets-prev').addEventListener('click', () => { this.offset = Math.max(0, this.offset - PAGE); this.load(); });
    $('#tickets-next').addEventListener('click', () => { this.offset += PAGE; this.load(); });
  }

  show() {
    if (!this.loaded) this.load();
  }

  query() {
    const form = $('#ticket-filters');
    const params = new URLSearchParams();
    for (const name of ['status', 'priority', 'tier', 'tag', 'q']) {
      const value = form.elements[name].value.trim();
      if (value) params.set(name, value);
    }
    if (form.elements.mine.checked) params.set('assignee', this.app.me.id);
    params.set('limit', String(PAGE));
    params.set('offset', String(this.offset));
    return params;
  }

  async load() {
    this.loaded = true;
    const body = $('#ticket-rows');
    let data;
    try {
      data = await api('GET', `/api/tickets?${this.query()}`);
    } catch (e) {
      body.replaceChildren(el('tr', {}, el('td', { colspan: '8', class: 'muted', text: e.message })));
      return;
    }
    const tickets = Array.isArray(data) ? data : (data && (data.tickets || data.items)) || [];
    const total = data && typeof data.total === 'number' ? data.total : null;
    body.replaceChildren(...tickets.map((t) => this.row(t)));
    if (!tickets.length) body.append(el('tr', {}, el('td', { colspan: '8', class: 'muted', text: tr('tickets.none_match') })));
    const last = this.offset + tickets.length;
    $('#tickets-page').textContent = tickets.length
      ? (total != null ? tr('tickets.page_of', { first: this.offset + 1, last, total })
        : tr('tickets.page', { first: this.offset + 1, last })) : '';
    $('#tickets-prev').disabled = this.offset === 0;
    $('#tickets-next').disabled = total != null ? last >= total : tickets.length < PAGE;
  }

  row(t) {
    const customer = t.customer && typeof t.customer === 'object'
      ? (t.customer.name || t.customer.email) : pick(t, 'customer_name', 'customer_email');
    const tags = Array.isArray(t.tags) ? t.tags.join(', ') : '';
    return el('tr', {
      class: `clickable${this.selected === t.id ? ' active' : ''}`, tabindex: '0',
      'data-testid': 'ticket-row', 'data-ticket-id': String(t.id),
      onclick: () => this.openTicket(t.id),
      onkeydown: (ev) => { if (ev.key === 'Enter') this.openTicket(t.id); },
    },
    el('td', { text: t.number || t.id }),
    el('td', {}, el('span', { class: `status ${t.status || ''}`, text: humanize(t.status || '') })),
    el('td', {}, el('span', { class: `badge ${t.priority || ''}`, text: humanize(t.priority || 'normal') })),
    el('td', { text: t.tier != null ? String(t.tier) : '' }),
    el('td', { text: customer || tr('lib.visitor') }),
    el('td', { class: 'clamp1 summary-cell', text: t.summary || humanize(t.category || '') }),
    el('td', { text: tags }),
    el('td', { text: dateTime(t.created_at) }));
  }

  async openTicket(id) {
    this.selected = id;
    for (const row of document.querySelectorAll('#ticket-rows tr')) {
      row.classList.toggle('active', row.dataset.ticketId === String(id));
    }
    const pane = $('#ticket-detail');
    pane.hidden = false;
    pane.replaceChildren(el('p', { class: 'muted', text: tr('common.loading') }));
    let t;
    try {
      t = await api('GET', `/api/tickets/${encodeURIComponent(id)}`);
    } catch (e) {
      pane.replaceChildren(el('p', { class: 'muted', text: e.message }));
      return;
    }
    if (this.selected !== id) return;
    t = t.ticket && !t.id ? { ...t.ticket, ...t } : t;
    pane.replaceChildren(...this.detail(t));
  }

  detail(t) {
    const close = el('button', { type: 'button', class: 'ghost small', text: tr('common.close'),
      onclick: () => { $('#ticket-detail').hidden = true; this.selected = null; } });
    const facts = el('dl', { class: 'profile' });
    const rows = [
      [tr('tickets.status'), humanize(t.status || '')], [tr('tickets.resolution'), t.resolution && humanize(t.resolution)],
      [tr('tickets.priority'), humanize(t.priority || '')], [tr('tickets.tier'), t.tier],
      [tr('tickets.category'), t.category && humanize(t.category)],
      [tr('tickets.channel'), t.channel && humanize(t.channel)], [tr('tickets.assignee'), pick(t, 'assignee_name', 'assignee_id')],
      [tr('tickets.reasons'), (t.reasons || []).map((r) => humanize(typeof r === 'string' ? r : r.code)).join(', ')],
      [tr('tickets.created'), dateTime(t.created_at)], [tr('tickets.first_response'), dateTime(t.first_response_at)],
      [tr('tickets.resolved'), dateTime(t.resolved_at)], [tr('tickets.callback'), this.callbackWords(t.callback)],
    ];
    for (const [k, v] of rows) if (v != null && v !== '') facts.append(el('dt', { text: k }), el('dd', { text: String(v) }));
    const out = [
      el('div', { class: 'detail-head' }, el('h2', { text: tr('tickets.title', { number: t.number || `#${t.id}` }) }), close),
      t.summary ? el('p', { class: 'summary', text: t.summary }) : null,
      facts,
      this.callbackButton(t),
      this.callbackByMail(t),
      this.tagEditor(t),
      el('h3', { text: tr('tickets.transcript') }),
      this.transcript(pick(t, 'messages', 'transcript') || []),
      el('h3', { text: tr('tickets.notes') }),
      this.simpleList(t.notes || [], (n) => [`${pick(n, 'agent_name', 'author', 'agent_id') || ''} · ${dateTime(n.created_at)}`, n.text]),
      el('h3', { text: tr('tickets.assignments') }),
      this.simpleList(pick(t, 'assignments', 'assignment_history') || [], (a) => [
        `${pick(a, 'agent_name', 'agent_id') || ''}`,
        `${dateTime(a.assigned_at)} → ${a.ended_at ? dateTime(a.ended_at) : tr('tickets.now')}${a.end_cause ? ` (${humanize(a.end_cause)})` : ''}`]),
      el('h3', { text: tr('tickets.transitions') }),
      this.simpleList(t.transitions || [], (x) => [
        `${humanize(pick(x, 'from_state', 'from') || '—')} → ${humanize(pick(x, 'to_state', 'to') || '')}`,
        `${dateTime(pick(x, 'created_at', 'at'))} · ${humanize(x.cause || '')}${x.actor ? ` · ${x.actor}` : ''}`]),
      el('h3', { text: tr('tickets.automation') }),
      this.simpleList(t.automation || [], (e) => [`${e.rule} · ${dateTime(e.created_at)}`, describeEvent(e)]),
    ];
    return out.filter(Boolean);
  }

  transcript(messages) {
    const box = el('div', { class: 'transcript small-transcript' });
    for (const m of messages) {
      const who = { customer: tr('tickets.customer'), bot: tr('conv.assistant'), agent: m.agent_name || tr('conv.agent'),
        system: tr('tickets.system') }[m.sender] || m.sender;
      box.append(el('div', { class: `msg ${m.sender || 'system'}`, 'data-sender': m.sender || 'system' },
        el('div', { class: 'msg-head' }, el('span', { class: 'who', text: who }), el('time', { text: dateTime(m.created_at) })),
        el('div', { class: 'msg-text', text: m.text || '' })));
    }
    if (!messages.length) box.append(el('p', { class: 'muted', text: tr('tickets.no_messages') }));
    return box;
  }

  simpleList(items, describe) {
    if (!items.length) return el('p', { class: 'muted', text: tr('ctx.none') });
    return el('ul', { class: 'history' }, ...items.map((item) => {
      const [head, body] = describe(item);
      return el('li', {}, el('div', { class: 'muted', text: head }), body ? el('div', { class: 'msg-text', text: body }) : null);
    }));
  }

  callbackWords(callback) {
    if (!callback) return null;
    const contact = callback.contact || tr('tickets.callback_here');
    const promised = callback.by ? tr('tickets.callback_by', { contact, time: dateTime(callback.by) }) : contact;
    return callback.sent_at ? tr('tickets.callback_made_at', { promised, time: dateTime(callback.sent_at) })
      : tr('tickets.callback_not_made', { promised });
  }

  /** An out-of-hours ticket's callback, marked as made (PATCH {callback_sent: true}): automation may close it. */
  callbackButton(t) {
    if (t.status !== 'offline' || !t.callback || t.callback.sent_at) return null;
    return el('button', { type: 'button', class: 'small callback-made', 'data-testid': 'callback-made',
      text: tr('tickets.callback_made'),
      onclick: async () => {
        try {
          await api('PATCH', `/api/tickets/${encodeURIComponent(t.id)}`, { callback_sent: true });
          toast(tr('tickets.callback_marked'));
          this.openTicket(t.id);
        } catch (e) { toast(e.message, 'error'); }
      } });
  }

  /** The callback made by e-mail (PATCH {callback_text}): the e-mail channel mails the words, threaded, and marks
   * the callback as made. Offered when the customer left an address (or wrote by e-mail). */
  callbackByMail(t) {
    if (t.status !== 'offline' || !t.callback || t.callback.sent_at) return null;
    if (t.channel !== 'email' && !(t.callback && t.callback.contact)) return null;
    const words = el('textarea', { rows: '3', cols: '48', 'aria-label': tr('tickets.callback_mail'), 'data-testid': 'callback-text',
      placeholder: tr('tickets.callback_placeholder') });
    const send = el('button', { type: 'button', class: 'small', 'data-testid': 'callback-send', text: tr('tickets.callback_send'),
      onclick: async () => {
        try {
          await api('PATCH', `/api/tickets/${encodeURIComponent(t.id)}`, { callback_text: words.value });
          toast(tr('tickets.callback_sent'));
          this.openTicket(t.id);
        } catch (e) { toast(e.message, 'error'); }
      } });
    return el('div', { class: 'callback-mail' }, words, send);
  }

  /** PATCH /api/tickets/{id} with tags, priority and category (an agent's correction of the bot's category sends the
   * hand-off's message to the trainers' NLU inbox, docs/training.md). */
  tagEditor(t) {
    const tags = el('input', { value: (t.tags || []).join(', '), 'aria-label': tr('tickets.tags_label'), size: '24' });
    const category = el('input', { value: t.category || '', 'aria-label': tr('tickets.category'), size: '12',
      placeholder: tr('tickets.category_placeholder'), pattern: '[a-z][a-z0-9_-]*', 'data-testid': 'ticket-category' });
    const priority = el('select', { 'aria-label': tr('tickets.priority') },
      ...['normal', 'high', 'urgent'].map((p) => el('option', { value: p, text: humanize(p), selected: p === t.priority })));
    const save = el('button', { type: 'button', class: 'small', text: tr('common.save'), 'data-testid': 'ticket-save',
      onclick: async () => {
        const body = { tags: tags.value.split(',').map((x) => x.trim()).filter(Boolean), priority: priority.value };
        const chosen = category.value.trim().toLowerCase();
        if (chosen && chosen !== (t.category || '')) body.category = chosen;
        try {
          await api('PATCH', `/api/tickets/${encodeURIComponent(t.id)}`, body);
          toast(tr('tickets.updated'));
          this.load();
        } catch (e) { toast(e.message, 'error'); }
      } });
    return el('div', { class: 'tag-editor' }, el('label', {}, tr('tickets.tags'), ' ', tags),
      el('label', {}, tr('tickets.priority'), ' ', priority), el('label', {}, tr('tickets.category'), ' ', category), save);
  }
}
