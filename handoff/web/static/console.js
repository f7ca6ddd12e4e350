/* The agent console: sign-in, the agent socket, the queue and "Mine" lists, tabs and the title count. */
import {
  $, el, api, AgentSocket, setUnauthorizedHandler, duration, toMillis, humanize, customerName, toast,
} from './console-lib.js';
import { LOCALES, chooseLocale, loadLocale, locale, t, translate } from './i18n.js';
import { ConversationView } from './console-conversation.js';
import { QueueModel } from './console-queue.js';
import { TicketsView } from './console-tickets.js';

// The texts first: every view draws its words from the catalog of the agent's language (docs/translations.md).
await loadLocale();
translate();
for (const picker of document.querySelectorAll('.locale-picker')) {
  picker.replaceChildren(...Object.entries(LOCALES).map(([code, name]) => el('option', { value: code, text: name })));
  picker.value = locale();
  picker.addEventListener('change', () => chooseLocale(picker.value));
}
const TITLE = t('console.title');

const app = {
  me: null,
  queue: new QueueModel(),
  mine: new Map(), // conversation_id -> summary
  unread: new Map(), // conversation_id -> count
  canned: [],
  socket: null,
  view: null,
  tickets: null,
  connectedOnce: false,
  listeners: new Set(), // (frame) => void: views that hear every socket frame too (the supervisors' board)

  applySummary(summary) {
    if (!summary || !summary.conversation_id) return;
    const id = summary.conversation_id;
    if (summary.state === 'assigned' && summary.agent_id === this.me.id) {
      this.mine.set(id, { ...(this.mine.get(id) || {}), ...summary });
    } else {
      this.mine.delete(id);
      this.unread.delete(id);
    }
    if (summary.state !== 'queued') this.queue.exit(id, summary.version);
    this.view.updateSummary(summary);
    renderLists();
  },

  /** The agent's reply was stored: the conversation no longer waits for a first answer. */
  answered(id) {
    const s = this.mine.get(id);
    if (!s) return;
    s.accept_deadline = null;
    s.answered = true;
    renderLists();
  },

  markRead(id) {
    this.unread.delete(id);
    renderLists();
  },

  /** The whole queue again (the socket's frames are at most once: this repairs one that was lost). */
  async refreshQueue() {
    try {
      const data = await api('GET', '/api/queue');
      this.queue.reset(data && data.queue);
      renderLists();
    } catch (e) { /* the next refresh tries again */ }
  },

  async refreshMine() {
    try {
      const data = await api('GET', '/api/agent/conversations');
      const list = Array.isArray(data) ? data : data.conversations || [];
      this.mine = new Map(list.map((s) => [s.conversation_id, s]));
      renderLists();
    } catch (e) { toast(e.message, 'error'); }
  },
};

// ---- sign-in ----------------------------------------------------------------------------------
function showLogin(message) {
  $('#app').hidden = true;
  $('#login-view').hidden = false;
  const error = $('#login-error');
  error.textContent = message || '';
  error.hidden = !message;
  $('#login-username').focus();
}

async function boot() {
  setUnauthorizedHandler(() => signedOut(t('login.session_ended')));
  try {
    const data = await api('GET', '/api/me');
    start(data.agent || data);
  } catch (e) {
    showLogin(e.status === 401 || e.status === 403 ? '' : e.message);
  }
}

$('#login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const username = $('#login-username').value.trim();
  const password = $('#login-password').value;
  if (!username || !password) { showLogin(t('login.missing')); return; }
  $('#login-submit').disabled = true;
  try {
    const data = await api('POST', '/api/auth/login', { username, password });
    $('#login-password').value = '';
    start(data.agent);
  } catch (e) {
    showLogin(e.status === 401 ? t('login.wrong') : e.message);
  } finally {
    $('#login-submit').disabled = false;
  }
});

/** Whether the signed-in person works conversations (a trainer does not: no socket, queue or presence). */
function isDesk() {
  return Boolean(app.me) && app.me.role !== 'trainer';
}

function start(agent) {
  app.me = agent;
  $('#login-view').hidden = true;
  $('#app').hidden = false;
  renderMe();
  if (!app.view) app.view = new ConversationView(app);
  if (!app.tickets) app.tickets = new TicketsView(app);
  if (!isDesk()) return; // the trainers' workbench: renderTabs showed the NLU inbox
  app.socket = new AgentSocket({ onFrame, onStatus, onUnauthorized: () => signedOut(t('login.session_ended')) });
  app.socket.start();
  loadCanned();
  app.refreshMine(); // the queue comes with the socket's hello
}

