/* The trainers' workbench: the NLU inbox (docs/training.md). Customer messages the bot was unsure about, grouped
 * by near-duplicate, with the model's top intents and scores; a trainer labels them with an intent (of the domain,
 * or new), marks them out of scope, dismisses or reopens them, a group or a message at a time, or every group
 * ticked at once. Customers' words are shown as text only (textContent), never as HTML. */
import { el, api, toast, humanize, dateTime } from './console-lib.js';

const STATUSES = ['new', 'labelled', 'out_of_scope', 'dismissed'];
const REASONS = {
  fallback: 'Fallback',
  ambiguous: 'Ambiguous',
  handed_off: 'Handed off',
  not_helpful: 'Not helpful',
  agent_category: 'Agent set category',
};

const percent = (x) => `${Math.round((x || 0) * 100)}%`;

export default class InboxView {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.status = 'new';
    this.groups = [];
    this.selected = new Set(); // item ids ticked
    this.intents = [];
    this.statusSelect = el('select', { 'data-testid': 'inbox-status', 'aria-label': 'Which items',
      onchange: () => { this.status = this.statusSelect.value; this.selected.clear(); this.renderBulk(); this.load(); } },
    ...STATUSES.map((s) => el('option', { value: s, text: humanize(s) })));
    this.grouping = el('span', { class: 'muted', 'data-testid': 'inbox-grouping' });
    this.intentInput = el('input', { type: 'text', list: 'inbox-intents', placeholder: 'intent (existing or new)',
      'aria-label': 'Intent to label with', 'data-testid': 'inbox-intent', maxlength: '64', size: '24' });
    this.intentList = el('datalist', { id: 'inbox-intents' });
    this.selectedCount = el('span', { class: 'muted', 'data-testid': 'inbox-selected' });
    this.bulk = el('div', { class: 'inbox-bulk' },
      this.intentInput, this.intentList,
      el('button', { type: 'button', class: 'primary', 'data-testid': 'inbox-label-selected',
        onclick: () => this.decideSelected('label') }, 'Label ticked'),
      el('button', { type: 'button', 'data-testid': 'inbox-oos-selected',
        onclick: () => this.decideSelected('out_of_scope') }, 'Out of scope'),
      el('button', { type: 'button', 'data-testid': 'inbox-dismiss-selected',
        onclick: () => this.decideSelected('dismiss') }, 'Dismiss'),
      this.reopenButton = el('button', { type: 'button', 'data-testid': 'inbox-reopen-selected', hidden: true,
        onclick: () => this.decideSelected('reopen') }, 'Reopen'),
      this.selectedCount);
    this.list = el('div', { class: 'inbox-groups', 'data-testid': 'inbox-groups' });
    this.empty = el('p', { class: 'empty', 'data-testid': 'inbox-empty', hidden: true,
      text: 'Nothing here: the bot was sure of everything it heard, or every message has been decided.' });
    root.append(
      el('section', { class: 'inbox' },
        el('h2', { text: 'NLU inbox' }),
        el('p', { class: 'muted', text: 'Customer messages the bot was unsure about (fallback, two intents too '
          + 'close, handed off, answer rated not helpful, or an agent set another category), similar ones grouped. '
          + 'Label a group with the intent the customer meant, mark it out of scope, or dismiss it; labelled '
          + 'examples are written to the bot\'s training data.' }),
        el('div', { class: 'inbox-toolbar' }, this.statusSelect,
          el('button', { type: 'button', 'data-testid': 'inbox-refresh', onclick: () => this.load() }, 'Refresh'),
          this.grouping),
        this.bulk, this.list, this.empty));
  }

  show() { this.load(); this.loadIntents(); }

  /** Reopening is for decided items: the button shows outside the new ones. */
  renderBulk() { this.reopenButton.hidden = this.status === 'new'; }

  hide() {}

  async loadIntents() {
    try {
      const data = await api('GET', '/api/inbox/intents');
      this.intents = data.intents || [];
      this.intentList.replaceChildren(...this.intents.map((i) => el('option', { value: i.name,
        text: i.in_domain ? i.name : `${i.name} (new)` })));
    } catch (e) { toast(e.message, 'error'); }
  }

  async load() {
    try {
      const data = await api('GET', `/api/inbox?status=${encodeURIComponent(this.status)}`);
      this.groups = data.groups || [];
      const counts = data.counts || {};
      for (const option of this.statusSelect.options) {
        option.textContent = `${humanize(option.value)} (${counts[option.value] || 0})`;
      }
      this.grouping.textContent = data.grouping === 'text'
        ? 'Grouped by normalised text (the sentence encoder is missing)'
        : 'Grouped by meaning (sentence encoder)';
      const present = new Set(this.groups.flatMap((g) => g.items.map((i) => i.id)));
      for (const id of [...this.selected]) if (!present.has(id)) this.selected.delete(id);
      this.render();
    } catch (e) { toast(e.message, 'error'); }
  }

  render() {
    this.list.replaceChildren(...this.groups.map((g) => this.renderGroup(g)));
    this.empty.hidden = this.groups.length > 0;
    this.selectedCount.textContent = this.selected.size ? `${this.selected.size} ticked` : '';
  }

  renderGroup(group) {
    const ids = group.items.map((i) => i.id);
    const all = ids.every((id) => this.selected.has(id));
    const tick = el('input', { type: 'checkbox', 'aria-label': 'Tick this group', 'data-testid': 'inbox-group-tick',
      onchange: (ev) => { for (const id of ids) { if (ev.target.checked) this.selected.add(id); else this.selected.delete(id); } this.render(); } });
    tick.checked = all;
    const top = group.intents[0];
    const actions = this.status === 'new'
      ? [top ? el('button', { type: 'button', class: 'small primary', 'data-testid': 'inbox-label-top',
        onclick: () => this.decide(ids, 'label', top.name) }, `Label “${top.name}”`) : null,
      el('button', { type: 'button', class: 'small', 'data-testid': 'inbox-label-as',
        onclick: () => this.decide(ids, 'label', this.intentInput.value.trim()) }, 'Label as typed'),
      el('button', { type: 'button', class: 'small', 'data-testid': 'inbox-oos',
        onclick: () => this.decide(ids, 'out_of_scope') }, 'Out of scope'),
      el('button', { type: 'button', class: 'small ghost', 'data-testid': 'inbox-dismiss',
        onclick: () => this.decide(ids, 'dismiss') }, 'Dismiss')]
      : [el('button', { type: 'button', class: 'small', 'data-testid': 'inbox-reopen',
        onclick: () => this.decide(ids, 'reopen') }, 'Reopen')];
    const details = el('details', { class: 'inbox-items' },
      el('summary', { text: group.size > 1 ? `${group.size} messages` : '1 message' }),
      el('ul', {}, ...group.items.map((item) => this.renderItem(item))));
    return el('article', { class: 'inbox-group', 'data-testid': 'inbox-group', 'data-group-id': String(group.id) },
      el('div', { class: 'item-row' }, tick,
        el('q', { class: 'inbox-text', 'data-testid': 'inbox-text', text: group.text }),
        el('span', { class: 'badge', 'data-testid': 'inbox-size', text: `×${group.size}` })),
      el('div', { class: 'item-row inbox-intents', 'data-testid': 'inbox-intents' },
        ...group.intents.map((i) => el('button', { type: 'button', class: 'chip', title: 'Use this intent',
          'data-intent': i.name, onclick: () => { this.intentInput.value = i.name; this.intentInput.focus(); } },
        `${i.name} ${percent(i.confidence)}`)),
        group.intents.length ? null : el('span', { class: 'muted', text: 'no intents recorded' })),
      el('div', { class: 'item-row' },
        ...Object.entries(group.reasons).map(([code, n]) => el('span', { class: 'badge reason', 'data-reason': code,
          text: `${REASONS[code] || humanize(code)}${n > 1 ? ` ×${n}` : ''}` })),
        ...group.hints.map((c) => el('span', { class: 'badge hint', text: `Agent: ${c}` }))),
      el('div', { class: 'item-row inbox-actions' }, ...actions),
      details);
  }

  renderItem(item) {
    const tick = el('input', { type: 'checkbox', 'aria-label': 'Tick this message', 'data-testid': 'inbox-item-tick',
      onchange: (ev) => { if (ev.target.checked) this.selected.add(item.id); else this.selected.delete(item.id); this.render(); } });
    tick.checked = this.selected.has(item.id);
    const decided = item.intent ? ` → ${item.intent}` : '';
    return el('li', { 'data-testid': 'inbox-item', 'data-item-id': String(item.id) }, tick,
      el('span', { class: 'inbox-item-text', text: item.text }),
      el('span', { class: 'muted', text: ` ${dateTime(item.created_at)}${decided}` }),
      this.status === 'new' ? el('button', { type: 'button', class: 'small ghost', 'data-testid': 'inbox-item-dismiss',
        onclick: () => this.decide([item.id], 'dismiss') }, 'Dismiss') : null);
  }

  async decideSelected(decision) {
    if (!this.selected.size) { toast('Tick the groups or messages first.', 'error'); return; }
    await this.decide([...this.selected], decision, decision === 'label' ? this.intentInput.value.trim() : null);
  }

  async decide(ids, decision, intent = null) {
    if (decision === 'label' && !intent) { toast('Type or pick the intent first.', 'error'); this.intentInput.focus(); return; }
    try {
      const result = await api('POST', '/api/inbox/decisions', { item_ids: ids, decision, intent });
      for (const id of ids) this.selected.delete(id);
      const what = decision === 'label' ? `labelled ${result.intent}` : humanize(result.decision);
      let message = `${result.decided} ${result.decided === 1 ? 'message' : 'messages'} ${what.toLowerCase()}`;
      if (result.file && result.file.written) message += `; training data written (${result.file.examples} examples)`;
      if (result.new_intent) message += `. ${result.intent} is a new intent: add it to the domain before training.`;
      toast(message);
      for (const c of result.conflicts || []) {
        toast(`Left out: “${c.text}” is an example of ${c.elsewhere} in another NLU file.`, 'error');
      }
      await this.load();
      if (result.new_intent) this.loadIntents();
    } catch (e) { toast(e.message, 'error'); }
  }
}
