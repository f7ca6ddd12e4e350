/* The Insights view (supervisors and admins): what sent customers to a person in a week (the topics of the
 * conversations handed off or rated low, docs/insights.md) and a conversation's sentiment trend.
 * Customers' words are shown as text only (textContent), never as HTML. Charts are SVG built node by node. */
import { el, api, toast, dateTime } from './console-lib.js';
import { number, t } from './i18n.js';

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

const percent = (x) => number(x || 0, { style: 'percent' });
const directions = () => ({ improving: t('insights.improving'), worsening: t('insights.worsening'),
  steady: t('insights.steady') });

/** A horizontal bar pair: this week's count against last week's, on the table's common scale. */
function bars(size, previous, max) {
  const width = 120;
  const scale = (n) => Math.max(1, Math.round((n / Math.max(max, 1)) * width));
  return svg('svg', { class: 'insights-bars', width, height: 16, viewBox: `0 0 ${width} 16`, role: 'img',
    'aria-label': t('insights.bars_label', { size, previous: previous == null ? t('insights.no_figure') : previous }) },
  svg('rect', { class: 'this-week', x: 0, y: 1, width: scale(size), height: 7 }),
  previous == null ? null : svg('rect', { class: 'last-week', x: 0, y: 9, width: scale(previous), height: 5 }));
}

/** A sparkline of a conversation's scores (dots) and their smoothed line, -1 (bottom) .. 1 (top). */
export function sparkline(scores, smoothed) {
  const width = 240, height = 60, pad = 4;
  const x = (i) => pad + (scores.length > 1 ? (i * (width - 2 * pad)) / (scores.length - 1) : (width - 2 * pad) / 2);
  const y = (v) => pad + ((1 - v) / 2) * (height - 2 * pad);
  const chart = svg('svg', { class: 'sparkline', width, height, viewBox: `0 0 ${width} ${height}`, role: 'img',
    'aria-label': t('insights.sparkline_label', { count: scores.length }) },
  svg('line', { class: 'zero', x1: 0, x2: width, y1: y(0), y2: y(0) }));
  if (smoothed.length > 1) {
    chart.append(svg('polyline', { class: 'smoothed', points: smoothed.map((v, i) => `${x(i)},${y(v)}`).join(' ') }));
  }
  scores.forEach((v, i) => chart.append(svg('circle', {
    class: v <= -0.3 ? 'negative' : v >= 0.3 ? 'positive' : 'neutral', cx: x(i), cy: y(v), r: 3 },
  svg('title', {}, document.createTextNode(t('insights.message_score', { n: i + 1, score: v }))))));
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
      t('insights.find_now'));
    this.conversationInput = el('input', { type: 'text', placeholder: t('insights.conversation_id'), 'aria-label': t('insights.conversation_id'),
      'data-testid': 'insights-conversation' });
    this.trend = el('div', { class: 'insights-trend', 'data-testid': 'insights-trend' });
    root.append(
      el('section', { class: 'insights-topics' },
        el('h2', { text: t('insights.title') }),
        el('div', { class: 'insights-toolbar' },
          el('button', { type: 'button', 'aria-label': t('insights.previous_week'), onclick: () => this.move(-7) }, '‹'),
          this.weekLabel,
          el('button', { type: 'button', 'aria-label': t('insights.next_week'), onclick: () => this.move(7) }, '›'),
          this.refreshButton, this.status),
        el('p', { class: 'muted', text: t('insights.intro') }),
        this.list),
      el('section', { class: 'insights-sentiment' },
        el('h2', { text: t('insights.sentiment_title') }),
        el('form', { class: 'insights-toolbar', onsubmit: (ev) => { ev.preventDefault(); this.showTrend(this.conversationInput.value.trim()); } },
          this.conversationInput, el('button', { type: 'submit' }, t('insights.show_trend'))),
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
    this.status.textContent = t('insights.finding');
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
    this.weekLabel.textContent = t('insights.week', { week: data.week });
    this.status.textContent = data.run_at ? t('insights.found', { count: data.texts, time: dateTime(data.run_at) })
      : t('insights.not_found');
    if (!data.topics.length) {
      this.list.replaceChildren(el('p', { class: 'muted', text: data.run_at ? t('insights.none') : t('insights.once_a_day') }));
      return;
    }
    const max = Math.max(...data.topics.map((topic) => Math.max(topic.size, topic.previous_size || 0)));
    const head = el('tr', {}, ...[t('insights.col.topic'), t('insights.col.count'), t('insights.col.share'),
      t('insights.col.vs_last_week'), '', t('insights.col.rated_low'), t('insights.col.category'), t('insights.col.examples')]
      .map((h) => el('th', { text: h })));
    const rows = data.topics.map((topic) => {
      const change = topic.previous_size == null ? '–' : topic.size - topic.previous_size;
      const examples = el('details', { class: 'insights-examples' },
        el('summary', { text: t('insights.examples', { count: topic.examples.length }) }),
        el('ul', {}, ...topic.examples.map((e) => el('li', {},
          el('q', { class: 'customer-text', 'data-testid': 'insights-example', text: e.text }), ' ',
          el('button', { type: 'button', class: 'link', onclick: () => { this.conversationInput.value = e.conversation_id; this.showTrend(e.conversation_id); } },
            t('insights.sentiment'))))));
      return el('tr', { 'data-testid': 'insights-topic' },
        el('td', {}, el('strong', { text: topic.label }), el('div', { class: 'muted', text: topic.keywords.join(' · ') })),
        el('td', { class: 'num', text: topic.size }),
        el('td', { class: 'num', text: percent(topic.share) }),
        el('td', { class: 'num', text: typeof change === 'number' && change > 0 ? `+${change}` : String(change) }),
        el('td', {}, bars(topic.size, topic.previous_size, max)),
        el('td', { class: 'num', text: percent(topic.low_rated_share) }),
        el('td', { text: topic.category ? t('insights.category_share', { category: topic.category,
          share: percent(topic.category_share), total: topic.category_tickets }) : '–' }),
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
        el('p', {}, el('strong', { 'data-testid': 'insights-direction', text: directions()[data.direction] || data.direction }),
          el('span', { class: 'muted', text: data.mean == null ? t('insights.over', { count: scores.length })
            : t('insights.over_mean', { count: scores.length, mean: data.mean }) })),
        sparkline(scores, data.smoothed));
    } catch (e) {
      this.trend.replaceChildren(el('p', { class: 'muted', text: e.message }));
    }
  }
}