function signedOut(message) {
  if (app.socket) app.socket.stop();
  app.socket = null;
  if (app.view) app.view.close();
  app.queue.clear();
  app.mine = new Map();
  app.unread = new Map();
  app.connectedOnce = false;
  $('#banner').hidden = true;
  document.title = TITLE;
  showLogin(message);
}

$('#logout').addEventListener('click', async () => {
  try { await api('POST', '/api/auth/logout'); } catch (e) { /* signed out locally either way */ }
  signedOut('');
});

function renderMe() {
  $('#me-name').textContent = app.me.name || app.me.username;
  $('#me-role').textContent = humanize(app.me.role || 'agent');
  $('#presence').value = app.me.presence || 'offline';
  $('#presence').hidden = !isDesk();
  renderTabs();
}

$('#presence').addEventListener('change', async (ev) => {
  const wanted = ev.target.value;
  try {
    await api('PUT', '/api/me/presence', { presence: wanted });
    app.me.presence = wanted;
  } catch (e) {
    toast(e.message, 'error');
    ev.target.value = app.me.presence || 'offline';
  }
});

async function loadCanned() {
  try {
    const data = await api('GET', '/api/canned-responses');
    app.canned = (data && data.canned) || [];
  } catch (e) { app.canned = []; }
  const select = $('#canned');
  select.replaceChildren(el('option', { value: '', text: t('conv.canned') }),
    ...app.canned.map((c) => el('option', { value: String(c.id), text: `${c.title}${c.shortcut ? '  /' + String(c.shortcut).replace(/^\//, '') : ''}` })));
}

// ---- the socket --------------------------------------------------------------------------------
function onStatus(open) {
  if (open) app.connectedOnce = true;
  $('#banner').hidden = open;
}

function onFrame(f) {
  for (const listener of app.listeners) listener(f);
  switch (f.type) {
    case 'hello':
      if (f.agent) { app.me = { ...app.me, ...f.agent }; renderMe(); }
      app.queue.reset(f.queue);
      app.mine = new Map((f.conversations || []).map((s) => [s.conversation_id, s]));
      renderLists();
      app.view.resendOutbox();
      if (app.view.id) app.view.open(app.view.id); // catch up on what was missed while disconnected
      break;
    case 'queue_entry':
      app.queue.enter(f.conversation);
      renderLists();
      break;
    case 'queue_exit':
      app.queue.exit(f.conversation_id, f.version);
      renderLists();
      break;
    case 'assigned':
      app.applySummary(f.conversation);
      toast(t('lists.new_conversation', { name: customerName(f.conversation) }));
      if (!app.view.id && f.conversation) openConversation(f.conversation.conversation_id);
      break;
    case 'conversation':
      app.applySummary(f.conversation);
      break;
    case 'message': {
      const s = app.mine.get(f.conversation_id);
      if (s && f.message) {
        s.last_message = f.message;
        if (f.message.sender === 'customer' && (f.conversation_id !== app.view.id || document.hidden)) {
          app.unread.set(f.conversation_id, (app.unread.get(f.conversation_id) || 0) + 1);
        }
        if (f.message.sender === 'agent') s.accept_deadline = null;
        renderLists();
      }
      if (f.message) app.view.onMessage(f.conversation_id, f.message);
      break;
    }
    case 'ack':
      app.view.onAck(f);
      break;
    case 'typing':
      app.view.onTyping(f.conversation_id);
      break;
    case 'presence':
      app.me.presence = f.presence;
      renderMe();
      break;
    case 'whisper': // a supervisor's note to this agent (never the customer's)
      app.view.onWhisper(f.conversation_id, f.note);
      break;
    case 'delivery': // a reply by e-mail or IM sent, or still retrying
      app.view.onDelivery(f);
      break;
    case 'error':
      app.view.onError(f);
      break;
    default:
      break; // pong, and frames from newer servers
  }
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden && app.view && app.view.id) app.markRead(app.view.id);
});

// ---- lists ---------------------------------------------------------------------------------------
function badge(text, kind) { return el('span', { class: `badge ${kind || ''}`, text }); }

