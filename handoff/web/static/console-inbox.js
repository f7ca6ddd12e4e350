/* The trainers' workbench: the NLU inbox (docs/training.md). Customer messages the bot was unsure about, grouped
 * by near-duplicate, with the model's top intents and scores; a trainer labels them with an intent (of the domain,
 * or new), marks them out of scope, dismisses or reopens them, a group or a message at a time, or every group
 * ticked at once. Customers' words are shown as text only (textContent), never as HTML. */
import { el, api, toast, humanize, dateTime } from './console-lib.js';
import { number, t } from './i18n.js';

const STATUSES = ['new', 'labelled', 'out_of_scope', 'dismissed'];
const reasons = () => ({
  fallback: t('inbox.reason.fallback'),
  ambiguous: t('inbox.reason.ambiguous'),
  handed_off: t('inbox.reason.handed_off'),
  not_helpful: t('inbox.reason.not_helpful'),
  agent_category: t('inbox.reason.agent_category'),
});

const percent = (x) => number(x || 0, { style: 'percent' });

export default class InboxView {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.status = 'new';
    this.groups = [];
    this.selected = new Set(); // item ids ticked
    this.intents = [];
    this.statusSelect = el('select', { 'data-testid': 'inbox-status', 'aria-label': t('inbox.which'),
      onchange: () => { this.status = this.statusSelect.value; this.selected.clear(); this.renderBulk(); this.load(); } },
    ...STATUSES.map((s) => el('option', { value: s, text: humanize(s) })));
    this.grouping = el('span', { class: 'muted', 'data-testid': 'inbox-grouping' });
    this.intentInput = el('input', { type: 'text', list: 'inbox-intents', placeholder: t('inbox.intent_placeholder'),
      'aria-label': t('inbox.intent_label'), 'data-testid': 'inbox-intent', maxlength: '64', size: '24' });
    this.intentList = el('datalist', { id: 'inbox-intents' });
    this.selectedCount = el('span', { class: 'muted', 'data-testid': 'inbox-selected' });
    this.bulk = el('div', { class: 'inbox-bulk' },
      this.intentInput, this.intentList,
      el('button', { type: 'button', class: 'primary', 'data-testid': 'inbox-label-selected',
        onclick: () => this.decideSelected('label') }, t('inbox.label_ticked')),
      el('button', { type: 'button', 'data-testid': 'inbox-oos-selected',
        onclick: () => this.decideSelected('out_of_scope') }, t('inbox.out_of_scope')),
      el('button', { type: 'button', 'data-testid': 'inbox-dismiss-selected',
        onclick: () => this.decideSelected('dismiss') }, t('inbox.dismiss')),
      this.reopenButton = el('button', { type: 'button', 'data-testid': 'inbox-reopen-selected', hidden: true,
        onclick: () => this.decideSelected('reopen') }, t('qa.reopen')),
      this.selectedCount);
    this.list = el('div', { class: 'inbox-groups', 'data-testid': 'inbox-groups' });
    this.empty = el('p', { class: 'empty', 'data-testid': 'inbox-empty', hidden: true,
      text: t('inbox.empty') });
    root.append(
      el('section', { class: 'inbox' },
        el('h2', { text: t('tab.inbox') }),
        el('p', { class: 'muted', text: t('inbox.intro') }),
        el('div', { class: 'inbox-toolbar' }, this.statusSelect,
          el('button', { type: 'button', 'data-testid': 'inbox-refresh', onclick: () => this.load() }, t('common.refresh')),
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
        text: i.in_domain ? i.name : t('inbox.new_intent', { name: i.name }) })));
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
        ? t('inbox.grouped_text') : t('inbox.grouped_meaning');
      const present = new Set(this.groups.flatMap((g) => g.items.map((i) => i.id)));
      for (const id of [...this.selected]) if (!present.has(id)) this.selected.delete(id);
      this.render();
    } catch (e) { toast(e.message, 'error'); }
  }

  render() {
    this.list.replaceChildren(...this.groups.map((g) => this.renderGroup(g)));
    this.empty.hidden = this.groups.length > 0;
    this.selectedCount.textContent = this.selected.size ? t('inbox.ticked', { count: this.selected.size }) : '';
  }

  renderGroup(group) {
    const ids = group.items.map((i) => i.id);
    const all = ids.every((id) => this.selected.has(id));
    const tick = el('input', { type: 'checkbox', 'aria-label': t('inbox.tick_group'), 'data-testid': 'inbox-group-tick',
      onchange: (ev) => { for (const id of ids) { if (ev.target.checked) this.selected.add(id); else this.selected.delete(id); } this.render(); } });
    tick.checked = all;
    const top = group.intents[0];
    const actions = this.status === 'new'
      ? [top ? el('button', { type: 'button', class: 'small primary', 'data-testid': 'inbox-label-top',
        onclick: () => this.decide(ids, 'label', top.name) }, t('inbox.label_top', { name: top.name })) : null,
      el('button', { type: 'button', class: 'small', 'data-testid': 'inbox-label-as',
        onclick: () => this.decide(ids, 'label', this.intentInput.value.trim()) }, t('inbox.label_as_typed')),
      el('button', { type: 'button', class: 'small', 'data-testid': 'inbox-oos',
        onclick: () => this.decide(ids, 'out_of_scope') }, t('inbox.out_of_scope')),
      el('button', { type: 'button', class: 'small ghost', 'data-testid': 'inbox-dismiss',
        onclick: () => this.decide(ids, 'dismiss') }, t('inbox.dismiss'))]
      : [el('button', { type: 'button', class: 'small', 'data-testid': 'inbox-reopen',
        onclick: () => this.decide(ids, 'reopen') }, t('qa.reopen'))];
    const details = el('details', { class: 'inbox-items' },
      el('summary', { text: t('inbox.messages', { count: group.size }) }),
      el('ul', {}, ...group.items.map((item) => this.renderItem(item))));
    return el('article', { class: 'inbox-group', 'data-testid': 'inbox-group', 'data-group-id': String(group.id) },
      el('div', { class: 'item-row' }, tick,
        el('q', { class: 'inbox-text', 'data-testid': 'inbox-text', text: group.text }),
        el('span', { class: 'badge', 'data-testid': 'inbox-size', text: `×${group.size}` })),
      el('div', { class: 'item-row inbox-intents', 'data-testid': 'inbox-intents' },
        ...group.intents.map((i) => el('button', { type: 'button', class: 'chip', title: t('inbox.use_intent'),
          'data-intent': i.name, onclick: () => { this.intentInput.value = i.name; this.intentInput.focus(); } },
        `${i.name} ${percent(i.confidence)}`)),
        group.intents.length ? null : el('span', { class: 'muted', text: t('inbox.no_intents') })),
      el('div', { class: 'item-row' },
        ...Object.entries(group.reasons).map(([code, n]) => el('span', { class: 'badge reason', 'data-reason': code,
          text: `${reasons()[code] || humanize(code)}${n > 1 ? ` ×${n}` : ''}` })),
        ...group.hints.map((c) => el('span', { class: 'badge hint', text: t('inbox.agent_hint', { category: c }) }))),
      el('div', { class: 'item-row inbox-actions' }, ...actions),
      details);
  }

  renderItem(item) {
    const tick = el('input', { type: 'checkbox', 'aria-label': t('inbox.tick_message'), 'data-testid': 'inbox-item-tick',
      onchange: (ev) => { if (ev.target.checked) this.selected.add(item.id); else this.selected.delete(item.id); this.render(); } });
    tick.checked = this.selected.has(item.id);
    const decided = item.intent ? ` → ${item.intent}` : '';
    return el('li', { 'data-testid': 'inbox-item', 'data-item-id': String(item.id) }, tick,
      el('span', { class: 'inbox-item-text', text: item.text }),
      el('span', { class: 'muted', text: ` ${dateTime(item.created_at)}${decided}` }),
      this.status === 'new' ? el('button', { type: 'button', class: 'small ghost', 'data-testid': 'inbox-item-dismiss',
        onclick: () => this.decide([item.id], 'dismiss') }, t('inbox.dismiss')) : null);
  }

  async decideSelected(decision) {
    if (!this.selected.size) { toast(t('inbox.tick_first'), 'error'); return; }
    await this.decide([...this.selected], decision, decision === 'label' ? this.intentInput.value.trim() : null);
  }

  async decide(ids, decision, intent = null) {
    if (decision === 'label' && !intent) { toast(t('inbox.intent_first'), 'error'); this.intentInput.focus(); return; }
    try {
      const result = await api('POST', '/api/inbox/decisions', { item_ids: ids, decision, intent });
      for (const id of ids) this.selected.delete(id);
      const said = { count: result.decided, intent: result.intent };
      let message = { label: () => t('inbox.done.labelled', said), out_of_scope: () => t('inbox.done.out_of_scope', said),
        dismiss: () => t('inbox.done.dismissed', said), reopen: () => t('inbox.done.reopened', said),
      }[decision]?.() ?? `${result.decided} ${humanize(result.decision)}`;
      if (result.file && result.file.written) message += t('inbox.done.written', { count: result.file.examples });
      if (result.new_intent) message += t('inbox.done.new_intent', { intent: result.intent });
      toast(message);
      for (const c of result.conflicts || []) {
        toast(t('inbox.left_out', { text: c.text, elsewhere: c.elsewhere }), 'error');
      }
      await this.load();
      if (result.new_intent) this.loadIntents();
    } catch (e) { toast(e.message, 'error'); }
  }
}
