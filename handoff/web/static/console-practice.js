/* The Practice tab (docs/training.md, "Team training"): agents see their weak spots, practise on a past
 * conversation (customer details masked) turn by turn, and follow their progress and reviews; supervisors and
 * admins see the team's weak spots, review finished sessions and follow every agent's progress (uPlot, served from
 * /static). Practice touches no live conversation, queue or presence. Everything a customer or colleague wrote is
 * set as text (textContent), never as HTML. */
import uPlot from './uPlot.esm.js';
import { el, api, dateTime, humanize, toast } from './console-lib.js';
import { stylesheet } from './console-reports.js';

const FLAGS = { low_ratings: 'Low ratings', handle_time: 'Long handle time', transfers: 'Transfers', qa: 'QA' };
const share = (x) => (x == null ? '–' : `${Math.round(x * 100)}%`);
const minutes = (s) => (s == null ? '–' : `${(s / 60).toFixed(1)} min`);
const points = (x) => (x == null ? '–' : Number(x).toFixed(1));

export default class PracticeView {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.session = null;
    this.plot = null;
    stylesheet();
    this.supervisor = ['supervisor', 'admin'].includes(app.me && app.me.role);
    this.weak = el('tbody', { 'data-testid': 'practice-weak-rows' });
    this.category = el('select', { 'aria-label': 'Category to practise', 'data-testid': 'practice-category' },
      el('option', { value: '', text: 'My weak spots first' }));
    this.sessionBox = el('div', { class: 'practice-session', 'data-testid': 'practice-session' });
    this.mine = el('tbody', { 'data-testid': 'practice-sessions' });
    this.toReview = el('tbody', { 'data-testid': 'practice-to-review' });
    this.progressRows = el('tbody', { 'data-testid': 'practice-progress-rows' });
    this.chart = el('div', { class: 'practice-chart', 'data-testid': 'practice-chart' });
    const table = (head, body) => el('table', { class: 'practice-table' },
      el('thead', {}, el('tr', {}, ...head.map((h) => el('th', { text: h })))), body);
    root.replaceChildren(el('section', { class: 'practice' },
      el('h2', { text: 'Practice' }),
      el('p', { class: 'muted', text: 'Practise on real past conversations that a colleague resolved well, with '
        + 'the customer\'s details masked. Answer each customer turn; then compare with the reply that resolved it '
        + 'and the matching knowledge article. Practice never touches live conversations or your presence.' }),
      el('h3', { text: this.supervisor ? 'Weak spots of the team' : 'My weak spots' }),
      el('p', { class: 'muted', 'data-testid': 'practice-rule' }),
      table(['Agent', 'Category', 'Conversations', 'Low ratings (team)', 'Handle time (team)', 'Transfers (team)',
        'Weak spots'], this.weak),
      el('h3', { text: 'Practise' }),
      el('div', { class: 'practice-toolbar' }, this.category,
        el('button', { type: 'button', class: 'primary', 'data-testid': 'practice-start',
          onclick: () => this.start() }, 'Start a practice session')),
      this.sessionBox,
      el('h3', { text: this.supervisor ? 'Sessions' : 'My sessions and reviews' }),
      table(['Started', 'Agent', 'Category', 'Status', 'Score', 'Review'], this.mine),
      this.supervisor ? el('h3', { text: 'Sessions to review' }) : null,
      this.supervisor ? table(['Finished', 'Agent', 'Category', 'Score', ''], this.toReview) : null,
      el('h3', { text: this.supervisor ? 'Progress of each agent' : 'My progress' }),
      table(['Agent', 'Category', 'Sessions', 'Automatic score', 'Reviewed score'], this.progressRows),
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
    this.root.querySelector('[data-testid="practice-rule"]').textContent = `Last 30 days. A weak spot needs at `
      + `least ${r.min_conversations} conversations in the category (and as many by the rest of the team), and being `
      + `worse than the rest of the team: low ratings ${Math.round(r.low_share_margin * 100)} points more, handle time `
      + `${r.handle_ratio}× as long, transfers ${Math.round(r.transfer_margin * 100)} points more, or a QA criterion `
      + `${r.qa_margin} points lower.`;
    const categories = new Set();
    this.weak.replaceChildren(...spots.rows.map((row) => {
      categories.add(row.category);
      const flags = row.flags.map((f) => el('span', { class: 'practice-flag', title: f.why,
        text: f.kind === 'qa' ? `QA ${humanize(f.criterion)}` : FLAGS[f.kind] }));
      return el('tr', { 'data-testid': 'practice-weak-row', class: row.flags.length ? 'weak' : '' },
        el('td', { text: row.agent_name || row.agent_id }), el('td', { text: humanize(row.category) }),
        el('td', { text: String(row.agent.conversations) }),
        el('td', { text: `${share(row.agent.low_rating_share)} (${share(row.team.low_rating_share)})` }),
        el('td', { text: `${minutes(row.agent.handle_seconds)} (${minutes(row.team.handle_seconds)})` }),
        el('td', { text: `${share(row.agent.transfer_share)} (${share(row.team.transfer_share)})` }),
        el('td', {}, ...(flags.length ? flags : ['–'])));
    }));
    if (!spots.rows.length) this.weak.append(el('tr', {}, el('td', { colspan: '7', class: 'muted', text: 'Nothing measured in the last 30 days.' })));
    const chosen = this.category.value;
    this.category.replaceChildren(el('option', { value: '', text: 'My weak spots first' }),
      ...[...categories].sort().map((c) => el('option', { value: c, text: humanize(c) })));
    this.category.value = chosen;
  }

  sessionRow(s, testid, action) {
    const review = s.review ? `${points(s.review.score)} by ${s.review.reviewer_name || ''}` : '–';
    return el('tr', { 'data-testid': testid, 'data-session-id': String(s.id), tabindex: '0', class: 'clickable',
      onclick: action },
    el('td', { text: dateTime(s.started_at) }), el('td', { text: s.agent_name || s.agent_id }),
    el('td', { text: humanize(s.category || 'uncategorised') }), el('td', { text: humanize(s.status) }),
    el('td', { text: points(s.total) }), el('td', { text: review }));
  }

  drawSessions(sessions) {
    this.mine.replaceChildren(...sessions.map((s) => this.sessionRow(s, 'practice-session-row', () => this.open(s.id))));
  }

  drawToReview(sessions) {
    this.toReview.replaceChildren(...sessions.map((s) => el('tr', { 'data-testid': 'practice-review-row',
      'data-session-id': String(s.id) },
    el('td', { text: dateTime(s.finished_at) }), el('td', { text: s.agent_name || s.agent_id }),
    el('td', { text: humanize(s.category || 'uncategorised') }), el('td', { text: points(s.total) }),
    el('td', {}, el('button', { type: 'button', 'data-testid': 'practice-open-review', onclick: () => this.open(s.id) },
      'Review')))));
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
    this.plot = new uPlot({ title: `${shown.agent_name || shown.agent_id}: scores per session`, width: 520, height: 200,
      scales: { y: { range: [0, 100] } },
      series: [{}, { label: 'Automatic', stroke: '#2563eb', width: 2, spanGaps: true },
        { label: 'Reviewed', stroke: '#059669', width: 2, spanGaps: true }] }, data, this.chart);
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
      text: `${session.agent_name || ''} · ${humanize(session.category || 'uncategorised')} · turn `
        + `${Math.min(session.turn + 1, session.turns)} of ${session.turns}` }));
    if (session.scenario_deleted) box.append(el('p', { class: 'muted', text: 'This conversation was deleted (a customer\'s erasure or retention): the scores stay.' }));
    for (const turn of session.turns_shown) box.append(this.turn(turn, session));
    if (session.status === 'open' && mine) {
      const input = el('textarea', { rows: '3', maxlength: '5000', 'data-testid': 'practice-reply',
        'aria-label': 'Your reply', placeholder: 'Your reply to the customer' });
      box.append(el('form', { class: 'practice-answer', onsubmit: (ev) => {
        ev.preventDefault();
        if (input.value.trim()) this.send(input.value);
      } }, input, el('button', { type: 'submit', class: 'primary', 'data-testid': 'practice-send' }, 'Send reply')));
    }
    if (session.status === 'finished') {
      box.append(el('p', { class: 'practice-total', 'data-testid': 'practice-total',
        text: `Total: ${points(session.total)} of 100` }));
    }
    if (session.review) {
      box.append(el('div', { class: 'practice-review', 'data-testid': 'practice-review' },
        el('strong', { text: `Review by ${session.review.reviewer_name || ''}: ${points(session.review.score)} of 100` }),
        el('p', { class: 'msg-text', 'data-testid': 'practice-review-comment-shown', text: session.review.comment })));
    }
    if (this.supervisor && !mine && session.status === 'finished') box.append(this.reviewForm(session));
  }

  turn(turn, session) {
    const node = el('div', { class: 'practice-turn', 'data-testid': 'practice-turn', 'data-turn': String(turn.turn) },
      el('div', { class: 'practice-customer' }, el('span', { class: 'muted', text: 'Customer' }),
        el('p', { class: 'msg-text', 'data-testid': 'practice-customer', text: turn.customer ?? '(deleted)' })));
    if (turn.mine === undefined) return node;
    const article = turn.article;
    node.append(el('div', { class: 'practice-compare', 'data-testid': 'practice-compare' },
      el('div', {}, el('span', { class: 'muted', text: 'Your reply' }),
        el('p', { class: 'msg-text', 'data-testid': 'practice-mine', text: turn.mine }),
        el('strong', { 'data-testid': 'practice-score', text: `Score: ${points(turn.score)}` }),
        el('ul', { class: 'practice-why' }, ...turn.details.why.map((w) => el('li', { text: w })))),
      el('div', {}, el('span', { class: 'muted', text: 'The reply that resolved it' }),
        el('p', { class: 'msg-text', 'data-testid': 'practice-actual', text: turn.actual ?? '(deleted)' })),
      el('div', {}, el('span', { class: 'muted', text: 'Knowledge article' }),
        article ? el('p', { class: 'msg-text', 'data-testid': 'practice-article' },
          el('strong', { text: article.title }), document.createTextNode(`\n${article.text}`))
          : el('p', { class: 'muted', 'data-testid': 'practice-article', text: 'No article matches this turn.' }))));
    if (turn.review_comment) {
      node.append(el('p', { class: 'practice-reply-review', 'data-testid': 'practice-reply-review',
        text: `Reviewer: ${turn.review_comment}` }));
    }
    return node;
  }

  reviewForm(session) {
    const score = el('input', { type: 'number', min: '0', max: '100', step: '1', required: true,
      'data-testid': 'practice-review-score', 'aria-label': 'Score (0-100)',
      value: session.review ? String(session.review.score) : '' });
    const comment = el('textarea', { rows: '3', maxlength: '5000', 'data-testid': 'practice-review-comment',
      'aria-label': 'Comment' });
    comment.value = session.review ? session.review.comment : '';
    const perReply = session.turns_shown.filter((t) => t.mine !== undefined).map((t) => {
      const input = el('input', { type: 'text', maxlength: '5000', 'data-testid': `practice-reply-comment-${t.turn}`,
        'aria-label': `Comment on reply ${t.turn + 1}`, placeholder: `Comment on reply ${t.turn + 1} (optional)` });
      input.value = t.review_comment || '';
      return [t.turn, input];
    });
    return el('form', { class: 'practice-review-form', 'data-testid': 'practice-review-form', onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        this.draw(await api('PUT', `/api/practice/sessions/${session.id}/review`, { score: Number(score.value),
          comment: comment.value, replies: perReply.map(([turn, input]) => ({ turn, comment: input.value })) }));
        toast('Review saved.');
        this.load();
      } catch (e) {
        toast(e.message, 'error');
      }
    } }, el('h4', { text: 'Your review' }), score, comment, ...perReply.map(([, input]) => input),
    el('button', { type: 'submit', class: 'primary', 'data-testid': 'practice-review-save' }, 'Save review'));
  }
}
