/* The Practice tab (docs/training.md, "Team training"): agents see their weak spots, practise on a past
 * conversation (customer details masked) turn by turn, and follow their progress and reviews; supervisors and
 * admins see the team's weak spots, review finished sessions and follow every agent's progress (uPlot, served from
 * /static). Practice touches no live conversation, queue or presence. Everything a customer or colleague wrote is
 * set as text (textContent), never as HTML. The page's own texts are in the console's catalogs (`practice.*`,
 * docs/translations.md); the service's score explanations and a flag's reason are shown as it wrote them. */
import uPlot from './uPlot.esm.js';
import { el, api, dateTime, humanize, toast } from './console-lib.js';
import { stylesheet } from './console-reports.js';
import { number, t } from './i18n.js';

const flagLabels = () => ({ low_ratings: t('practice.flag.low_ratings'), handle_time: t('practice.flag.handle_time'),
  transfers: t('practice.flag.transfers') });
const share = (x) => (x == null ? '–' : number(x, { style: 'percent', maximumFractionDigits: 0 }));
const minutes = (s) => (s == null ? '–'
  : t('practice.minutes', { minutes: number(s / 60, { minimumFractionDigits: 1, maximumFractionDigits: 1 }) }));
const points = (x) => (x == null ? '–' : number(Number(x), { minimumFractionDigits: 1, maximumFractionDigits: 1 }));
const category = (code) => (code ? humanize(code) : t('practice.uncategorised'));

