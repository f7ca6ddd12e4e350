/* Shared pieces of the agent console: DOM building (text only, never HTML), the REST client,
 * the reconnecting agent socket, formatting and per-agent local storage. */
import { codeLabel, localeTag, t } from './i18n.js';

/** Build an element. `text` goes through textContent; `on<event>` attributes become listeners. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v == null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = String(v);
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c != null && c !== false) node.append(c);
  return node;
}

export const $ = (sel, root = document) => root.querySelector(sel);

export class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail || t('lib.request_failed', { status }));
    this.status = status;
    this.code = code;
  }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

/** Call the service's REST API (same origin, session cookie). Throws ApiError with the server's sentence.
 * X-Requested-With marks the request as the console's own: the service refuses a state-changing request
 * that carries the session cookie without it (no other site can add it). */
export async function api(method, path, body) {
  const init = { method, headers: { Accept: 'application/json', 'X-Requested-With': 'console' }, credentials: 'same-origin' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (e) {
    throw new ApiError(0, 'network', t('lib.unreachable'));
  }
  let data = null;
  const type = res.headers.get('content-type') || '';
  if (type.includes('application/json')) data = await res.json().catch(() => null);
  if (!res.ok) {
    const err = (data && data.error) || {};
    if (res.status === 401 && path !== '/api/auth/login' && path !== '/api/me') onUnauthorized();
    throw new ApiError(res.status, err.code || String(res.status), err.detail || (data && data.detail));
  }
  return data;
}

/** The agent WebSocket with exponential backoff (0.5 s doubling to 15 s, jitter) and a 25 s ping. */
export class AgentSocket {
  constructor({ onFrame, onStatus, onUnauthorized: unauthorized }) {
    this.onFrame = onFrame;
    this.onStatus = onStatus;
    this.onUnauthorized = unauthorized;
    this.ws = null;
    this.attempt = 0;
    this.stopped = true;
    this.retryTimer = null;
    this.pingTimer = null;
  }

  start() {
    this.stopped = false;
    this.connect();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    if (this.ws) { const ws = this.ws; this.ws = null; ws.close(1000); }
  }

  get isOpen() { return !!this.ws && this.ws.readyState === WebSocket.OPEN; }

  send(frame) {
    if (!this.isOpen) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  connect() {
    if (this.stopped || (this.ws && this.ws.readyState <= WebSocket.OPEN)) return;
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${scheme}//${location.host}/ws/agent`);
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => this.send({ type: 'ping' }), 25000);
      this.onStatus(true);
    };
    ws.onmessage = (ev) => {
      let frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      if (frame && typeof frame.type === 'string') this.onFrame(frame);
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      clearInterval(this.pingTimer);
      if (this.stopped) return;
      if (ev.code === 4401) { this.stopped = true; this.onUnauthorized(); return; }
      if (ev.code === 4403) { this.stopped = true; return; } // a role without the queue (a trainer): no socket
      this.onStatus(false);
      const delay = Math.min(15000, 500 * 2 ** this.attempt) * (0.75 + Math.random() * 0.5);
      this.attempt += 1;
      this.retryTimer = setTimeout(() => this.connect(), delay);
    };
  }
}

export const newId = () => (crypto.randomUUID ? crypto.randomUUID()
  : 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, (c) => {
    const r = crypto.getRandomValues(new Uint8Array(1))[0] % 16;
    return (c === 'x' ? r : (r & 3) | 8).toString(16);
  }));

/** Per-agent localStorage (drafts, unacknowledged replies); falls back to memory when storage is blocked. */
export const store = {
  prefix: 'handoff-console:',
  memory: new Map(),
  get(key, fallback = null) {
    try {
      const raw = localStorage.getItem(this.prefix + key);
      return raw == null ? fallback : JSON.parse(raw);
    } catch (e) { return this.memory.has(key) ? this.memory.get(key) : fallback; }
  },
  set(key, value) {
    try {
      if (value == null || value === '') localStorage.removeItem(this.prefix + key);
      else localStorage.setItem(this.prefix + key, JSON.stringify(value));
    } catch (e) { this.memory.set(key, value); }
  },
};

/** Seconds -> "45s", "3m 05s", "1h 04m". */
export function duration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return t('lib.seconds', { s });
  if (s < 3600) return t('lib.minutes_seconds', { m: Math.floor(s / 60), s: String(s % 60).padStart(2, '0') });
  return t('lib.hours_minutes', { h: Math.floor(s / 3600), m: String(Math.floor((s % 3600) / 60)).padStart(2, '0') });
}

/** A time value from the API (ISO string or epoch seconds) as milliseconds, or null. */
export function toMillis(value) {
  if (value == null || value === '') return null;
  if (typeof value === 'number') return value < 1e12 ? value * 1000 : value;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

export function clock(value) {
  const ms = toMillis(value);
  return ms == null ? '' : new Date(ms).toLocaleTimeString(localeTag(), { hour: '2-digit', minute: '2-digit' });
}

export function dateTime(value) {
  const ms = toMillis(value);
  return ms == null ? '' : new Date(ms).toLocaleString(localeTag(), { dateStyle: 'medium', timeStyle: 'short' });
}

/** A code from the service in the agent's language: "explicit_request" -> "Explicit request" (i18n.js). */
export const humanize = codeLabel;

export const customerName = (summary) => {
  const c = (summary && summary.customer) || {};
  return c.name || c.email || t('lib.visitor');
};

/** A short toast at the bottom of the screen (role=alert). */
export function toast(text, kind = 'info') {
  let box = $('#toasts');
  if (!box) { box = el('div', { id: 'toasts', 'aria-live': 'assertive' }); document.body.append(box); }
  const item = el('div', { class: `toast ${kind}`, role: 'alert', text });
  box.append(item);
  setTimeout(() => item.remove(), 6000);
}

/** Render a figures object ({confidence: 0.94, threshold: 0.55}) as "confidence 0.94 · threshold 0.55". */
export function figures(obj) {
  if (!obj || typeof obj !== 'object') return '';
  return Object.entries(obj).map(([k, v]) => {
    const shown = typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(2)) : String(v);
    return `${k.replace(/_/g, ' ')} ${shown}`;
  }).join(' · ');
}
