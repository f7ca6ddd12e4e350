/* The open conversation: transcript, reply box (outbox + drafts), canned responses, notes, actions. */
import { $, el, api, store, newId, clock, customerName, humanize, toast, toMillis } from './console-lib.js';
import { renderContext, loadSuggestions } from './console-context.js';
import { presenceWord, t } from './i18n.js';

const TYPING_SEND_MS = 3000;
const TYPING_SHOW_MS = 4000;
const channelNames = () => ({ web: t('conv.channel.web'), email: t('conv.channel.email'),
  xmpp: t('conv.channel.xmpp'), telegram: t('conv.channel.telegram') });

export class ConversationView {
  /** @param app the console (me, mine, socket, canned, applySummary, markRead, refreshMine). */
  constructor(app) {
    this.app = app;
    this.id = null;
    this.summary = null;
    this.buffer = null; // frames that arrive while the detail loads
    this.opening = null; // the newest open() in flight
    this.lastTypingSent = 0;
    this.typingTimer = null;
    this.suggestTimer = null;
    this.transcript = $('#transcript');
    this.input = $('#reply-input');
    this.bind();
  }

  // ---- outbox (unacknowledged replies survive reloads and reconnects) -----------------------
  get outboxKey() { return `outbox:${this.app.me.id}`; }
  get outbox() { return store.get(this.outboxKey, []); }
  set outbox(items) { store.set(this.outboxKey, items.length ? items : null); }
  draftKey(id) { return `draft:${this.app.me.id}:${id}`; }

  resendOutbox() {
    for (const item of this.outbox) {
      this.app.socket.send({ type: 'message', conversation_id: item.conversation_id, client_id: item.client_id, text: item.text });
    }
  }

  // ---- opening ------------------------------------------------------------------------------
  async open(id) {
    if (this.id && this.id !== id) this.saveDraft();
    this.id = id;
    // Opening again (a click, a reconnect) before the last opening has loaded supersedes it: only the newest
    // opening renders, with the frames buffered since it started.
    const opening = (this.opening = {});
    this.buffer = [];
    this.app.markRead(id);
    $('#conversation-empty').hidden = true;
    $('#conversation-body').hidden = false;
    $('#context').hidden = false;
    this.transcript.replaceChildren(el('p', { class: 'placeholder', text: t('common.loading') }));
    this.input.value = store.get(this.draftKey(id), '');
    $('#typing').textContent = '';
    let detail;
    try {
      detail = await api('GET', `/api/agent/conversations/${encodeURIComponent(id)}`);
    } catch (e) {
      if (this.id === id && this.opening === opening) {
        // No transcript to merge into: frames from now on show as they come, and Retry loads it all again.
        this.buffer = null;
        this.opening = null;
        this.transcript.replaceChildren(el('p', { class: 'placeholder', 'data-testid': 'open-failed' },
          `${e.message} `, el('button', { type: 'button', 'data-testid': 'retry-open', text: t('common.retry'),
            onclick: () => this.open(id) })));
      }
      return;
    }
    if (this.id !== id || this.opening !== opening) return;
    this.summary = detail.summary || detail;
    this.transcript.replaceChildren();
    (detail.messages || []).forEach((m) => this.renderMessage(m));
    const ticket = detail.ticket || {};
    (ticket.notes || detail.notes || []).forEach((n) => this.renderNote(n));
    const stored = new Set((detail.messages || []).map((m) => m.client_id).filter(Boolean));
    for (const item of this.outbox) {
      if (stored.has(item.client_id)) this.dropFromOutbox(item.client_id);
      else if (item.conversation_id === id) this.renderPending(item);
    }
    const buffered = this.buffer;
    this.buffer = null;
    buffered.forEach((m) => this.renderMessage(m));
    this.renderHeader();
    renderContext(detail, this.summary);
    loadSuggestions(id, () => this.id, (text) => this.insertText(text));
    this.loadTransferTargets();
    this.transcript.scrollTop = this.transcript.scrollHeight;
    this.input.focus();
  }

  close() {
    this.saveDraft();
    this.id = null;
    this.summary = null;
    $('#conversation-empty').hidden = false;
    $('#conversation-body').hidden = true;
    $('#context').hidden = true;
  }

  renderHeader() {
    const s = this.summary || {};
    $('#conv-title').textContent = customerName(s);
    const bits = [channelNames()[s.channel] || humanize(s.channel || 'web'), humanize(s.state || ''),
      t('conv.priority', { priority: humanize(s.priority || 'normal') }), t('conv.tier', { tier: s.tier || 1 })];
    if (s.category) bits.push(humanize(s.category));
    if (s.ticket_id != null) bits.push(t('conv.ticket', { id: s.ticket_id }));
    $('#conv-meta').textContent = bits.join(' · ');
    const mine = s.state === 'assigned' && s.agent_id === this.app.me.id;
    for (const sel of ['#reply-input', '#reply-send', '#transfer', '#transfer-target', '#handback', '#resolve', '#canned']) {
      $(sel).disabled = !mine;
    }
    $('#reply-status').textContent = mine ? '' : t('conv.not_yours');
  }