function renderQueue() {
  const list = $('#queue-list');
  const queue = app.queue.ordered();
  list.replaceChildren(...queue.map((s) => {
    const take = el('button', { type: 'button', class: 'small primary', 'data-testid': 'take', text: t('lists.take'),
      onclick: (ev) => { ev.stopPropagation(); takeConversation(s.conversation_id, ev.currentTarget); } });
    const c = s.customer || {};
    return el('li', { class: 'item', 'data-testid': 'queue-item', 'data-conversation-id': s.conversation_id },
      el('div', { class: 'item-row' },
        s.position ? el('span', { class: 'position', 'data-testid': 'queue-position', title: t('lists.position'),
          text: `#${s.position}` }) : null,
        el('span', { class: 'name', text: customerName(s) }),
        s.priority && s.priority !== 'normal' ? badge(humanize(s.priority), s.priority) : null,
        c.value_tier === 'vip' ? badge(t('lists.vip'), 'vip') : null,
        s.channel && s.channel !== 'web' ? badge(humanize(s.channel), 'channel') : null,
        badge(t('lists.tier', { tier: s.tier || 1 }), 'tier')),
      el('div', { class: 'item-row muted' },
        el('span', { class: 'reasons-line', text: (s.reasons || []).map(humanize).join(', ') || humanize(s.category || '') })),
      el('div', { class: 'item-row' },
        el('span', { class: 'muted' }, t('lists.waiting'), ' ', el('span', { 'data-since': String(toMillis(s.queued_at) || '') })),
        el('span', { class: 'spacer' }), take));
  }));
  $('#queue-count').textContent = String(queue.length);
  $('#queue-empty').hidden = queue.length > 0;
}

function renderMine() {
  const list = $('#mine-list');
  const items = [...app.mine.values()];
  list.replaceChildren(...items.map((s) => {
    const id = s.conversation_id;
    const unread = app.unread.get(id) || 0;
    const last = s.last_message;
    const deadline = toMillis(s.accept_deadline);
    return el('li', {
      class: `item clickable${id === (app.view && app.view.id) ? ' active' : ''}${needsAnswer(s) ? ' waiting' : ''}`,
      'data-testid': 'mine-item', 'data-conversation-id': id, tabindex: '0', role: 'button',
      onclick: () => openConversation(id),
      onkeydown: (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { ev.preventDefault(); openConversation(id); } },
    },
    el('div', { class: 'item-row' },
      el('span', { class: 'name', text: customerName(s) }),
      s.priority && s.priority !== 'normal' ? badge(humanize(s.priority), s.priority) : null,
      s.channel && s.channel !== 'web' ? badge(humanize(s.channel), 'channel') : null,
      unread ? badge(String(unread), 'unread') : null),
    last ? el('div', { class: 'item-row muted clamp1', text: last.sender === 'agent' ? t('lists.you', { text: last.text || '' }) : last.text || '' }) : null,
    deadline ? el('div', { class: 'item-row' }, badge(t('lists.awaiting_first_reply'), 'urgent'),
      el('span', { class: 'muted countdown', 'data-deadline': String(deadline) })) : null);
  }));
  $('#mine-count').textContent = String(items.length);
  $('#mine-empty').hidden = items.length > 0;
}

/** Waiting for the agent: the customer spoke last, or the first answer is still due. */
function needsAnswer(s) {
  return !!s.accept_deadline || (s.last_message && s.last_message.sender === 'customer');
}

function renderLists() {
  renderQueue();
  renderMine();
  tick();
  const waiting = [...app.mine.values()].filter(needsAnswer).length;
  document.title = waiting ? `(${waiting}) ${TITLE}` : TITLE;
}

async function takeConversation(id, button) {
  button.disabled = true;
  try {
    const data = await api('POST', `/api/agent/conversations/${encodeURIComponent(id)}/accept`);
    const summary = data && (data.conversation || (data.conversation_id ? data : null));
    if (summary) app.applySummary(summary);
    else await app.refreshMine();
    app.queue.exit(id, summary ? summary.version : null);
    renderLists();
    openConversation(id);
  } catch (e) {
    toast(e.message, 'error');
    button.disabled = false;
    app.refreshQueue(); // someone else may have it: show the queue as it is
  }
}

function openConversation(id) {
  showTab('conversations');
  app.view.open(id);
  renderLists();
}

