/* Brightwood support widget: one script tag, a Shadow DOM UI, the customer side of
 * docs/handoff-protocol.md. Customer text only ever reaches the page through textContent. */
(async () => {
  'use strict';
  if (window.__brightwoodWidget) return;
  window.__brightwoodWidget = true;

  const script = document.currentScript || document.querySelector('script[src*="widget.js"]');
  const ORIGIN = new URL(script ? script.src : location.href, location.href).origin;
  const WS_ORIGIN = ORIGIN.replace(/^http/, 'ws');
  const ds = (script && script.dataset) || {};
  // ---- texts: the catalog of the shop's language (data-lang), else the browser's; English fills any gap.
  // How to add a language: docs/translations.md.
  const LOCALES = ['en', 'zh'];
  const pickLocale = (tags) => {
    for (const tag of tags) {
      const base = String(tag || '').toLowerCase().split(/[-_]/)[0];
      if (LOCALES.includes(base)) return base;
    }
    return 'en';
  };
  const LOCALE = pickLocale(ds.lang || ds.language ? [ds.lang || ds.language] : (navigator.languages || [navigator.language]));
  const catalogs = { en: {}, here: {} };
  const plurals = new Intl.PluralRules(LOCALE);
  /** The text of `key` with its {placeholders} filled; a plural entry picks its form by `params.count`. */
  const t = (key, params = {}) => {
    let msg = key in catalogs.here ? catalogs.here[key] : key in catalogs.en ? catalogs.en[key] : key;
    if (msg && typeof msg === 'object') msg = msg[plurals.select(Number(params.count))] || msg.other;
    return String(msg).replace(/\{(\w+)\}/g, (all, name) => (name in params ? String(params[name]) : all));
  };
  const loadCatalog = (locale) => fetch(`${ORIGIN}/static/widget.${locale}.json`)
    .then((res) => (res.ok ? res.json() : {})).catch(() => ({}));
  [catalogs.en, catalogs.here] = await Promise.all([loadCatalog('en'), LOCALE === 'en' ? {} : loadCatalog(LOCALE)]);

  const CONFIG = {
    title: ds.title || t('widget.title'),
    name: ds.name || null, email: ds.email || null,
    externalId: ds.externalId || null, expires: ds.expires || null, signature: ds.signature || null,
    identities: ds.identities || null,  // the customer's channel identities, signed with the id (docs/channels.md)
    // The conversation's language (the service's notices, and routing to an agent who speaks it).
    language: (ds.lang || ds.language || navigator.language || 'en').slice(0, 2).toLowerCase(),
  };
  const KEY = 'brightwood-widget:' + ORIGIN;
  const MAX_CHARS = 2000, MAX_CACHED = 100, PING_MS = 25000, TYPING_SEND_MS = 3000, TYPING_SHOW_MS = 4000;
  const RETRY_CODES = new Set(['unavailable', 'rate_limited']), MAX_RETRIES = 8; // error codes worth a resend
  const ENDED = new Set(['resolved', 'abandoned']);

  // ---- persistent state ----------------------------------------------------------------
  const memory = {};
  const storage = {
    load() {
      try { return JSON.parse(localStorage.getItem(KEY)) || {}; } catch (e) { return memory[KEY] || {}; }
    },
    save(value) {
      try { localStorage.setItem(KEY, JSON.stringify(value)); } catch (e) { memory[KEY] = value; }
    },
  };
  // A conversation belongs to whoever the shop said the visitor was when it started: when the page names
  // someone else (another sign-in on this browser, or signed out), the old conversation is not reopened.
  const loaded = storage.load();
  const saved = (loaded.externalId || null) === CONFIG.externalId ? loaded : {};
  const st = {
    conversationId: saved.conversationId || null, token: saved.token || null,
    lastId: saved.lastId || 0, outbox: saved.outbox || [], messages: saved.messages || [],
    open: !!saved.open, state: saved.state || 'bot', agentName: saved.agentName || null, queue: null,
  };
  const persist = () => storage.save({ externalId: CONFIG.externalId,
    conversationId: st.conversationId, token: st.token, lastId: st.lastId, outbox: st.outbox,
    messages: st.messages.slice(-MAX_CACHED), open: st.open, state: st.state, agentName: st.agentName,
  });

  // ---- DOM -------------------------------------------------------------------------------
  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  };
  const svg = (path) => {
    const ns = 'http://www.w3.org/2000/svg';
    const s = document.createElementNS(ns, 'svg');
    s.setAttribute('viewBox', '0 0 24 24'); s.setAttribute('width', '24'); s.setAttribute('height', '24');
    s.setAttribute('aria-hidden', 'true');
    const p = document.createElementNS(ns, 'path');
    p.setAttribute('d', path); p.setAttribute('fill', 'currentColor');
    s.append(p);
    return s;
  };

  const STYLES = `
:host { all: initial; position: fixed; right: 20px; bottom: 20px; z-index: 2147483000;
  font: 14px/1.45 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: #1f2933; }
* { box-sizing: border-box; }
button { font: inherit; cursor: pointer; }
.launcher { width: 56px; height: 56px; border-radius: 50%; border: 0; background: #2f6f4f; color: #fff;
  box-shadow: 0 4px 14px rgba(0,0,0,.25); display: flex; align-items: center; justify-content: center;
  position: relative; margin-left: auto; }
.launcher:focus-visible, button:focus-visible, textarea:focus-visible { outline: 3px solid #9cc7ae; outline-offset: 2px; }
.badge { position: absolute; top: -4px; right: -4px; min-width: 20px; height: 20px; border-radius: 10px;
  background: #c0392b; color: #fff; font-size: 12px; padding: 0 6px; line-height: 20px; }
.panel { position: absolute; right: 0; bottom: 68px; width: 360px; height: 520px; max-height: calc(100vh - 100px);
  max-width: calc(100vw - 40px); background: #fff; border-radius: 12px; box-shadow: 0 8px 30px rgba(0,0,0,.22);
  display: flex; flex-direction: column; overflow: hidden; }
.panel[hidden] { display: none; }
header { background: #2f6f4f; color: #fff; padding: 12px 14px; display: flex; align-items: center; gap: 8px; }
header .titles { flex: 1; min-width: 0; }
header h2 { font-size: 15px; margin: 0; font-weight: 600; }
header .state { font-size: 12px; opacity: .9; }
header button { background: transparent; border: 0; color: #fff; padding: 4px; border-radius: 4px; }
.notice { background: #fff4e5; color: #7a4b00; font-size: 12px; padding: 6px 12px; border-bottom: 1px solid #f1dcb5; }
.notice[hidden] { display: none; }
.messages { flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 6px;
  background: #f7f8fa; }
.msg { max-width: 82%; padding: 8px 11px; border-radius: 12px; white-space: pre-wrap; word-wrap: break-word; }
.msg .who { display: block; font-size: 11px; color: #52606d; margin-bottom: 2px; }
.msg.customer { align-self: flex-end; background: #2f6f4f; color: #fff; border-bottom-right-radius: 4px; }
.msg.bot, .msg.agent { align-self: flex-start; background: #fff; border: 1px solid #e4e7eb; border-bottom-left-radius: 4px; }
.msg.agent { border-color: #b7d3c3; }
.msg.system { align-self: center; background: transparent; color: #616e7c; font-size: 12px; font-style: italic; text-align: center; }
.status { display: block; font-size: 11px; opacity: .8; text-align: right; margin-top: 2px; }
.msg.failed { background: #9b2c2c; }
.buttons { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 6px; }
.buttons button { border: 1px solid #2f6f4f; color: #2f6f4f; background: #fff; border-radius: 14px; padding: 3px 10px; font-size: 13px; }
.buttons button:disabled { opacity: .5; cursor: default; }
.typing { font-size: 12px; color: #52606d; padding: 2px 14px 4px; min-height: 20px; background: #f7f8fa; }
form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #e4e7eb; align-items: flex-end; }
textarea { flex: 1; resize: none; border: 1px solid #cbd2d9; border-radius: 8px; padding: 8px; font: inherit;
  min-height: 38px; max-height: 120px; color: inherit; }
.send { border: 0; background: #2f6f4f; color: #fff; border-radius: 8px; padding: 8px 14px; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.vote { display: flex; flex-wrap: wrap; align-items: center; gap: 6px; font-size: 12px; color: #52606d; margin-top: 6px; }
.msg > .vote { border-top: 1px solid #e4e7eb; padding-top: 6px; }
.vote.alone { align-self: flex-start; margin: -2px 0 0 4px; }
.vote button, .survey .scale button { border: 1px solid #9aa5b1; background: #fff; color: #1f2933; border-radius: 14px; padding: 2px 10px; font-size: 12px; }
.vote button[aria-pressed="true"], .survey .scale button[aria-pressed="true"] { background: #2f6f4f; border-color: #2f6f4f; color: #fff; }
.vote textarea, .survey textarea { width: 100%; min-height: 48px; max-height: 96px; }
.vote label, .vote textarea { flex: 1 1 100%; }
.vote .send, .survey .send { padding: 4px 12px; font-size: 13px; border: 0; background: #2f6f4f; color: #fff; border-radius: 8px; }
.survey { align-self: stretch; background: #fff; border: 1px solid #b7d3c3; border-radius: 12px; padding: 10px 12px; display: flex; flex-direction: column; gap: 8px; }
.survey .question { margin: 0; font-weight: 600; }
.survey .scale { display: flex; gap: 6px; }
.survey .scale button { flex: 1; font-size: 14px; padding: 6px 0; }
.survey .ends { display: flex; justify-content: space-between; font-size: 11px; color: #616e7c; }
.survey .thanks { margin: 0; }
.survey .change { align-self: flex-start; border: 0; background: transparent; color: #2f6f4f; text-decoration: underline; padding: 0; font-size: 12px; }
.accounts { background: #fff; border-bottom: 1px solid #e4e7eb; padding: 10px 12px; font-size: 13px; max-height: 60%; overflow-y: auto; }
.accounts[hidden], .accounts form[hidden] { display: none; }
.accounts h3 { font-size: 13px; margin: 0 0 6px; }
.accounts ul { list-style: none; margin: 0 0 8px; padding: 0; }
.accounts li { display: flex; gap: 6px; align-items: center; padding: 2px 0; word-break: break-all; }
.accounts li .how { color: #616e7c; font-size: 11px; }
.accounts li button, .accounts .link { border: 0; background: transparent; color: #2f6f4f; text-decoration: underline; padding: 0; font-size: 12px; }
.accounts form { padding: 6px 0; border: 0; }
.accounts input { flex: 1; border: 1px solid #cbd2d9; border-radius: 8px; padding: 6px 8px; font: inherit; min-width: 0; }
.accounts .hint { margin: 6px 0 0; color: #52606d; font-size: 12px; white-space: pre-wrap; }
`;

  const host = el('div', { id: 'brightwood-widget', lang: LOCALE === 'zh' ? 'zh-CN' : LOCALE });
  const root = host.attachShadow({ mode: 'open' });
  const badge = el('span', { class: 'badge', hidden: '' });
  const launcher = el('button', {
    class: 'launcher', type: 'button', 'data-testid': 'bw-launcher', 'aria-label': t('widget.open_chat'),
    'aria-expanded': 'false', onclick: () => setOpen(!st.open),
  }, svg('M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z'), badge);
  const stateLine = el('div', { class: 'state', 'data-testid': 'bw-state', role: 'status' });
  const notice = el('div', { class: 'notice', hidden: '', role: 'alert' });
  const list = el('div', {
    class: 'messages', 'data-testid': 'bw-messages', 'aria-live': 'polite', role: 'log', 'aria-label': t('widget.messages'),
  });
  const typing = el('div', { class: 'typing', 'data-testid': 'bw-typing', 'aria-live': 'polite' });
  const input = el('textarea', {
    id: 'bw-input', 'data-testid': 'bw-input', rows: '1', maxlength: String(MAX_CHARS), placeholder: t('widget.placeholder'),
  });
  const form = el('form', { novalidate: '' },
    el('label', { class: 'sr', for: 'bw-input', text: t('widget.your_message') }), input,
    el('button', { class: 'send', type: 'submit', 'data-testid': 'bw-send', text: t('widget.send') }));
  // Linked accounts (docs/channels.md, "Who a customer is"): only a customer the shop signed in links their
  // e-mail addresses and chat apps; every text below is set with textContent.
  const identityList = el('ul', { 'data-testid': 'bw-identities' });
  const accountsHint = el('p', { class: 'hint', 'data-testid': 'bw-accounts-hint', role: 'status' });
  const emailInput = el('input', { id: 'bw-email', type: 'email', 'data-testid': 'bw-email', maxlength: '320',
    placeholder: 'you@example.com', autocomplete: 'email' });
  const codeInput = el('input', { id: 'bw-code', 'data-testid': 'bw-code', maxlength: '16', placeholder: t('widget.accounts.code_placeholder'),
    autocomplete: 'one-time-code' });
  const emailForm = el('form', { novalidate: '' }, el('label', { class: 'sr', for: 'bw-email', text: t('widget.accounts.email_label') }),
    emailInput, el('button', { class: 'send', type: 'submit', 'data-testid': 'bw-email-send', text: t('widget.accounts.send_code') }));
  const codeForm = el('form', { novalidate: '', hidden: '' }, el('label', { class: 'sr', for: 'bw-code', text: t('widget.accounts.code') }),
    codeInput, el('button', { class: 'send', type: 'submit', 'data-testid': 'bw-code-send', text: t('widget.accounts.confirm') }));
  const accounts = el('section', { class: 'accounts', hidden: '', 'data-testid': 'bw-accounts', 'aria-label': t('widget.accounts.title') },
    el('h3', { text: t('widget.accounts.title') }), identityList,
    el('h3', { text: t('widget.accounts.add_email') }), emailForm, codeForm,
    el('button', { type: 'button', class: 'link', 'data-testid': 'bw-link-code', text: t('widget.accounts.link_app'),
      onclick: () => identityAction(async () => {
        const given = await identityCall('POST', '/link-code');
        return t('widget.accounts.send_command', { command: given.command });
      }) }),
    accountsHint);
  const accountsButton = CONFIG.externalId ? el('button', { type: 'button', 'data-testid': 'bw-accounts-toggle',
    'aria-label': t('widget.accounts.title'), onclick: () => toggleAccounts() },
    svg('M12 12a4 4 0 1 0-4-4 4 4 0 0 0 4 4zm0 2c-4 0-8 2-8 5v1h16v-1c0-3-4-5-8-5z')) : null;
  const panel = el('section', { class: 'panel', 'data-testid': 'bw-panel', hidden: '', role: 'dialog', 'aria-label': CONFIG.title },
    el('header', {},
      el('div', { class: 'titles' }, el('h2', { text: CONFIG.title }), stateLine), accountsButton,
      el('button', { type: 'button', 'aria-label': t('widget.close_chat'), onclick: () => setOpen(false) },
        svg('M6.4 5 5 6.4 10.6 12 5 17.6 6.4 19l5.6-5.6 5.6 5.6 1.4-1.4-5.6-5.6L19 6.4 17.6 5 12 10.6z'))),
    notice, accounts, list, typing, form);
  // A constructed sheet also works under a host page's strict style-src CSP; <style> is the fallback.
  try {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(STYLES);
    root.adoptedStyleSheets = [sheet];
  } catch (e) {
    root.append(el('style', { text: STYLES }));
  }
  root.append(panel, launcher);

  // ---- rendering ---------------------------------------------------------------------------
  let unread = 0, noticeTimer = null, typingTimer = null;
  const showNotice = (text, sticky = false) => {
    clearTimeout(noticeTimer);
    notice.textContent = text;
    notice.hidden = !text;
    if (text && !sticky) noticeTimer = setTimeout(() => { notice.hidden = true; }, 8000);
  };
  const renderState = () => {
    let line = t('widget.state.bot');
    if (st.state === 'queued') {
      const q = st.queue || {};
      const minutes = q.wait_seconds != null ? Math.max(1, Math.round(q.wait_seconds / 60)) : null;
      if (q.position && minutes) line = t('widget.state.queued_position_wait', { position: q.position, count: minutes });
      else if (q.position) line = t('widget.state.queued_position', { position: q.position });
      else if (minutes) line = t('widget.state.queued_wait', { count: minutes });
      else line = t('widget.state.queued');
    } else if (st.state === 'assigned') line = t('widget.state.assigned', { agent: st.agentName || t('widget.an_agent') });
    else if (st.state === 'resolved') line = t('widget.state.resolved');
    else if (st.state === 'offline') line = t('widget.state.offline');
    else if (st.state === 'abandoned') line = t('widget.state.abandoned');
    stateLine.textContent = line;
    stateLine.dataset.state = st.state;
  };
  const byId = (id) => list.querySelector(`[data-id="${CSS_ESCAPE(String(id))}"]`);
  const byClient = (cid) => list.querySelector(`[data-client-id="${CSS_ESCAPE(String(cid))}"]`);
  const CSS_ESCAPE = (s) => (window.CSS && window.CSS.escape ? window.CSS.escape(s) : s.replace(/["\\]/g, '\\$&'));
  const nearBottom = () => list.scrollHeight - list.scrollTop - list.clientHeight < 80;

  function bubble(sender, text, who) {
    const node = el('div', { class: `msg ${sender}`, 'data-testid': 'bw-message', 'data-sender': sender });
    if (who) node.append(el('span', { class: 'who', text: who }));
    node.append(el('span', { class: 'text', text }));
    return node;
  }
  function setStatus(node, status, label) {
    let s = node.querySelector('.status');
    if (!s) { s = el('span', { class: 'status' }); node.append(s); }
    node.dataset.status = status;
    node.classList.toggle('failed', status === 'failed');
    s.textContent = label;
  }
  // Bot frames with neither text nor buttons are data, not bubbles; but a citation (Rasa's `custom`: the answer
  // came from the help centre) gets the helpful / not helpful buttons, and a rating request its form.
  const citationOf = (m) => (m.sender === 'bot' && m.payload && m.payload.custom && m.payload.custom.citation) || null;
  const isRequest = (m) => m.sender === 'system' && !!(m.payload && m.payload.feedback_request);
  const hasContent = (m) => !!m.text || !!(m.payload && Array.isArray(m.payload.buttons) && m.payload.buttons.length)
    || !!citationOf(m);
  function renderMessage(m, { count = true } = {}) {
    if ((m.id != null && byId(m.id)) || !hasContent(m)) return;
    if (isRequest(m) || (citationOf(m) && !m.text)) { renderFeedbackNode(m, count); return; }
    const scroll = nearBottom();
    let node = m.client_id ? byClient(m.client_id) : null;
    if (node) {
      node.dataset.id = m.id;
      setStatus(node, 'sent', t('widget.sent'));
    } else {
      const who = m.sender === 'agent' ? (m.agent_name || t('widget.agent')) : m.sender === 'bot' ? t('widget.assistant') : null;
      node = bubble(m.sender, m.text || '', who);
      if (m.id != null) node.dataset.id = m.id;
      if (m.client_id) node.dataset.clientId = m.client_id;
      if (m.created_at) node.title = new Date(m.created_at).toLocaleString(LOCALE);
      if (citationOf(m) && m.id != null) node.append(voteBar(m.id));
      const buttons = m.payload && Array.isArray(m.payload.buttons) ? m.payload.buttons : [];
      if (buttons.length) {
        list.querySelectorAll('.buttons button').forEach((b) => { b.disabled = true; });
        node.append(el('div', { class: 'buttons' }, ...buttons.filter((b) => b && b.title).map((b) =>
          el('button', { type: 'button', text: String(b.title), onclick: () => send(String(b.title)) }))));
      }
      // In id order, and before bubbles still waiting for their id.
      const later = m.id == null ? null : [...list.children].find((n) => !n.dataset.id || Number(n.dataset.id) > m.id);
      list.insertBefore(node, later || null);
      if (m.sender === 'customer') list.querySelectorAll('.buttons button').forEach((b) => { b.disabled = true; });
      if (count && m.sender !== 'customer' && !st.open) { unread += 1; renderBadge(); }
    }
    if (m.sender === 'agent' || m.sender === 'bot') hideTyping();
    if (scroll || m.sender === 'customer') list.scrollTop = list.scrollHeight;
  }
  // ---- feedback: helpful votes under help-centre answers, the rating asked when a conversation ends ----------
  const votes = {};  // message id -> { helpful, comment }, as the service last said
  let rating = null, requestId = null;
  const SCALE = [t('widget.scale.1'), t('widget.scale.2'), t('widget.scale.3'), t('widget.scale.4'), t('widget.scale.5')];

  function insertInOrder(node, id) {
    const later = [...list.children].find((n) => !n.dataset.id || Number(n.dataset.id) > id);
    list.insertBefore(node, later || null);
  }
  function renderFeedbackNode(m, count) {
    const scroll = nearBottom();
    const node = isRequest(m) ? surveyNode(m.id) : voteBar(m.id, true);
    node.dataset.id = m.id;
    insertInOrder(node, m.id);
    if (isRequest(m) && count && !st.open) { unread += 1; renderBadge(); }
    if (scroll) list.scrollTop = list.scrollHeight;
  }
  async function postFeedback(what, body) {
    const res = await fetch(`${ORIGIN}/api/conversations/${encodeURIComponent(st.conversationId)}/${what}`, {
      method: 'POST', body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + st.token },
    });
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) throw new Error((data && data.error && data.error.detail) || t('widget.feedback_failed'));
    applyFeedback(data);
  }

  function voteBar(messageId, alone = false) {
    const bar = el('div', { class: alone ? 'vote alone' : 'vote', 'data-testid': 'bw-vote', 'data-message-id': String(messageId) });
    drawVote(bar);
    return bar;
  }
  function drawVote(bar) {
    const id = Number(bar.dataset.messageId), mine = votes[id];
    const choose = (helpful) => postFeedback('votes', { message_id: id, helpful })
      .then(() => { if (!helpful) openWhy(bar); })
      .catch((e) => showNotice(e.message));
    const yes = el('button', { type: 'button', 'aria-label': t('widget.vote.yes_label'), 'aria-pressed': String(!!mine && mine.helpful), text: t('widget.vote.yes'), onclick: () => choose(true) });
    const no = el('button', { type: 'button', 'aria-label': t('widget.vote.no_label'), 'aria-pressed': String(!!mine && !mine.helpful), text: t('widget.vote.no'), onclick: () => choose(false) });
    const label = mine ? (mine.helpful ? t('widget.vote.glad') : t('widget.vote.thanks')) : t('widget.vote.ask');
    bar.replaceChildren(el('span', { class: 'label', text: label }), yes, no);
  }
  function openWhy(bar) {
    if (bar.querySelector('textarea')) return;
    const id = Number(bar.dataset.messageId), fieldId = `bw-why-${id}`;
    const why = el('textarea', { id: fieldId, 'data-testid': 'bw-vote-comment', maxlength: '1000', rows: '2' });
    const sendWhy = el('button', { type: 'button', class: 'send', text: t('widget.send'), onclick: () => {
      if (!why.value.trim()) return;
      postFeedback('votes', { message_id: id, helpful: false, comment: why.value.trim() })
        .then(() => drawVote(bar)).catch((e) => showNotice(e.message));
    } });
    bar.append(el('label', { for: fieldId, text: t('widget.vote.why') }), why, sendWhy);
    why.focus();
  }

  function surveyNode(messageId) {
    const node = el('div', { class: 'survey', 'data-testid': 'bw-survey', role: 'group', 'aria-label': t('widget.survey.label') });
    node.dataset.requestId = String(messageId);
    drawSurvey(node, !(rating && requestId === messageId));
    return node;
  }
  function drawSurvey(node, asking) {
    const id = Number(node.dataset.requestId);
    if (!asking) {
      const given = requestId === id && rating ? rating.score : null;
      node.replaceChildren(
        el('p', { class: 'thanks', 'data-testid': 'bw-survey-thanks', role: 'status',
          text: given ? t('widget.survey.thanks_score', { score: given }) : t('widget.survey.thanks') }),
        el('button', { type: 'button', class: 'change', text: t('widget.survey.change'), onclick: () => drawSurvey(node, true) }));
      return;
    }
    let score = rating && requestId === id ? rating.score : 0;
    const fieldId = `bw-comment-${id}`;
    const comment = el('textarea', { id: fieldId, 'data-testid': 'bw-survey-comment', maxlength: '1000', rows: '2' });
    if (rating && requestId === id && rating.comment) comment.value = rating.comment;
    const scale = el('div', { class: 'scale' }, ...SCALE.map((word, i) => el('button', {
      type: 'button', 'data-score': String(i + 1), 'aria-pressed': String(score === i + 1),
      'aria-label': t('widget.survey.score_label', { score: i + 1, word }), text: String(i + 1),
      onclick: (ev) => {
        score = i + 1;
        scale.querySelectorAll('button').forEach((b) => b.setAttribute('aria-pressed', String(b === ev.currentTarget)));
      },
    })));
    const submit = el('button', { type: 'button', class: 'send', 'data-testid': 'bw-survey-send', text: t('widget.survey.send'), onclick: () => {
      if (!score) { showNotice(t('widget.survey.choose')); return; }
      postFeedback('rating', { score, comment: comment.value.trim() || null }).catch((e) => showNotice(e.message));
    } });
    node.replaceChildren(
      el('p', { class: 'question', text: t('widget.survey.question') }), scale,
      el('div', { class: 'ends' }, el('span', { text: t('widget.survey.low') }), el('span', { text: t('widget.survey.high') })),
      el('label', { for: fieldId, text: t('widget.survey.comment') }), comment, submit);
  }

  // The service's word on this conversation's feedback (in the hello, and in answer to a rating or a vote).
  function applyFeedback(f) {
    if (!f) return;
    for (const key of Object.keys(votes)) delete votes[key];
    (f.votes || []).forEach((v) => { votes[v.message_id] = v; });
    list.querySelectorAll('.vote').forEach((bar) => { if (!bar.querySelector('textarea')) drawVote(bar); });
    rating = f.rating || null;
    requestId = f.request ? f.request.message_id : null;
    if (requestId == null) return;
    const node = list.querySelector(`.survey[data-request-id="${requestId}"]`);
    if (node) drawSurvey(node, !rating);
    else {  // the request is older than what this page keeps: ask at the end
      const fresh = surveyNode(requestId);
      fresh.dataset.id = requestId;
      insertInOrder(fresh, requestId);
    }
  }

  function renderPending(item) {
    if (byClient(item.client_id)) return;
    const node = bubble('customer', item.text);
    node.dataset.clientId = item.client_id;
    setStatus(node, 'sending', t('widget.sending'));
    list.append(node);
    list.scrollTop = list.scrollHeight;
  }
  const renderBadge = () => { badge.textContent = String(unread); badge.hidden = unread === 0; };
  const hideTyping = () => { clearTimeout(typingTimer); typing.textContent = ''; };

  function remember(m) {
    if (m.id == null || st.messages.some((x) => x.id === m.id)) return;
    st.messages.push(m);
    if (st.messages.length > MAX_CACHED) st.messages.splice(0, st.messages.length - MAX_CACHED);
    if (m.id > st.lastId) st.lastId = m.id;
    if (m.sender === 'agent' && m.agent_name) st.agentName = m.agent_name;
  }

  // ---- connection ---------------------------------------------------------------------------
  let ws = null, attempt = 0, retryTimer = null, pingTimer = null, creating = null, lastTypingSent = 0;

  async function createConversation() {
    const body = { channel: 'web', language: CONFIG.language };
    if (CONFIG.name) body.name = CONFIG.name;
    if (CONFIG.email) body.email = CONFIG.email;
    if (CONFIG.externalId) {
      body.external_id = CONFIG.externalId; body.signature = CONFIG.signature;
      if (CONFIG.identities) body.identities = CONFIG.identities;
      body.expires = parseInt(CONFIG.expires, 10);
      if (!Number.isSafeInteger(body.expires)) delete body.expires;  // unsigned then: the visitor is anonymous
    }
    const res = await fetch(ORIGIN + '/api/conversations', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    const data = await res.json();
    Object.assign(st, { conversationId: data.conversation_id, token: data.customer_token, lastId: 0,
      messages: [], state: data.state || 'bot', agentName: null, queue: null });
    persist();
    renderState();
  }
  function ensureConversation() {
    if (st.conversationId) return Promise.resolve();
    if (!creating) {
      creating = createConversation()
        .then(() => { showNotice(''); connect(); })
        .catch(() => { showNotice(t('widget.unreachable'), true); })
        .finally(() => { creating = null; });
    }
    return creating;
  }

  function connect() {
    if (!st.conversationId || (ws && ws.readyState <= 1)) return;
    clearTimeout(retryTimer);
    const q = new URLSearchParams({ conversation_id: st.conversationId, token: st.token, after: String(st.lastId || 0) });
    const sock = new WebSocket(`${WS_ORIGIN}/ws/customer?${q}`);
    ws = sock;
    sock.onopen = () => {
      attempt = 0;
      clearInterval(pingTimer);
      pingTimer = setInterval(() => sendFrame({ type: 'ping' }), PING_MS);
    };
    sock.onmessage = (ev) => {
      let frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      if (frame && typeof frame.type === 'string') onFrame(frame);
    };
    sock.onclose = (ev) => {
      if (ws !== sock) return;
      ws = null;
      clearInterval(pingTimer);
      if (ev.code === 4401 || ev.code === 4404) { forgetConversation(); return; }
      showNotice(t('widget.reconnecting'), true);
      const delay = Math.min(15000, 500 * 2 ** attempt) * (0.75 + Math.random() * 0.5);
      attempt += 1;
      retryTimer = setTimeout(connect, delay);
    };
  }
  function disconnect() {
    clearTimeout(retryTimer);
    clearInterval(pingTimer);
    const old = ws;
    ws = null; // its close event is then ignored
    if (old) old.close(1000);
  }
  function forgetConversation() {
    Object.assign(st, { conversationId: null, token: null, lastId: 0, messages: [], state: 'bot', agentName: null, queue: null });
    persist();
    renderState();
    showNotice(t('widget.ended'), true);
  }
  const sendFrame = (frame) => {
    if (!ws || ws.readyState !== 1) return false;
    ws.send(JSON.stringify(frame));
    return true;
  };
  function flushOutbox() {
    for (const item of st.outbox) sendFrame({ type: 'message', client_id: item.client_id, text: item.text });
  }

  function onFrame(f) {
    switch (f.type) {
      case 'hello':
        showNotice('');
        if (f.state) st.state = f.state;
        st.queue = f.queue || null;
        (f.messages || []).forEach((m) => { remember(m); renderMessage(m); if (m.client_id) ackOutbox(m.client_id); });
        applyFeedback(f.feedback);
        persist(); renderState();
        if (ENDED.has(st.state)) showNotice(t('widget.closed'), true);
        flushOutbox();
        break;
      case 'message':
        if (f.message) {
          remember(f.message); renderMessage(f.message);
          if (f.message.client_id) ackOutbox(f.message.client_id);
          persist();
        }
        break;
      case 'ack': {
        ackOutbox(f.client_id);
        const node = byClient(f.client_id);
        if (node) { if (f.id != null) node.dataset.id = f.id; setStatus(node, 'sent', t('widget.sent')); }
        persist();
        break;
      }
      case 'state':
        st.state = f.state || st.state;
        st.queue = f.queue || null;
        if (f.agent_name) st.agentName = f.agent_name;
        persist(); renderState();
        if (ENDED.has(st.state)) { showNotice(t('widget.closed'), true); hideTyping(); }
        break;
      case 'typing': {
        typing.textContent = f.sender === 'agent'
          ? t('widget.typing.agent', { agent: f.agent_name || st.agentName || t('widget.the_agent') })
          : t('widget.typing.bot');
        clearTimeout(typingTimer);
        typingTimer = setTimeout(hideTyping, TYPING_SHOW_MS);
        break;
      }
      case 'error': {
        showNotice(f.detail || t('widget.send_failed'));
        const node = f.client_id ? byClient(f.client_id) : null;
        const item = f.client_id ? st.outbox.find((x) => x.client_id === f.client_id) : null;
        if (item && RETRY_CODES.has(f.code) && (item.retries || 0) < MAX_RETRIES) {
          // The service is briefly unable to take it (database down, rate limit): it is kept and sent again
          // with the same client_id (stored once), after a growing pause.
          item.retries = (item.retries || 0) + 1;
          if (node) setStatus(node, 'sending', t('widget.sending'));
          setTimeout(() => sendFrame({ type: 'message', client_id: item.client_id, text: item.text }),
            Math.min(15000, 1000 * 2 ** (item.retries - 1)) * (0.75 + Math.random() * 0.5));
        } else if (node) setStatus(node, 'failed', t('widget.not_sent'));
        break;
      }
      default: break; // pong and frames from newer servers
    }
  }
  const ackOutbox = (cid) => { st.outbox = st.outbox.filter((x) => x.client_id !== cid); };

  // ---- sending ------------------------------------------------------------------------------
  const newId = () => (crypto.randomUUID ? crypto.randomUUID()
    : 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, (c) => {
      const r = crypto.getRandomValues(new Uint8Array(1))[0] % 16;
      return (c === 'x' ? r : (r & 3) | 8).toString(16);
    }));

  function send(text) {
    text = (text || '').trim();
    if (!text) return;
    if (text.length > MAX_CHARS) { showNotice(t('widget.too_long', { count: MAX_CHARS })); return; }
    if (st.conversationId && ENDED.has(st.state)) {
      // A new conversation: what the old one never delivered stays with it.
      Object.assign(st, { conversationId: null, token: null, lastId: 0, messages: [], outbox: [], state: 'bot', agentName: null });
      list.replaceChildren();
      disconnect();
      showNotice('');
    }
    const item = { client_id: newId(), text };
    st.outbox.push(item);
    persist();
    renderPending(item);
    if (!st.conversationId) { ensureConversation(); return; } // hello flushes the outbox
    if (!sendFrame({ type: 'message', client_id: item.client_id, text })) connect();
  }

  list.addEventListener('click', (ev) => {
    const node = ev.target.closest && ev.target.closest('.msg.failed');
    const item = node && st.outbox.find((x) => x.client_id === node.dataset.clientId);
    if (!item) return;
    setStatus(node, 'sending', t('widget.sending'));
    if (!sendFrame({ type: 'message', client_id: item.client_id, text: item.text })) connect();
  });
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const text = input.value;
    input.value = '';
    send(text);
    input.focus();
  });
  input.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); form.requestSubmit(); }
  });
  input.addEventListener('input', () => {
    const now = Date.now();
    if (input.value && now - lastTypingSent >= TYPING_SEND_MS && sendFrame({ type: 'typing' })) lastTypingSent = now;
  });
  panel.addEventListener('keydown', (ev) => { if (ev.key === 'Escape') { setOpen(false); launcher.focus(); } });

  // ---- linked accounts ------------------------------------------------------------------------
  const HOW = () => ({ shop_signed: t('widget.accounts.how.shop_signed'), email_verified: t('widget.accounts.how.email_verified'),
    im_linked: t('widget.accounts.how.im_linked') });
  async function identityCall(method, path, body) {
    await ensureConversation();
    if (!st.conversationId) throw new Error(t('widget.accounts.unreachable'));
    const res = await fetch(`${ORIGIN}/api/conversations/${encodeURIComponent(st.conversationId)}/identities${path}`, {
      method, body: body ? JSON.stringify(body) : undefined,
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + st.token },
    });
    let data = null;
    try { data = await res.json(); } catch (e) { data = null; }
    if (!res.ok) throw new Error((data && data.error && data.error.detail) || t('widget.accounts.failed'));
    return data;
  }
  async function identityAction(work) {
    accountsHint.textContent = '';
    try { accountsHint.textContent = (await work()) || ''; } catch (e) { accountsHint.textContent = e.message; }
  }
  async function loadIdentities() {
    const data = await identityCall('GET', '');
    identityList.replaceChildren();
    for (const i of (data && data.identities) || []) {
      identityList.append(el('li', { 'data-testid': 'bw-identity' },
        el('span', { text: `${i.channel === 'email' ? t('widget.accounts.email') : i.channel}: ${i.address}` }),
        el('span', { class: 'how', text: HOW()[i.verified_by] || '' }),
        el('button', { type: 'button', text: t('widget.accounts.remove'), 'aria-label': t('widget.accounts.remove_address', { address: i.address }),
          onclick: () => identityAction(async () => {
            await identityCall('POST', '/unlink', { channel: i.channel, address: i.address });
            await loadIdentities();
            return t('widget.accounts.removed');
          }) })));
    }
    if (!identityList.childElementCount) identityList.append(el('li', { class: 'how', text: t('widget.accounts.none') }));
  }
  function toggleAccounts() {
    accounts.hidden = !accounts.hidden;
    if (!accounts.hidden) identityAction(async () => { await loadIdentities(); return ''; });
  }
  let pendingEmail = '';
  emailForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    identityAction(async () => {
      const address = emailInput.value.trim();
      await identityCall('POST', '/email', { address });
      pendingEmail = address; codeForm.hidden = false; codeInput.focus();
      return t('widget.accounts.code_sent', { address });
    });
  });
  codeForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    identityAction(async () => {
      await identityCall('POST', '/email/confirm', { address: pendingEmail, code: codeInput.value.trim() });
      codeForm.hidden = true; codeInput.value = ''; emailInput.value = '';
      await loadIdentities();
      return t('widget.accounts.email_linked', { address: pendingEmail });
    });
  });

  function setOpen(open, { create = true } = {}) {
    st.open = open;
    panel.hidden = !open;
    launcher.setAttribute('aria-expanded', String(open));
    launcher.setAttribute('aria-label', open ? t('widget.close_support') : t('widget.open_chat'));
    persist();
    if (open) {
      unread = 0; renderBadge();
      if (create) ensureConversation();
      list.scrollTop = list.scrollHeight;
      input.focus();
    }
  }

  // ---- start --------------------------------------------------------------------------------
  function start() {
    document.body.append(host);
    st.messages.forEach((m) => renderMessage(m, { count: false }));
    st.outbox.forEach(renderPending);
    renderState();
    if (st.conversationId) connect();
    if (st.open) setOpen(true, { create: false });
  }
  if (document.body) start();
  else document.addEventListener('DOMContentLoaded', start);
})();