  /** A summary changed (conversation frame, assignment, action answer). */
  updateSummary(summary) {
    if (summary.conversation_id !== this.id) return;
    this.summary = { ...(this.summary || {}), ...summary };
    this.renderHeader();
  }

  // ---- transcript ---------------------------------------------------------------------------
  messageNode(m) {
    const sender = m.sender || 'system';
    const who = { customer: customerName(this.summary), bot: t('conv.assistant'), agent: m.agent_name || t('conv.agent'), system: '' }[sender];
    const node = el('div', { class: `msg ${sender}`, 'data-testid': 'message', 'data-sender': sender },
      el('div', { class: 'msg-head' }, who ? el('span', { class: 'who', text: who }) : null,
        el('time', { text: clock(m.created_at) })),
      el('div', { class: 'msg-text', text: m.text || '' }));
    const buttons = m.payload && Array.isArray(m.payload.buttons) ? m.payload.buttons : [];
    if (buttons.length) {
      node.append(el('div', { class: 'msg-buttons', text: t('conv.buttons', { buttons: buttons.map((b) => b && b.title).filter(Boolean).join(' | ') }) }));
    }
    const links = m.payload && Array.isArray(m.payload.links) ? m.payload.links : [];
    for (const link of links) { // an e-mail's attachments: files kept by the service (agents only)
      const safe = link && typeof link.url === 'string' && link.url.startsWith(`/api/agent/conversations/${encodeURIComponent(this.id)}/attachments/`);
      node.append(el('div', { class: 'msg-attachment', 'data-testid': 'attachment' },
        safe ? el('a', { href: link.url, target: '_blank', rel: 'noopener', text: link.title || t('conv.attachment') })
          : el('span', { text: (link && link.title) || t('conv.attachment') })));
    }
    node.dataset.ts = String(toMillis(m.created_at) || Date.now());
    return node;
  }

  renderMessage(m) {
    if (this.buffer) { this.buffer.push(m); return; }
    if (m.id != null && this.transcript.querySelector(`[data-id="${m.id}"]`)) return;
    const buttons = m.payload && Array.isArray(m.payload.buttons) ? m.payload.buttons : [];
    if (!m.text && !buttons.length) return; // data only (a citation in Rasa's `custom`): nothing to read
    const pending = m.client_id ? this.findPending(m.client_id) : null;
    const stick = this.nearBottom();
    const node = this.messageNode(m);
    if (m.id != null) node.dataset.id = String(m.id);
    if (pending) { pending.replaceWith(node); return; }
    const after = m.id == null ? null
      : [...this.transcript.querySelectorAll('[data-id]')].find((n) => Number(n.dataset.id) > m.id);
    if (after) this.transcript.insertBefore(node, after);
    else this.transcript.append(node);
    if (m.sender === 'customer') $('#typing').textContent = '';
    if (stick) this.transcript.scrollTop = this.transcript.scrollHeight;
  }

  renderNote(n) {
    const ts = toMillis(n.created_at) || Date.now();
    const author = n.agent_name || n.author || (n.agent_id === this.app.me.id ? this.app.me.name : n.agent_id) || '';
    const label = n.whisper ? t('conv.whisper_label', { author: author || t('conv.a_supervisor') })
      : author ? t('conv.note_by', { author }) : t('conv.note');
    const node = el('div', { class: `note${n.whisper ? ' whisper' : ''}`, 'data-testid': 'note',
      dataset: n.whisper ? { ts: String(ts), whisper: 'true', noteId: String(n.id) } : { ts: String(ts) } },
      el('div', { class: 'msg-head' }, el('span', { class: 'who', text: label }),
        el('time', { text: clock(n.created_at || ts) })),
      el('div', { class: 'msg-text', text: n.text || '' }));
    const after = [...this.transcript.querySelectorAll('[data-ts]')].find((x) => Number(x.dataset.ts) > ts);
    if (after) this.transcript.insertBefore(node, after);
    else this.transcript.append(node);
  }

  renderPending(item) {
    if (this.findPending(item.client_id)) return;
    const node = this.messageNode({ sender: 'agent', text: item.text, agent_name: this.app.me.name });
    node.dataset.clientId = item.client_id;
    node.dataset.status = 'sending';
    node.append(el('div', { class: 'msg-status', text: t('conv.sending') }));
    this.transcript.append(node);
    this.transcript.scrollTop = this.transcript.scrollHeight;
  }