export default class PracticeView {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.session = null;
    this.plot = null;
    stylesheet();
    this.supervisor = ['supervisor', 'admin'].includes(app.me && app.me.role);
    this.weak = el('tbody', { 'data-testid': 'practice-weak-rows' });
    this.category = el('select', { 'aria-label': t('practice.category_to_practise'),
      'data-testid': 'practice-category' },
      el('option', { value: '', text: t('practice.weak_spots_first') }));
    this.sessionBox = el('div', { class: 'practice-session', 'data-testid': 'practice-session' });
    this.mine = el('tbody', { 'data-testid': 'practice-sessions' });
    this.toReview = el('tbody', { 'data-testid': 'practice-to-review' });
    this.progressRows = el('tbody', { 'data-testid': 'practice-progress-rows' });
    this.chart = el('div', { class: 'practice-chart', 'data-testid': 'practice-chart' });
    const table = (head, body) => el('table', { class: 'practice-table' },
      el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { text: h })))), body);
    root.replaceChildren(el('section', { class: 'practice' },
      el('h2', { text: t('practice.title') }),
      el('p', { class: 'muted', text: t('practice.intro') }),
      el('h3', { text: this.supervisor ? t('practice.team_weak_spots') : t('practice.my_weak_spots') }),
      el('p', { class: 'muted', 'data-testid': 'practice-rule' }),
      table([t('practice.col.agent'), t('practice.col.category'), t('practice.col.conversations'),
        t('practice.col.low_ratings'), t('practice.col.handle_time'), t('practice.col.transfers'),
        t('practice.col.weak_spots')], this.weak),
      el('h3', { text: t('practice.practise') }),
      el('div', { class: 'practice-toolbar' }, this.category,
        el('button', { type: 'button', class: 'primary', 'data-testid': 'practice-start',
          onclick: () => this.start() }, t('practice.start'))),
      this.sessionBox,
      el('h3', { text: this.supervisor ? t('practice.sessions') : t('practice.my_sessions') }),
      table([t('practice.col.started'), t('practice.col.agent'), t('practice.col.category'), t('practice.col.status'),
        t('practice.col.score'), t('practice.col.review')], this.mine),
      this.supervisor ? el('h3', { text: t('practice.to_review') }) : null,
      this.supervisor ? table([t('practice.col.finished'), t('practice.col.agent'), t('practice.col.category'),
        t('practice.col.score'), ''], this.toReview) : null,
      el('h3', { text: this.supervisor ? t('practice.team_progress') : t('practice.my_progress') }),
      table([t('practice.col.agent'), t('practice.col.category'), t('practice.col.sessions'),
        t('practice.col.automatic'), t('practice.col.reviewed')], this.progressRows),
      this.chart));
  }

  show() { this.load(); }

  hide() {}

  async load() {
    try {
      const [spots, sessions, progress] = await Promise.all([api('GET', '/api/practice/weak-spots'),
        api('GET', '/api/practice/sessions'), api('GET', '/api/practice/progress')]);
      this.drawWeakSpots(spots);
      this.drawSessions(sessions.sessions);
      this.drawProgress(progress);
      if (this.supervisor) this.drawToReview((await api('GET', '/api/practice/sessions?to_review=true')).sessions);
    } catch (e) {
      toast(e.message, 'error');
    }
  }

  drawWeakSpots(spots) {
    const r = spots.rule;
    this.root.querySelector('[data-testid="practice-rule"]').textContent = t('practice.rule', {
      conversations: t('practice.conversations', { count: r.min_conversations }),
      low: number(Math.round(r.low_share_margin * 100)), ratio: number(r.handle_ratio),
      transfers: number(Math.round(r.transfer_margin * 100)), qa: number(r.qa_margin) });
    const labels = flagLabels();
    const categories = new Set();
    this.weak.replaceChildren(...spots.rows.map((row) => {
      categories.add(row.category);
      const flags = row.flags.map((f) => el('span', { class: 'practice-flag', title: f.why,
        text: f.kind === 'qa' ? t('practice.flag.qa', { criterion: humanize(f.criterion) })
          : labels[f.kind] || humanize(f.kind) }));
      return el('tr', { 'data-testid': 'practice-weak-row', class: row.flags.length ? 'weak' : '' },
        el('td', { text: row.agent_name || row.agent_id }), el('td', { text: humanize(row.category) }),
        el('td', { text: String(row.agent.conversations) }),
        el('td', { text: `${share(row.agent.low_rating_share)} (${share(row.team.low_rating_share)})` }),
        el('td', { text: `${minutes(row.agent.handle_seconds)} (${minutes(row.team.handle_seconds)})` }),
        el('td', { text: `${share(row.agent.transfer_share)} (${share(row.team.transfer_share)})` }),
        el('td', {}, ...(flags.length ? flags : ['–'])));
    }));
    if (!spots.rows.length) {
      this.weak.append(el('tr', {}, el('td', { colspan: '7', class: 'muted', text: t('practice.nothing_measured') })));
    }
    const chosen = this.category.value;
    this.category.replaceChildren(el('option', { value: '', text: t('practice.weak_spots_first') }),
      ...[...categories].sort().map((c) => el('option', { value: c, text: humanize(c) })));
    this.category.value = chosen;
  }

  sessionRow(s, testid, action) {
    const review = s.review ? t('practice.review_by', { score: points(s.review.score),
      reviewer: s.review.reviewer_name || '' }) : '–';
    return el('tr', { 'data-testid': testid, 'data-session-id': String(s.id), tabindex: '0', class: 'clickable',
      onclick: action },
    el('td', { text: dateTime(s.started_at) }), el('td', { text: s.agent_name || s.agent_id }),
    el('td', { text: category(s.category) }), el('td', { text: humanize(s.status) }),
    el('td', { text: points(s.total) }), el('td', { text: review }));
  }

  drawSessions(sessions) {
    this.mine.replaceChildren(...sessions.map((s) => this.sessionRow(s, 'practice-session-row', () => this.open(s.id))));
  }

  drawToReview(sessions) {
    this.toReview.replaceChildren(...sessions.map((s) => el('tr', { 'data-testid': 'practice-review-row',
      'data-session-id': String(s.id) },
    el('td', { text: dateTime(s.finished_at) }), el('td', { text: s.agent_name || s.agent_id }),
    el('td', { text: category(s.category) }), el('td', { text: points(s.total) }),
    el('td', {}, el('button', { type: 'button', 'data-testid': 'practice-open-review', onclick: () => this.open(s.id) },
      t('practice.open_review'))))));
  }

  drawProgress(progress) {
    this.progressRows.replaceChildren(...progress.agents.flatMap((a) => a.categories.map((c) => el('tr',
      { 'data-testid': 'practice-progress-row' }, el('td', { text: a.agent_name || a.agent_id }),
      el('td', { text: humanize(c.category) }), el('td', { text: String(c.sessions) }),
      el('td', { text: points(c.auto) }), el('td', { text: points(c.reviewed) })))));
    if (this.plot) this.plot.destroy();
    this.plot = null;
    this.chart.replaceChildren();
    const shown = progress.agents[0];
    if (!shown) return;
    const xs = shown.points.map((p) => Date.parse(p.at) / 1000);
    const data = [xs, shown.points.map((p) => p.total), shown.points.map((p) => p.review_score)];
    this.plot = new uPlot({ title: t('practice.chart_title', { agent: shown.agent_name || shown.agent_id }),
      width: 520, height: 200, scales: { y: { range: [0, 100] } },
      series: [{ label: t('practice.series.time') },
        { label: t('practice.series.automatic'), stroke: '#2563eb', width: 2, spanGaps: true },
        { label: t('practice.series.reviewed'), stroke: '#059669', width: 2, spanGaps: true }] }, data, this.chart);
  }

  async start() {
    try {
      const body = this.category.value ? { category: this.category.value } : {};
      this.draw(await api('POST', '/api/practice/sessions', body));
      this.load();
    } catch (e) {
      toast(e.message, 'error');
    }
  }

  async open(id) {
    try {
      this.draw(await api('GET', `/api/practice/sessions/${id}`));
    } catch (e) {
      toast(e.message, 'error');
    }
  }

  async send(text) {
    try {
      this.draw(await api('POST', `/api/practice/sessions/${this.session.id}/replies`, { text }));
      if (this.session.status === 'finished') this.load();
    } catch (e) {
      toast(e.message, 'error');
    }
  }

  /** The session: each turn's customer words; once answered, side by side the agent's reply with its score, the
   * reply that resolved it and the knowledge article; the reply box under the current turn; the total and the
   * review once finished; a review form for a supervisor on someone else's finished session. */
  draw(session) {
    this.session = session;
    const mine = this.app.me && session.agent_id === this.app.me.id;
    const box = this.sessionBox;
    box.replaceChildren(el('p', { class: 'muted', 'data-testid': 'practice-heading',
      text: t('practice.heading', { agent: session.agent_name || '', category: category(session.category),
        turn: Math.min(session.turn + 1, session.turns), turns: session.turns }) }));
    if (session.scenario_deleted) box.append(el('p', { class: 'muted', text: t('practice.scenario_deleted') }));
    for (const turn of session.turns_shown) box.append(this.turn(turn, session));
    if (session.status === 'open' && mine) {
      const input = el('textarea', { rows: '3', maxlength: '5000', 'data-testid': 'practice-reply',
        'aria-label': t('practice.your_reply'), placeholder: t('practice.reply_placeholder') });
      box.append(el('form', { class: 'practice-answer', onsubmit: (ev) => {
        ev.preventDefault();
        if (input.value.trim()) this.send(input.value);
      } }, input,
      el('button', { type: 'submit', class: 'primary', 'data-testid': 'practice-send' }, t('practice.send'))));
    }
    if (session.status === 'finished') {
      box.append(el('p', { class: 'practice-total', 'data-testid': 'practice-total',
        text: t('practice.total', { score: points(session.total) }) }));
    }
    if (session.review) {
      box.append(el('div', { class: 'practice-review', 'data-testid': 'practice-review' },
        el('strong', { text: t('practice.review_heading', { reviewer: session.review.reviewer_name || '',
          score: points(session.review.score) }) }),
        el('p', { class: 'msg-text', 'data-testid': 'practice-review-comment-shown', text: session.review.comment })));
    }
    if (this.supervisor && !mine && session.status === 'finished') box.append(this.reviewForm(session));
  }

  turn(turn, session) {
    const node = el('div', { class: 'practice-turn', 'data-testid': 'practice-turn', 'data-turn': String(turn.turn) },
      el('div', { class: 'practice-customer' }, el('span', { class: 'muted', text: t('practice.customer') }),
        el('p', { class: 'msg-text', 'data-testid': 'practice-customer',
          text: turn.customer ?? t('practice.deleted') })));
    if (turn.mine === undefined) return node;
    const article = turn.article;
    node.append(el('div', { class: 'practice-compare', 'data-testid': 'practice-compare' },
      el('div', {}, el('span', { class: 'muted', text: t('practice.your_reply') }),
        el('p', { class: 'msg-text', 'data-testid': 'practice-mine', text: turn.mine }),
        el('strong', { 'data-testid': 'practice-score', text: t('practice.score', { score: points(turn.score) }) }),
        el('ul', { class: 'practice-why' }, ...turn.details.why.map((w) => el('li', { text: w })))),
      el('div', {}, el('span', { class: 'muted', text: t('practice.actual_reply') }),
        el('p', { class: 'msg-text', 'data-testid': 'practice-actual', text: turn.actual ?? t('practice.deleted') })),
      el('div', {}, el('span', { class: 'muted', text: t('practice.article') }),
        article ? el('p', { class: 'msg-text', 'data-testid': 'practice-article' },
          el('strong', { text: article.title }), document.createTextNode(`\n${article.text}`))
          : el('p', { class: 'muted', 'data-testid': 'practice-article', text: t('practice.no_article') }))));
    if (turn.review_comment) {
      node.append(el('p', { class: 'practice-reply-review', 'data-testid': 'practice-reply-review',
        text: t('practice.reviewer_comment', { comment: turn.review_comment }) }));
    }
    return node;
  }

  reviewForm(session) {
    const score = el('input', { type: 'number', min: '0', max: '100', step: '1', required: true,
      'data-testid': 'practice-review-score', 'aria-label': t('practice.review_score'),
      value: session.review ? String(session.review.score) : '' });
    const comment = el('textarea', { rows: '3', maxlength: '5000', 'data-testid': 'practice-review-comment',
      'aria-label': t('practice.review_comment') });
    comment.value = session.review ? session.review.comment : '';
    const perReply = session.turns_shown.filter((shown) => shown.mine !== undefined).map((shown) => {
      const input = el('input', { type: 'text', maxlength: '5000',
        'data-testid': `practice-reply-comment-${shown.turn}`,
        'aria-label': t('practice.reply_comment', { number: shown.turn + 1 }),
        placeholder: t('practice.reply_comment_optional', { number: shown.turn + 1 }) });
      input.value = shown.review_comment || '';
      return [shown.turn, input];
    });
    return el('form', { class: 'practice-review-form', 'data-testid': 'practice-review-form', onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        this.draw(await api('PUT', `/api/practice/sessions/${session.id}/review`, { score: Number(score.value),
          comment: comment.value, replies: perReply.map(([turn, input]) => ({ turn, comment: input.value })) }));
        toast(t('practice.saved'));
        this.load();
      } catch (e) {
        toast(e.message, 'error');
      }
    } }, el('h4', { text: t('practice.your_review') }), score, comment, ...perReply.map(([, input]) => input),
    el('button', { type: 'submit', class: 'primary', 'data-testid': 'practice-review-save' },
      t('practice.save_review')));
  }
}
