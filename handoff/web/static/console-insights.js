/* The Insights view (supervisors and admins): what sent customers to a person in a week (the topics of the
 * conversations handed off or rated low, docs/insights.md) and a conversation's sentiment trend.
 * Customers' words are shown as text only (textContent), never as HTML. Charts are SVG built node by node. */
import { el, api, toast, dateTime } from './console-lib.js';

const SVG = 'http://www.w3.org/2000/svg';
const DAY_MS = 86400000;

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  for (const c of children) if (c != null) node.append(c);
  return node;
}

/** ISO week name (2026-W49) of a UTC date. */
export function isoWeek(date) {
  const d = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const weekday = d.getUTCDay() || 7;
  d.setUTCDate(d.getUTCDate() + 4 - weekday); // the Thursday of its week decides the year
  const yearStart = Date.UTC(d.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((d - yearStart) / DAY_MS + 1) / 7);
  return `${d.getUTCFullYear()}-W${String(week).padStart(2, '0')}`;
}

const percent = (x) => `${Math.round((x || 0) * 100)}%`;

/** A horizontal bar pair: this week's count against last week's, on the table's common scale. */
function bars(size, previous, max) {
  const width = 120;
  const scale = (n) => Math.max(1, Math.round((n / Math.max(max, 1)) * width));
  return svg('svg', { class: 'insights-bars', width, height: 16, viewBox: `0 0 ${width} 16`, role: 'img',
    'aria-label': `${size} this week, ${previous == null ? 'no figure' : previous} the week before` },
  svg('rect', { class: 'this-week', x: 0, y: 1, width: scale(size), height: 7 }),
  previous == null ? null : svg('rect', { class: 'last-week', x: 0, y: 9, width: scale(previous), height: 5 }));
}