  findPending(clientId) {
    return [...this.transcript.querySelectorAll('[data-client-id]')].find((n) => n.dataset.clientId === clientId) || null;
  }

  nearBottom() {
    const box = this.transcript;
    return box.scrollHeight - box.scrollTop - box.clientHeight < 80;
  }

  // ---- frames -------------------------------------------------------------------------------
  onMessage(conversationId, message) {
    if (message.client_id) this.dropFromOutbox(message.client_id);
    if (conversationId !== this.id) return;
    this.renderMessage(message);
    if (message.sender === 'customer') {
      clearTimeout(this.suggestTimer);
      this.suggestTimer = setTimeout(() => loadSuggestions(this.id, () => this.id, (text) => this.insertText(text)), 400);
    }
  }

  /** A supervisor whispered about one of this agent's conversations. */
  onWhisper(conversationId, note) {
    if (!note) return;
    if (conversationId === this.id && !this.transcript.querySelector(`[data-note-id="${Number(note.id)}"]`)) {
      this.renderNote(note);
      this.transcript.scrollTop = this.transcript.scrollHeight;
    }
    toast(t('conv.whisper_toast', { author: note.agent_name || t('conv.a_supervisor'), text: note.text }));
  }

  onAck(frame) {
    const item = this.outbox.find((x) => x.client_id === frame.client_id);
    this.dropFromOutbox(frame.client_id);
    if (item) this.app.answered(item.conversation_id);
    const node = this.findPending(frame.client_id);
    if (!node) return;
    if (frame.id != null && this.transcript.querySelector(`[data-id="${frame.id}"]`)) { node.remove(); return; }
    if (frame.id != null) node.dataset.id = String(frame.id);
    node.dataset.status = 'sent';
    const status = node.querySelector('.msg-status');
    if (status) status.remove();
    delete node.dataset.clientId;
  }

  /** How a reply's delivery by e-mail or IM went (the relay or the IM server may be down: the service keeps
   * trying; a refusal for good, such as a Telegram customer who blocked the bot, is not tried again). */
  onDelivery(frame) {
    const email = (frame.channel || 'email') === 'email';
    const time = frame.next_try ? clock(new Date(frame.next_try * 1000).toISOString()) : '';
    const channel = channelNames()[frame.channel] || humanize(frame.channel || '');
    const cause = frame.error || (email ? t('conv.mail_no_answer') : t('conv.im_no_answer'));
    const failed = () => (email ? t('conv.mail_failed', { error: cause }) : t('conv.im_failed', { channel, error: cause }));
    const text = frame.status === 'failed' ? failed()
      : email
        ? (frame.status === 'sent' ? t('conv.mail_sent') : t('conv.mail_retry', { error: cause, time }))
        : (frame.status === 'sent' ? t('conv.im_sent', { channel }) : t('conv.im_retry', { channel, error: cause, time }));
    if (frame.status !== 'sent') toast(text, 'error');
    if (frame.conversation_id !== this.id || frame.message_id == null) return;
    const node = this.transcript.querySelector(`[data-id="${Number(frame.message_id)}"]`);
    if (!node) return;
    let status = node.querySelector('.msg-delivery');
    if (!status) { status = el('div', { class: 'msg-delivery', 'data-testid': 'delivery' }); node.append(status); }
    status.textContent = text;
    node.dataset.delivery = frame.status;
  }

  onError(frame) {
    toast(frame.detail || t('conv.refused'), 'error');
    const node = frame.client_id ? this.findPending(frame.client_id) : null;
    if (!node) return;
    node.dataset.status = 'failed';
    const status = node.querySelector('.msg-status');
    if (status) status.textContent = t('conv.not_sent');
  }