function tick() {
  const now = Date.now();
  for (const node of document.querySelectorAll('[data-since]')) {
    const since = Number(node.dataset.since);
    node.textContent = since ? duration((now - since) / 1000) : '';
  }
  for (const node of document.querySelectorAll('[data-deadline]')) {
    const left = (Number(node.dataset.deadline) - now) / 1000;
    node.textContent = left > 0 ? t('lists.left', { time: duration(left) }) : t('lists.time_up');
  }
}
setInterval(tick, 1000);
const QUEUE_RESYNC_MS = 60_000;
setInterval(() => { if (app.socket && app.connectedOnce && $('#banner').hidden) app.refreshQueue(); }, QUEUE_RESYNC_MS);

// ---- tabs -----------------------------------------------------------------------------------------
/** The supervisors' views: name -> the module that draws it (it exports ``default class { constructor(app, root);
 * show(); hide() }``), imported the first time its tab is shown. Their tabs show for supervisors and admins only;
 * the API refuses the rest anyway. */
const SUPERVISOR_VIEWS = {
  board: './console-board.js',
  reports: './console-reports.js',
  qa: './console-qa.js',
  alerts: './console-alerts.js',
  automation: './console-automation.js',
  insights: './console-insights.js',
  capacity: './console-capacity.js',
};
/** Views of other roles than supervisors': the trainers' workbench (docs/training.md), which supervisors and
 * admins see too; team training (Practice: agents their own, supervisors and admins the team's). */
const VIEWS = { ...SUPERVISOR_VIEWS, inbox: './console-inbox.js', models: './console-models.js',
  knowledge: './console-knowledge.js', practice: './console-practice.js' };
const VIEW_ROLES = { inbox: ['trainer', 'supervisor', 'admin'], models: ['trainer', 'supervisor', 'admin'],
  knowledge: ['trainer', 'supervisor', 'admin'], practice: ['agent', 'supervisor', 'admin'] };
const DESK_TABS = ['conversations', 'tickets']; // an agent's own: not a trainer's
const supervisorViews = new Map(); // name -> Promise of the view's instance
let currentTab = 'conversations';

function isSupervisor() {
  return Boolean(app.me) && (app.me.role === 'supervisor' || app.me.role === 'admin');
}

/** Whether the signed-in person's role has the view ``name`` (the API refuses the rest anyway). */
function mayShow(name) {
  if (DESK_TABS.includes(name)) return isDesk();
  const roles = VIEW_ROLES[name] || ['supervisor', 'admin'];
  return Boolean(app.me) && roles.includes(app.me.role);
}

function supervisorView(name) {
  if (!supervisorViews.has(name)) {
    supervisorViews.set(name, import(VIEWS[name]).then((module) => new module.default(app, $(`#${name}-view`))));
  }
  return supervisorViews.get(name);
}

function showTab(name) {
  const previous = currentTab;
  currentTab = name;
  for (const tab of document.querySelectorAll('.tabs [role=tab]')) {
    const view = tab.dataset.view || tab.id.replace(/-tab$/, '');
    tab.setAttribute('aria-selected', String(view === name));
    $(`#${view}-view`).hidden = view !== name;
  }
  if (previous !== name && VIEWS[previous] && supervisorViews.has(previous)) {
    supervisorViews.get(previous).then((v) => v.hide && v.hide());
  }
  if (name === 'tickets') app.tickets.show();
  if (VIEWS[name]) {
    supervisorView(name).then((v) => { if (currentTab === name) v.show(); })
      .catch((e) => toast(t('console.view_failed', { error: e.message }), 'error'));
  }
}

/** Show each role its tabs (called when the signed-in person is known): supervisors' to supervisors and admins,
 * the inbox and the knowledge workbench to trainers too, the conversations and tickets to all but trainers. */
function renderTabs() {
  for (const name of [...DESK_TABS, ...Object.keys(VIEWS)]) $(`#${name}-tab`).hidden = !mayShow(name);
  if (isSupervisor()) import('./console-alerts.js').then((m) => m.watchAlertBadge()).catch(() => {});
  if (!mayShow(currentTab)) showTab(isDesk() ? 'conversations' : 'inbox');
}

for (const tab of document.querySelectorAll('.tabs [role=tab]')) {
  tab.addEventListener('click', () => showTab(tab.dataset.view || tab.id.replace(/-tab$/, '')));
}
app.showTab = showTab;
document.addEventListener('open-ticket', (ev) => { showTab('tickets'); app.tickets.openTicket(ev.detail); });

boot();
