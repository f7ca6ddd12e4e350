/* The supervisors' live board (docs/supervisors.md): the queue and its longest wait, every agent's presence, load
 * and conversations, the conversations at risk; and on any conversation: watch it read-only, whisper to its agent,
 * reassign it, escalate it. The snapshot is read again every REFRESH_MS while the tab is shown; a watched
 * conversation comes live over the console's socket (`watch` / `watching` / `watched` frames). */
import { el, api, toast, duration, clock, humanize, customerName } from './console-lib.js';
import { presenceWord, t } from './i18n.js';

const REFRESH_MS = 3000;
const risks = () => ({
  waiting_past_target: t('board.risk.waiting_past_target'),
  negative_sentiment: t('board.risk.negative_sentiment'),
  transferred_repeatedly: t('board.risk.transferred_repeatedly'),
});

function table(headers, body, testid) {
  return el('div', { class: 'table-wrap board-table' },
    el('table', { 'data-testid': testid },
      el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', { text: h })))), body));
}

function tile(label, value, testid, warn) {
  return el('div', { class: `board-tile${warn ? ' over' : ''}` },
    el('div', { class: 'tile-value', 'data-testid': testid, text: value }),
    el('div', { class: 'tile-label', text: label }));
}

export default class BoardView {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.data = null;
    this.timer = null;
    this.watching = null; // the id of the conversation watched
    this.summary = null; // its summary, as last heard
    this.build();
    app.listeners.add((frame) => this.onFrame(frame));
  }

  // ---- layout -------------------------------------------------------------------------------------
  build() {
    this.updated = el('span', { class: 'muted', 'data-testid': 'board-updated' });
    this.tiles = el('div', { class: 'board-tiles' });
    this.riskRows = el('tbody');
    this.agentRows = el('tbody');
    this.queueRows = el('tbody');
    this.panelTitle = el('h3', { 'data-testid': 'watch-title' });
    this.panelMeta = el('div', { class: 'meta', 'data-testid': 'watch-meta' });
    this.transcript = el('div', { class: 'transcript board-transcript', 'data-testid': 'watch-transcript',
      role: 'log', 'aria-live': 'polite', 'aria-label': t('board.watched_transcript') });
    this.whisperInput = el('textarea', { rows: '2', maxlength: '2000', 'data-testid': 'whisper-input',
      placeholder: t('board.whisper_placeholder'), 'aria-label': t('board.whisper') });
    this.reassignTarget = el('select', { 'data-testid': 'reassign-target', 'aria-label': t('board.reassign_to') });
    this.escalateTier = el('select', { 'data-testid': 'escalate-tier', 'aria-label': t('board.escalate_to') },
      el('option', { value: '2', text: t('conv.tier', { tier: 2 }) }), el('option', { value: '3', text: t('conv.tier', { tier: 3 }) }));
    this.panel = el('aside', { class: 'board-panel', 'data-testid': 'watch-panel', hidden: true },
      el('div', { class: 'board-panel-head' },
        el('div', {}, this.panelTitle, this.panelMeta),
        el('button', { type: 'button', class: 'small', 'data-testid': 'stop-watching', text: t('board.stop_watching'),
          onclick: () => this.unwatch() })),
      el('p', { class: 'read-only', 'data-testid': 'read-only', role: 'note',
        text: t('board.read_only') }),
      this.transcript,
      el('form', { class: 'board-form', onsubmit: (ev) => { ev.preventDefault(); this.whisper(); } },
        this.whisperInput,
        el('button', { type: 'submit', 'data-testid': 'whisper-send', text: t('board.whisper') })),
      el('div', { class: 'board-form' },
        this.reassignTarget,
        el('button', { type: 'button', 'data-testid': 'reassign', text: t('board.reassign'),
          onclick: () => this.act('reassign', { agent_id: this.reassignTarget.value }) })),
      el('div', { class: 'board-form' },
        this.escalateTier,
        el('button', { type: 'button', 'data-testid': 'escalate', text: t('board.escalate'),
          onclick: () => this.act('escalate', { tier: Number(this.escalateTier.value) }) })));
    this.root.replaceChildren(el('div', { class: 'board-layout' },
      el('div', { class: 'board-main' },
        el('div', { class: 'board-head' }, el('h2', { text: t('board.title') }), this.updated),
        this.tiles,
        el('h3', { text: t('board.at_risk') }),
        table([t('board.customer'), t('board.state'), t('board.agent'), t('board.waiting'), t('board.why'), ''],
          this.riskRows, 'board-at-risk'),
        el('h3', { text: t('board.agents') }),
        table([t('board.agent'), t('board.presence'), t('board.load'), t('tab.conversations')], this.agentRows, 'board-agents'),
        el('h3', { text: t('lists.queue') }),
        table([t('board.customer'), t('tickets.tier'), t('tickets.priority'), t('board.waiting'), t('board.why'), ''],
          this.queueRows, 'board-queue')),
      this.panel));
  }

  show() {
    this.refresh();
    clearInterval(this.timer);
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
  }

  hide() {
    clearInterval(this.timer);
    this.timer = null;
  }

  async refresh() {
    try {
      this.data = await api('GET', '/api/board');
    } catch (e) {
      this.updated.textContent = t('board.not_updated', { error: e.message });
      return;
    }
    this.render();
  }

  // ---- the snapshot ----------------------------------------------------------------------------------
  render() {
    const d = this.data;
    const target = d.targets.queue_wait_seconds;
    const longest = d.queue.longest_wait_seconds;
    const online = d.agents.filter((a) => a.presence === 'online').length;
    this.updated.textContent = t('board.updated', { time: clock(d.now), seconds: REFRESH_MS / 1000 });
    this.tiles.replaceChildren(
      tile(t('board.tile.waiting'), String(d.queue.length), 'board-queue-length', false),
      tile(t('board.tile.longest', { target: duration(target) }), longest == null ? '–' : duration(longest),
        'board-longest-wait', longest != null && longest > target),
      tile(t('board.risk.waiting_past_target'), String(d.queue.over_target), 'board-over-target', d.queue.over_target > 0),
      tile(t('board.at_risk'), String(d.at_risk.length), 'board-risk-count', d.at_risk.length > 0),
      tile(t('board.tile.online'), t('board.of', { part: online, whole: d.agents.length }), 'board-online', false));
    const names = new Map(d.agents.map((a) => [a.id, a.name]));
    this.riskRows.replaceChildren(...d.at_risk.map((c) => el('tr', { 'data-testid': 'risk-row',
      'data-conversation-id': c.conversation_id },
    el('td', { text: customerName(c) }), el('td', { text: humanize(c.state) }),
    el('td', { text: c.agent_id ? names.get(c.agent_id) || c.agent_id : '–' }),
    el('td', { text: c.wait_seconds == null ? '–' : duration(c.wait_seconds) }),
    el('td', {}, ...this.riskBadges(c)), el('td', {}, this.actions(c)))));
    if (!d.at_risk.length) this.riskRows.append(el('tr', {}, el('td', { colspan: '6', class: 'muted', text: t('board.nothing_at_risk') })));
    this.agentRows.replaceChildren(...d.agents.map((a) => el('tr', { 'data-testid': 'agent-row', 'data-agent-id': a.id },
      el('td', {}, el('div', { text: a.name }), el('div', { class: 'muted', text: t('board.role_tiers', { role: humanize(a.role), tiers: a.tiers.join(', ') }) })),
      el('td', {}, el('span', { class: `presence ${a.presence}`, 'data-testid': 'agent-presence', text: humanize(a.presence) })),
      el('td', { 'data-testid': 'agent-load', text: `${a.load} / ${a.capacity}` }),
      el('td', {}, ...(a.conversations.length ? a.conversations.map((c) => el('div', { class: 'board-conv',
        'data-testid': 'agent-conversation', 'data-conversation-id': c.conversation_id },
      el('span', { text: customerName(c) }), el('span', { class: 'badge tier', text: t('lists.tier', { tier: c.tier }) }),
      ...this.riskBadges(c), this.actions(c))) : [el('span', { class: 'muted', text: t('board.none') })])))));
    this.queueRows.replaceChildren(...d.queued.map((c) => el('tr', { 'data-testid': 'queued-row',
      'data-conversation-id': c.conversation_id },
    el('td', { text: customerName(c) }), el('td', { text: t('lists.tier', { tier: c.tier }) }), el('td', { text: humanize(c.priority) }),
    el('td', { text: c.wait_seconds == null ? '–' : duration(c.wait_seconds) }),
    el('td', {}, ...this.riskBadges(c)), el('td', {}, this.actions(c)))));
    if (!d.queued.length) this.queueRows.append(el('tr', {}, el('td', { colspan: '6', class: 'muted', text: t('lists.queue_empty') })));
    this.renderTargets();
  }

  riskBadges(c) {
    return (c.risks || []).map((r) => el('span', { class: 'badge risk', 'data-testid': 'risk', 'data-risk': r,
      text: risks()[r] || humanize(r) }));
  }

  /** The buttons of one conversation's row: each opens the watch panel, then the control it names. */
  actions(c) {
    const id = c.conversation_id;
    const open = (focus) => () => { this.watch(id); if (focus) focus.focus(); };
    return el('span', { class: 'board-actions' },
      el('button', { type: 'button', class: 'small', 'data-testid': 'watch', text: t('board.watch'), onclick: open(null) }),
      c.state === 'assigned' ? el('button', { type: 'button', class: 'small', 'data-testid': 'whisper',
        text: t('board.whisper'), onclick: open(this.whisperInput) }) : null,
      el('button', { type: 'button', class: 'small', 'data-testid': 'reassign-open', text: t('board.reassign'),
        onclick: open(this.reassignTarget) }),
      el('button', { type: 'button', class: 'small', 'data-testid': 'escalate-open', text: t('board.escalate'),
        onclick: open(this.escalateTier) }));
  }

  renderTargets() {
    if (!this.data) return;
    const chosen = this.reassignTarget.value;
    const current = this.summary && this.summary.agent_id;
    this.reassignTarget.replaceChildren(...this.data.agents.filter((a) => a.id !== current).map((a) => el('option', {
      value: a.id, text: `${a.name} (${presenceWord(a.presence)}, ${a.load}/${a.capacity})` })));
    if (chosen) this.reassignTarget.value = chosen;
  }

  // ---- watching -------------------------------------------------------------------------------------------
  watch(id) {
    if (this.watching !== id) {
      this.watching = id;
      this.summary = null;
      this.panelTitle.textContent = t('common.loading');
      this.panelMeta.textContent = '';
      this.transcript.replaceChildren();
    }
    this.panel.hidden = false;
    if (!this.app.socket || !this.app.socket.send({ type: 'watch', conversation_id: id })) {
      this.panelMeta.textContent = t('board.reconnecting');
    }
  }

  unwatch() {
    if (this.app.socket) this.app.socket.send({ type: 'unwatch' });
    this.watching = null;
    this.summary = null;
    this.panel.hidden = true;
  }

  onFrame(f) {
    if (f.type === 'hello' && this.watching) this.watch(this.watching); // a new socket watches nothing yet
    if (f.type === 'watching' && f.conversation && f.conversation.conversation_id === this.watching) {
      this.summary = f.conversation;
      (f.conversation.messages || []).forEach((m) => this.renderMessage(m));
      ((f.conversation.ticket || {}).notes || []).forEach((n) => this.renderNote(n));
      this.renderHeader();
      this.renderTargets();
    }
    if (f.type !== 'watched' || f.conversation_id !== this.watching || !f.event) return;
    const event = f.event;
    if (event.type === 'message' && event.message) this.renderMessage(event.message);
    else if (event.type === 'whisper' && event.note) this.renderNote(event.note);
    else if (event.type === 'state' && this.summary) {
      this.summary = { ...this.summary, state: event.state };
      this.renderHeader();
      this.refresh();
    }
  }

  renderHeader() {
    const s = this.summary || {};
    const agent = this.data && this.data.agents.find((a) => a.id === s.agent_id);
    this.panelTitle.textContent = t('board.watching', { name: customerName(s) });
    this.panelMeta.textContent = [humanize(s.state || ''), agent ? t('board.with', { agent: agent.name }) : null,
      t('conv.tier', { tier: s.tier || 1 }), s.ticket_id != null ? t('conv.ticket', { id: s.ticket_id }) : null].filter(Boolean).join(' · ');
  }

  /** In id order, once each (frames that came while the transcript was read are merged by id). */
  renderMessage(m) {
    if (m.id == null || !m.text || this.transcript.querySelector(`[data-id="${Number(m.id)}"]`)) return;
    const who = { customer: customerName(this.summary), bot: t('conv.assistant'), agent: m.agent_name || t('conv.agent'), system: '' }[m.sender];
    const node = el('div', { class: `msg ${m.sender}`, 'data-testid': 'watched-message', 'data-sender': m.sender,
      dataset: { id: String(m.id) } },
    el('div', { class: 'msg-head' }, who ? el('span', { class: 'who', text: who }) : null, el('time', { text: clock(m.created_at) })),
    el('div', { class: 'msg-text', text: m.text }));
    const after = [...this.transcript.querySelectorAll('[data-id]')].find((n) => Number(n.dataset.id) > m.id);
    if (after) this.transcript.insertBefore(node, after);
    else this.transcript.append(node);
    this.transcript.scrollTop = this.transcript.scrollHeight;
  }

  renderNote(n) {
    if (this.transcript.querySelector(`[data-note-id="${Number(n.id)}"]`)) return;
    const label = n.whisper ? t('board.whisper_from', { author: n.agent_name || t('conv.a_supervisor') })
      : t('conv.note_by', { author: n.agent_name || '' });
    this.transcript.append(el('div', { class: `note${n.whisper ? ' whisper' : ''}`, 'data-testid': 'watched-note',
      dataset: { noteId: String(n.id) } },
    el('div', { class: 'msg-head' }, el('span', { class: 'who', text: label }), el('time', { text: clock(n.created_at) })),
    el('div', { class: 'msg-text', text: n.text || '' })));
    this.transcript.scrollTop = this.transcript.scrollHeight;
  }

  // ---- acting ------------------------------------------------------------------------------------------------
  async whisper() {
    const text = this.whisperInput.value.trim();
    if (!text || !this.watching) return;
    try {
      const data = await api('POST', `/api/board/conversations/${encodeURIComponent(this.watching)}/whisper`, { text });
      this.whisperInput.value = '';
      this.renderNote(data.note);
      toast(t('board.whispered'));
    } catch (e) {
      toast(e.message, 'error');
    }
  }

  async act(name, body) {
    if (!this.watching) return;
    try {
      const summary = await api('POST', `/api/board/conversations/${encodeURIComponent(this.watching)}/${name}`, body);
      this.summary = { ...(this.summary || {}), ...summary };
      this.renderHeader();
      toast(name === 'reassign' ? t('board.reassigned') : t('board.escalated', { tier: summary.tier }));
    } catch (e) {
      toast(e.message, 'error');
    }
    await this.refresh();
    this.renderHeader();
  }
}
