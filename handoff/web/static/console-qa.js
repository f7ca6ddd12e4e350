/* The QA tab (supervisors, admins): draw a review sample and score conversations against the scorecard
 * (GET /api/qa/sample, GET /api/qa/tickets/{id}, PUT .../review), the scores per agent (GET /api/qa/scores),
 * and the follow-up items of low feedback (/api/followups...). Everything a customer or colleague wrote is set
 * as text (textContent), never as HTML. */
import { el, api, dateTime, duration, humanize, toast } from './console-lib.js';
import { number, t as tr } from './i18n.js'; // `t` is a ticket here

const reasons = () => ({ low_rating: tr('qa.reason.low_rating'), long_handle: tr('qa.reason.long_handle'),
  random: tr('qa.reason.random') });
const DAY = 86400000;
const isoDay = (ms) => new Date(ms).toISOString().slice(0, 10);
const percent = (value) => (value == null ? '–'
  : number(Number(value) / 100, { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 }));

/** since/until inputs (dates), a week up to tomorrow by default: the period the API filters on. */
function periodInputs(prefix) {
  const now = Date.now();
  const since = el('input', { type: 'date', name: 'since', value: isoDay(now - 7 * DAY), 'data-testid': `${prefix}-since` });
  const until = el('input', { type: 'date', name: 'until', value: isoDay(now + DAY), 'data-testid': `${prefix}-until` });
  const params = () => new URLSearchParams({ since: since.value, until: until.value });
  return { since, until, params };
}

function meter(value) {
  return el('meter', { min: '0', max: '100', low: '60', high: '85', optimum: '100', value: String(value ?? 0),
    title: percent(value) });
}