/** A sparkline of a conversation's scores (dots) and their smoothed line, -1 (bottom) .. 1 (top). */
export function sparkline(scores, smoothed) {
  const width = 240, height = 60, pad = 4;
  const x = (i) => pad + (scores.length > 1 ? (i * (width - 2 * pad)) / (scores.length - 1) : (width - 2 * pad) / 2);
  const y = (v) => pad + ((1 - v) / 2) * (height - 2 * pad);
  const chart = svg('svg', { class: 'sparkline', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': `sentiment of ${scores.length} customer messages` },
  svg('line', { class: 'zero', x1: 0, x2: width, y1: y(0), y2: y(0) }));
  if (smoothed.length > 1) {
    chart.append(svg('polyline', { class: 'smoothed', points: smoothed.map((v, i) => `${x(i)},${y(v)}`).join(' ') }));
  }
  scores.forEach((v, i) => chart.append(svg('circle', {
    class: v <= -0.3 ? 'negative' : v >= 0.3 ? 'positive' : 'neutral', cx: x(i), cy: y(v), r: 3 },
  svg('title', {}, document.createTextNode(`message ${i + 1}: ${v}`)))));
  return chart;
}

export default class InsightsView {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.week = null; // the week shown (ISO name); null: this week
    this.weekLabel = el('strong', { 'data-testid': 'insights-week' });
    this.status = el('span', { class: 'muted', 'data-testid': 'insights-status' });
    this.list = el('div', { 'data-testid': 'insights-topics' });
    this.refreshButton = el('button', { type: 'button', 'data-testid': 'insights-refresh', onclick: () => this.refresh() },
      'Find topics now');
    this.conversationInput = el('input', { type: 'text', placeholder: 'conversation id', 'aria-label': 'conversation id',
      'data-testid': 'insights-conversation' });
    this.trend = el('div', { class: 'insights-trend', 'data-testid': 'insights-trend' });
    root.append(
      el('section', { class: 'insights-topics' },
        el('h2', { text: 'What sent customers to a person this week' }),
        el('div', { class: 'insights-toolbar' },
          el('button', { type: 'button', 'aria-label': 'previous week', onclick: () => this.move(-7) }, '‹'),
          this.weekLabel,
          el('button', { type: 'button', 'aria-label': 'next week', onclick: () => this.move(7) }, '›'),
          this.refreshButton, this.status),
        el('p', { class: 'muted', text: 'Topics of the conversations handed to a person or rated 1-2 that week: '
          + 'similar requests grouped by meaning, named by their distinctive words. Bars: this week (upper) and the '
          + 'same topic the week before (lower).' }),
        this.list),
      el('section', { class: 'insights-sentiment' },
        el('h2', { text: 'Sentiment of a conversation' }),
        el('form', { class: 'insights-toolbar', onsubmit: (ev) => { ev.preventDefault(); this.showTrend(this.conversationInput.value.trim()); } },
          this.conversationInput, el('button', { type: 'submit' }, 'Show trend')),
        this.trend));
  }

  show() {
    if (!this.conversationInput.value && this.app.view && this.app.view.id) this.conversationInput.value = this.app.view.id;
    this.load();
  }

  hide() {}

  async load() {
    const query = this.week ? `?week=${encodeURIComponent(this.week)}` : '';
    try {
      this.render(await api('GET', `/api/insights/topics${query}`));
    } catch (e) {
      toast(e.message, 'error');
    }
  }

  move(days) {
    const start = this.since ? new Date(this.since.getTime() + days * DAY_MS) : new Date();
    this.week = isoWeek(start);
    this.load();
  }

  async refresh() {
    const query = this.week ? `?week=${encodeURIComponent(this.week)}` : '';
    this.refreshButton.disabled = true;
    this.status.textContent = 'finding topics…';
    try {
      this.render(await api('POST', `/api/insights/topics/refresh${query}`));
    } catch (e) {
      toast(e.message, 'error');
      this.status.textContent = '';
    } finally {
      this.refreshButton.disabled = false;
    }
  }

  render(data) {
    this.since = new Date(data.since);
    this.week = data.week;
    this.weekLabel.textContent = `week ${data.week}`;
    this.status.textContent = data.run_at ? `${data.texts} conversations, found ${dateTime(data.run_at)}`
      : 'not found yet for this week';
    if (!data.topics.length) {
      this.list.replaceChildren(el('p', { class: 'muted', text: data.run_at ? 'No conversation was handed off or rated low.'
        : 'The service finds the topics once a day; "Find topics now" does it at once.' }));
      return;
    }
    const max = Math.max(...data.topics.map((t) => Math.max(t.size, t.previous_size || 0)));
    const head = el('tr', {}, ...['topic', 'count', 'share', 'vs last week', '', 'rated low', 'category', 'examples']
      .map((h) => el('th', { text: h })));
    const rows = data.topics.map((t) => {
      const change = t.previous_size == null ? '–' : t.size - t.previous_size;
      const examples = el('details', { class: 'insights-examples' },
        el('summary', { text: `${t.examples.length} example${t.examples.length === 1 ? '' : 's'}` }),
        el('ul', {}, ...t.examples.map((e) => el('li', {},
          el('q', { class: 'customer-text', 'data-testid': 'insights-example', text: e.text }), ' ',
          el('button', { type: 'button', class: 'link', onclick: () => { this.conversationInput.value = e.conversation_id; this.showTrend(e.conversation_id); } },
            'sentiment')))));
      return el('tr', { 'data-testid': 'insights-topic' },
        el('td', {}, el('strong', { text: t.label }), el('div', { class: 'muted', text: t.keywords.join(' · ') })),
        el('td', { class: 'num', text: t.size }),
        el('td', { class: 'num', text: percent(t.share) }),
        el('td', { class: 'num', text: typeof change === 'number' && change > 0 ? `+${change}` : String(change) }),
        el('td', {}, bars(t.size, t.previous_size, max)),
        el('td', { class: 'num', text: percent(t.low_rated_share) }),
        el('td', { text: t.category ? `${t.category} (${percent(t.category_share)} of ${t.category_tickets})` : '–' }),
        el('td', {}, examples));
    });
    this.list.replaceChildren(el('table', { class: 'insights-table' }, el('thead', {}, head), el('tbody', {}, ...rows)));
  }

  async showTrend(conversationId) {
    if (!conversationId) return;
    try {
      const data = await api('GET', `/api/insights/conversations/${encodeURIComponent(conversationId)}/sentiment`);
      const scores = data.messages.map((m) => m.score);
      this.trend.replaceChildren(
        el('p', {}, el('strong', { 'data-testid': 'insights-direction', text: data.direction }),
          el('span', { class: 'muted', text: ` over ${scores.length} customer message${scores.length === 1 ? '' : 's'}`
            + (data.mean == null ? '' : `, mean ${data.mean}`) })),
        sparkline(scores, data.smoothed));
    } catch (e) {
      this.trend.replaceChildren(el('p', { class: 'muted', text: e.message }));
    }
  }
}