  onTyping(conversationId) {
    if (conversationId !== this.id) return;
    $('#typing').textContent = t('conv.typing', { name: customerName(this.summary) });
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => { $('#typing').textContent = ''; }, TYPING_SHOW_MS);
  }

  dropFromOutbox(clientId) {
    const items = this.outbox;
    const left = items.filter((x) => x.client_id !== clientId);
    if (left.length !== items.length) this.outbox = left;
  }

  // ---- composing ----------------------------------------------------------------------------
  sendReply() {
    const text = this.input.value.trim();
    if (!text || !this.id) return;
    const item = { conversation_id: this.id, client_id: newId(), text };
    this.outbox = [...this.outbox, item];
    this.renderPending(item);
    this.input.value = '';
    store.set(this.draftKey(this.id), null);
    if (!this.app.socket.send({ type: 'message', conversation_id: item.conversation_id, client_id: item.client_id, text })) {
      $('#reply-status').textContent = t('conv.offline_kept');
    }
  }

  saveDraft() { if (this.id) store.set(this.draftKey(this.id), this.input.value || null); }

  insertText(text) {
    const start = this.input.selectionStart ?? this.input.value.length;
    const end = this.input.selectionEnd ?? start;
    this.input.setRangeText(text, start, end, 'end');
    this.input.focus();
    this.saveDraft();
  }

  /** "/shortcut" before the caret + Tab -> the canned text. Returns whether it expanded. */
  expandShortcut() {
    const caret = this.input.selectionStart;
    const before = this.input.value.slice(0, caret);
    const match = /(^|\s)\/([\w-]+)$/.exec(before);
    if (!match) return false;
    const key = match[2].toLowerCase();
    const canned = this.app.canned.find((c) => String(c.shortcut || '').replace(/^\//, '').toLowerCase() === key);
    if (!canned) return false;
    this.input.setRangeText(canned.text, caret - key.length - 1, caret, 'end');
    this.saveDraft();
    return true;
  }

  async loadTransferTargets() {
    const select = $('#transfer-target');
    const tiers = [1, 2, 3].map((n) => el('option', { value: `tier:${n}`, text: t('conv.tier_queue', { tier: n }) }));
    select.replaceChildren(...tiers);
    try {
      const data = await api('GET', '/api/agents');
      const agents = (Array.isArray(data) ? data : data.agents || []).filter((a) => a.id !== this.app.me.id);
      if (!agents.length) return;
      const group = el('optgroup', { label: t('conv.agents') });
      for (const a of agents) {
        const load = a.load != null ? ` · ${a.load}${a.capacity != null ? '/' + a.capacity : ''}` : '';
        group.append(el('option', { value: `agent:${a.id}`, text: `${a.name || a.username} (${presenceWord(a.presence || 'offline')}${load})` }));
      }
      select.append(group);
    } catch (e) { /* tiers still work */ }
  }

  async action(name, body) {
    const id = this.id;
    if (!id) return;
    try {
      const data = await api('POST', `/api/agent/conversations/${encodeURIComponent(id)}/${name}`, body);
      const summary = data && (data.conversation || (data.conversation_id ? data : null));
      if (summary) this.app.applySummary(summary);
      else this.app.refreshMine();
      toast({ transfer: t('conv.transferred'), handback: t('conv.handed_back'), resolve: t('conv.resolved') }[name]);
    } catch (e) {
      toast(e.message, 'error');
    }
  }

  async addNote() {
    const text = $('#note-input').value.trim();
    if (!text || !this.id) return;
    try {
      const note = await api('POST', `/api/agent/conversations/${encodeURIComponent(this.id)}/notes`, { text });
      this.renderNote({ agent_id: this.app.me.id, agent_name: this.app.me.name, created_at: new Date().toISOString(),
        ...(note && typeof note === 'object' ? note.note || note : {}), text });
      $('#note-input').value = '';
      this.transcript.scrollTop = this.transcript.scrollHeight;
    } catch (e) {
      toast(e.message, 'error');
    }
  }

  bind() {
    $('#reply-form').addEventListener('submit', (ev) => { ev.preventDefault(); this.sendReply(); });
    this.input.addEventListener('keydown', (ev) => {
      if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); this.sendReply(); }
      else if (ev.key === 'Tab' && !ev.shiftKey && this.expandShortcut()) ev.preventDefault();
    });
    this.input.addEventListener('input', () => {
      this.saveDraft();
      const now = Date.now();
      if (this.id && this.input.value && now - this.lastTypingSent >= TYPING_SEND_MS
          && this.app.socket.send({ type: 'typing', conversation_id: this.id })) this.lastTypingSent = now;
    });
    $('#canned').addEventListener('change', (ev) => {
      const canned = this.app.canned.find((c) => String(c.id) === ev.target.value);
      ev.target.value = '';
      if (canned) this.insertText(canned.text);
    });
    $('#note-form').addEventListener('submit', (ev) => { ev.preventDefault(); this.addNote(); });
    $('#transfer').addEventListener('click', () => {
      const [kind, value] = ($('#transfer-target').value || '').split(/:(.*)/s);
      if (kind === 'tier') this.action('transfer', { tier: Number(value) });
      else if (kind === 'agent') this.action('transfer', { agent_id: value });
    });
    $('#handback').addEventListener('click', () => this.action('handback'));
    $('#resolve').addEventListener('click', () => this.action('resolve'));
    this.transcript.addEventListener('click', (ev) => {
      const node = ev.target.closest('[data-status="failed"]');
      const item = node && this.outbox.find((x) => x.client_id === node.dataset.clientId);
      if (!item) return;
      node.dataset.status = 'sending';
      node.querySelector('.msg-status').textContent = t('conv.sending');
      this.app.socket.send({ type: 'message', conversation_id: item.conversation_id, client_id: item.client_id, text: item.text });
    });
    window.addEventListener('beforeunload', () => this.saveDraft());
  }
}