export default class QaView {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.scorecard = null;
    this.sections = {};
    const nav = el('nav', { class: 'qa-nav', role: 'tablist', 'aria-label': tr('tab.qa') });
    for (const [name, label] of [['sample', tr('qa.sample')], ['scores', tr('qa.scores')], ['followups', tr('qa.followups')]]) {
      nav.append(el('button', { type: 'button', role: 'tab', 'data-testid': `qa-${name}-tab`,
        dataset: { section: name }, onclick: () => this.section(name), text: label }));
      this.sections[name] = el('section', { class: 'qa-section', 'data-testid': `qa-${name}`, hidden: true });
    }
    this.nav = nav;
    root.replaceChildren(nav, ...Object.values(this.sections));
    this.buildSample();
    this.buildScores();
    this.buildFollowUps();
    this.section('sample');
  }

  show() {
    if (this.current === 'scores') this.loadScores();
    if (this.current === 'followups') this.loadFollowUps();
  }

  hide() {}

  section(name) {
    this.current = name;
    for (const [key, node] of Object.entries(this.sections)) node.hidden = key !== name;
    for (const tab of this.nav.children) tab.setAttribute('aria-selected', String(tab.dataset.section === name));
    this.show();
  }

  // ---- Sample and review ------------------------------------------------------------------------------------

  buildSample() {
    const period = periodInputs('qa-sample');
    const size = el('input', { type: 'number', name: 'size', min: '0', max: '100', value: '10', 'data-testid': 'qa-size' });
    const seed = el('input', { type: 'number', name: 'seed', min: '0', placeholder: tr('qa.seed_new'), 'data-testid': 'qa-seed' });
    const form = el('form', { class: 'qa-filters', onsubmit: (ev) => { ev.preventDefault(); this.drawSample(); } },
      el('label', { text: `${tr('qa.closed_from')} ` }, period.since), el('label', { text: `${tr('reports.until')} ` }, period.until),
      el('label', { text: `${tr('qa.random')} ` }, size), el('label', { text: `${tr('qa.seed')} ` }, seed),
      el('button', { type: 'submit', class: 'primary', 'data-testid': 'qa-draw', text: tr('qa.draw') }));
    this.sampleForm = { period, size, seed };
    this.sampleInfo = el('p', { class: 'muted', 'data-testid': 'qa-sample-info' });
    this.sampleRows = el('tbody');
    this.review = el('div', { class: 'qa-review', 'data-testid': 'qa-review', hidden: true });
    const table = el('table', { 'data-testid': 'qa-sample-table' },
      el('thead', {}, el('tr', {}, ...[tr('automation.ticket'), tr('board.agent'), tr('board.why'), tr('qa.handle_time'), tr('qa.rating'), tr('qa.closed')]
        .map((h) => el('th', { text: h })))), this.sampleRows);
    this.sections.sample.append(form, this.sampleInfo,
      el('div', { class: 'qa-split' }, el('div', { class: 'table-wrap' }, table), this.review));
  }

  async drawSample() {
    const { period, size, seed } = this.sampleForm;
    const params = period.params();
    params.set('size', size.value || '0');
    if (seed.value !== '') params.set('seed', seed.value);
    let data;
    try {
      data = await api('GET', `/api/qa/sample?${params}`);
    } catch (e) {
      toast(e.message, 'error');
      return;
    }
    seed.placeholder = String(data.seed);
    this.sampleInfo.textContent = tr('qa.sample_info', { count: data.sample.length, handled: data.handled,
      reviewed: data.reviewed, seed: data.seed });
    this.sampleRows.replaceChildren(...data.sample.map((item) => this.sampleRow(item)));
    if (!data.sample.length) {
      this.sampleRows.append(el('tr', {}, el('td', { colspan: '6', class: 'muted', text: tr('qa.nothing_left') })));
    }
  }

  sampleRow(item) {
    return el('tr', { class: 'clickable', tabindex: '0', 'data-testid': 'qa-sample-row',
      'data-ticket-id': String(item.ticket_id), onclick: () => this.openReview(item.ticket_id),
      onkeydown: (ev) => { if (ev.key === 'Enter') this.openReview(item.ticket_id); } },
    el('td', { text: item.number }),
    el('td', { text: item.agent_name || item.agent_id }),
    el('td', {}, ...item.reasons.map((r) => el('span', { class: `qa-reason ${r}`, 'data-reason': r, text: reasons()[r] || r }))),
    el('td', { text: duration(item.handle_seconds) }),
    el('td', { text: item.lowest_rating != null ? tr('qa.out_of_5', { score: item.lowest_rating }) : '' }),
    el('td', { text: dateTime(item.resolved_at) }));
  }

  async openReview(ticketId) {
    let data;
    try {
      data = await api('GET', `/api/qa/tickets/${ticketId}`);
    } catch (e) {
      toast(e.message, 'error');
      return;
    }
    this.section('sample');
    this.scorecard = data.scorecard;
    const t = data.ticket;
    const transcript = el('div', { class: 'transcript small-transcript', 'data-testid': 'qa-transcript' },
      ...t.messages.map((m) => el('div', { class: `msg ${m.sender}`, 'data-sender': m.sender },
        el('div', { class: 'msg-head' }, el('span', { class: 'who', text: m.agent_name || humanize(m.sender) }),
          el('span', { text: dateTime(m.created_at) })),
        el('div', { class: 'msg-text', text: m.text }))));
    const others = data.reviews.filter((r) => !data.mine || r.id !== data.mine.id);
    this.review.replaceChildren(
      el('div', { class: 'detail-head' },
        el('h2', { text: `${t.number} · ${t.assignee_name || tr('qa.nobody')}` }),
        el('button', { type: 'button', class: 'link', 'data-testid': 'qa-open-ticket', text: tr('qa.open_ticket'),
          onclick: () => document.dispatchEvent(new CustomEvent('open-ticket', { detail: t.id })) })),
      el('p', { class: 'summary', text: t.summary }),
      el('h3', { text: tr('tickets.transcript') }), transcript,
      el('h3', { text: tr('qa.scorecard', { version: data.scorecard.version }) }), this.scoreForm(t.id, data.mine),
      others.length ? el('h3', { text: tr('qa.other_reviews') }) : null,
      ...others.map((r) => el('p', { class: 'qa-other', 'data-testid': 'qa-other-review',
        text: `${r.reviewer_name}: ${percent(r.total)}${r.notes ? ` · ${r.notes}` : ''}` })));
    this.review.hidden = false;
  }

  scoreForm(ticketId, mine) {
    const given = new Map((mine ? mine.scores : []).map((s) => [s.criterion, s]));
    const rows = this.scorecard.criteria.map((c) => {
      const select = el('select', { name: c.key, 'data-testid': `qa-score-${c.key}`, required: true },
        el('option', { value: '', text: '—' }));
      if (c.scale === 'yes/no') {
        select.append(el('option', { value: '1', text: tr('common.yes') }), el('option', { value: '0', text: tr('common.no') }));
      } else {
        for (let v = c.low; v <= c.high; v += 1) select.append(el('option', { value: String(v), text: String(v) }));
      }
      if (c.na) select.append(el('option', { value: 'na', text: tr('qa.na') }));
      const before = given.get(c.key);
      if (before) select.value = before.score == null ? 'na' : String(before.score);
      const comment = el('input', { type: 'text', name: `${c.key}-comment`, maxlength: '2000', placeholder: tr('qa.comment'),
        'data-testid': `qa-comment-${c.key}`, value: before ? before.comment : '' });
      return el('div', { class: 'qa-criterion' },
        el('label', {}, el('strong', { text: c.name }), c.critical ? el('span', { class: 'qa-critical', text: ` ${tr('qa.critical')}` }) : null,
          el('span', { class: 'muted', text: ` ${tr('qa.criterion', { description: c.description, weight: c.weight, scale: c.scale })}` })),
        select, comment);
    });
    const notes = el('textarea', { name: 'overall-notes', rows: '3', maxlength: '5000', placeholder: tr('qa.overall_notes'),
      'data-testid': 'qa-notes' });
    notes.value = mine ? mine.notes : '';
    const total = el('p', { class: 'qa-total', 'data-testid': 'qa-total',
      text: mine ? tr('qa.your_score', { score: percent(mine.total) }) : '' });
    const form = el('form', { class: 'qa-form', 'data-testid': 'qa-form' }, ...rows, notes,
      el('button', { type: 'submit', class: 'primary', 'data-testid': 'qa-save', text: mine ? tr('qa.update_review') : tr('qa.save_review') }),
      total);
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const scores = this.scorecard.criteria.map((c) => {
        const value = form.elements[c.key].value;
        return { criterion: c.key, score: value === 'na' ? null : Number(value),
          comment: form.querySelector(`[data-testid="qa-comment-${c.key}"]`).value };
      });
      try {
        const saved = await api('PUT', `/api/qa/tickets/${ticketId}/review`, { scores, notes: notes.value });
        const failed = saved.critical_failed.length ? tr('qa.critical_failed', { criteria: saved.critical_failed.join(', ') }) : '';
        total.textContent = tr('qa.your_score', { score: percent(saved.total) }) + failed;
        toast(tr('qa.saved'));
      } catch (e) {
        toast(e.message, 'error');
      }
    });
    return form;
  }

  // ---- Scores by agent --------------------------------------------------------------------------------------

  buildScores() {
    const period = periodInputs('qa-scores');
    this.scoresPeriod = period;
    this.scoresTable = el('table', { 'data-testid': 'qa-scores-table' });
    this.sections.scores.append(
      el('form', { class: 'qa-filters', onsubmit: (ev) => { ev.preventDefault(); this.loadScores(); } },
        el('label', { text: `${tr('qa.closed_from')} ` }, period.since), el('label', { text: `${tr('reports.until')} ` }, period.until),
        el('button', { type: 'submit', 'data-testid': 'qa-scores-load', text: tr('automation.show') })),
      el('div', { class: 'table-wrap' }, this.scoresTable));
  }

  async loadScores() {
    let data;
    try {
      data = await api('GET', `/api/qa/scores?${this.scoresPeriod.params()}`);
    } catch (e) {
      toast(e.message, 'error');
      return;
    }
    const head = el('tr', {}, ...[tr('board.agent'), tr('qa.reviews'), tr('qa.average'), '', tr('qa.critical_fails'), ...data.criteria.map((c) => c.name)]
      .map((h) => el('th', { text: h })));
    const row = (r, testid) => el('tr', { 'data-testid': testid, 'data-agent-id': r.agent_id || '' },
      el('td', { text: r.agent_name || r.agent_id || tr('qa.team') }), el('td', { class: 'qa-reviews', text: String(r.reviews) }),
      el('td', { class: 'qa-average', text: percent(r.average) }), el('td', {}, meter(r.average)),
      el('td', { text: r.critical_failures != null ? String(r.critical_failures) : '' }),
      ...data.criteria.map((c) => el('td', { text: percent(r.criteria[c.key]) })));
    const body = el('tbody', {}, ...data.agents.map((r) => row(r, 'qa-score-row')));
    if (!data.agents.length) body.append(el('tr', {}, el('td', { colspan: '5', class: 'muted', text: tr('qa.no_reviews') })));
    else body.append(row({ agent_name: tr('qa.team'), ...data.team }, 'qa-team-row'));
    this.scoresTable.replaceChildren(el('thead', {}, head), body);
  }

  // ---- Follow-ups -------------------------------------------------------------------------------------------

  buildFollowUps() {
    const status = el('select', { name: 'status', 'data-testid': 'qa-followups-status' },
      el('option', { value: 'open', text: tr('qa.status.open') }), el('option', { value: 'done', text: tr('qa.status.done') }),
      el('option', { value: '', text: tr('qa.status.all') }));
    const mine = el('input', { type: 'checkbox', name: 'mine', 'data-testid': 'qa-followups-mine' });
    this.followFilters = { status, mine };
    this.followRows = el('tbody');
    this.followDetail = el('div', { class: 'qa-review', 'data-testid': 'qa-followup', hidden: true });
    const table = el('table', { 'data-testid': 'qa-followups-table' },
      el('thead', {}, el('tr', {}, ...[tr('qa.opened'), tr('board.why'), tr('qa.verdict'), tr('qa.comment'), tr('board.agent'), tr('tickets.assignee'),
        tr('tickets.status')]
        .map((h) => el('th', { text: h })))), this.followRows);
    this.sections.followups.append(
      el('form', { class: 'qa-filters', onchange: () => this.loadFollowUps(),
        onsubmit: (ev) => { ev.preventDefault(); this.loadFollowUps(); } },
      el('label', { text: `${tr('tickets.status')} ` }, status), el('label', {}, mine, ` ${tr('qa.assigned_to_me')}`)),
      el('div', { class: 'qa-split' }, el('div', { class: 'table-wrap' }, table), this.followDetail));
  }

  async loadFollowUps() {
    const params = new URLSearchParams();
    if (this.followFilters.status.value) params.set('status', this.followFilters.status.value);
    if (this.followFilters.mine.checked) params.set('assignee', 'me');
    let data;
    try {
      data = await api('GET', `/api/followups?${params}`);
    } catch (e) {
      toast(e.message, 'error');
      return;
    }
    this.followRows.replaceChildren(...data.follow_ups.map((f) => el('tr', {
      class: 'clickable', tabindex: '0', 'data-testid': 'qa-followup-row', 'data-follow-up-id': String(f.id),
      onclick: () => this.openFollowUp(f.id), onkeydown: (ev) => { if (ev.key === 'Enter') this.openFollowUp(f.id); } },
    el('td', { text: dateTime(f.created_at) }), el('td', { text: humanize(f.reason) }),
    el('td', { text: this.verdict(f.feedback) }),
    el('td', { class: 'clamp1 summary-cell', text: f.feedback.comment || '' }),
    el('td', { text: f.feedback.agent_name || '' }), el('td', { text: f.assignee_name || '' }),
    el('td', { class: 'qa-status', text: humanize(f.status) }))));
    if (!data.follow_ups.length) {
      this.followRows.append(el('tr', {}, el('td', { colspan: '7', class: 'muted', text: tr('qa.no_followups') })));
    }
  }

  verdict(feedback) {
    return feedback.kind === 'csat' ? tr('qa.rated', { score: feedback.score })
      : (feedback.score ? tr('qa.helpful') : tr('qa.not_helpful'));
  }

  async act(id, method, path, body) {
    try {
      this.drawFollowUp(await api(method, `/api/followups/${id}${path}`, body));
      this.loadFollowUps();
    } catch (e) {
      toast(e.message, 'error');
    }
  }

  async openFollowUp(id) {
    try {
      this.drawFollowUp(await api('GET', `/api/followups/${id}`));
    } catch (e) {
      toast(e.message, 'error');
    }
  }

  drawFollowUp(f) {
    const note = el('textarea', { rows: '2', maxlength: '5000', placeholder: tr('qa.note'), 'data-testid': 'qa-followup-note' });
    const open = f.status === 'open';
    this.followDetail.replaceChildren(
      el('div', { class: 'detail-head' }, el('h2', { text: tr('qa.followup', { id: f.id, status: humanize(f.status) }) })),
      el('p', { 'data-testid': 'qa-followup-verdict', text: `${this.verdict(f.feedback)} · ${humanize(f.feedback.path || '')}` }),
      el('blockquote', { class: 'qa-comment', 'data-testid': 'qa-followup-comment', text: f.feedback.comment || tr('qa.no_comment') }),
      el('p', { text: tr('qa.agent_ticket', { agent: f.feedback.agent_name || '—', ticket: f.ticket_number || '—' }) }),
      el('div', { class: 'qa-actions' },
        f.ticket_id ? el('button', { type: 'button', 'data-testid': 'qa-followup-review', text: tr('qa.review_conversation'),
          onclick: () => this.openReview(f.ticket_id) }) : null,
        f.ticket_id ? el('button', { type: 'button', class: 'link', text: tr('qa.open_ticket'),
          onclick: () => document.dispatchEvent(new CustomEvent('open-ticket', { detail: f.ticket_id })) }) : null),
      el('p', { 'data-testid': 'qa-followup-assignee', text: tr('qa.assigned_to', { name: f.assignee_name || tr('qa.nobody') }) }),
      el('button', { type: 'button', 'data-testid': 'qa-followup-assign', text: tr('qa.assign_to_me'),
        disabled: f.assignee_id === this.app.me.id, onclick: () => this.act(f.id, 'POST', '/assign', { agent_id: this.app.me.id }) }),
      el('h3', { text: tr('tickets.notes') }),
      el('ul', { class: 'history', 'data-testid': 'qa-followup-notes' },
        ...f.notes.map((n) => el('li', { text: `${n.author_name} (${dateTime(n.created_at)}): ${n.text}` }))),
      note,
      el('div', { class: 'qa-actions' },
        el('button', { type: 'button', 'data-testid': 'qa-followup-add-note', text: tr('conv.add_note'),
          onclick: () => { if (note.value.trim()) this.act(f.id, 'POST', '/notes', { text: note.value }); } }),
        open ? el('button', { type: 'button', class: 'primary', 'data-testid': 'qa-followup-close', text: tr('common.close'),
          onclick: () => this.act(f.id, 'POST', '/close', { note: note.value.trim() || null }) })
          : el('button', { type: 'button', 'data-testid': 'qa-followup-reopen', text: tr('qa.reopen'),
            onclick: () => this.act(f.id, 'POST', '/reopen') })));
    this.followDetail.hidden = false;
  }
}
