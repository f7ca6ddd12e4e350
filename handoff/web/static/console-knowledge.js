/* The trainers' workbench: Knowledge (docs/training.md, "Knowledge"). Three panes:
 * - Gaps: customer questions the knowledge base failed (handed off with no answer, answered and voted not
 *   helpful, handed off right after an answer), grouped by meaning, with a draft article made of the agents'
 *   replies: "Write article" opens it in the editor; "Dismiss" drops the gap.
 * - Articles: each article's answers, helpful rate, hand-offs right after its answers, dates, staleness and
 *   near-duplicates (merge keeps one, retires the other); "Edit" opens it, "Retire" removes it.
 * - Editor: title, id, category, questions, body, tags, review-by date; "Publish" writes it and the running bot
 *   answers with it within seconds.
 * Customers' and agents' words are shown as text only (textContent, input values), never as HTML. */
import { el, api, toast, humanize, dateTime } from './console-lib.js';
import { t } from './i18n.js';

/** Why a question is a gap, in words (another reason made readable). */
const reasons = () => ({
  no_answer: t('knowledge.reason.no_answer'),
  not_helpful: t('knowledge.reason.not_helpful'),
  handed_off_after_answer: t('knowledge.reason.handed_off_after_answer'),
});
/** Why an article is stale, in words. */
const staleness = () => ({ review_by: t('knowledge.stale.review_by'), not_updated: t('knowledge.stale.not_updated') });
const lines = (text) => text.split('\n').map((l) => l.trim()).filter(Boolean);
const rate = (x) => (x == null ? '–' : `${Math.round(x * 100)}%`);

export default class KnowledgeView {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.pane = 'gaps';
    this.gaps = [];
    this.review = null;
    this.editing = null; // { id, new, gapIds }
    const tab = (name, label) => el('button', { type: 'button', role: 'tab', class: 'small',
      'data-testid': `knowledge-pane-${name}`, onclick: () => this.showPane(name) }, label);
    this.paneTabs = { gaps: tab('gaps', t('knowledge.pane.gaps')), articles: tab('articles', t('knowledge.pane.articles')),
      editor: tab('editor', t('knowledge.pane.editor')) };
    this.gapList = el('div', { class: 'inbox-groups', 'data-testid': 'knowledge-gaps' });
    this.gapEmpty = el('p', { class: 'empty', 'data-testid': 'knowledge-gaps-empty', hidden: true,
      text: t('knowledge.gaps_empty') });
    this.gapInfo = el('span', { class: 'muted', 'data-testid': 'knowledge-gap-info' });
    this.gapsPane = el('section', { 'data-testid': 'knowledge-gaps-pane' },
      el('p', { class: 'muted', text: t('knowledge.gaps_intro') }),
      el('div', { class: 'inbox-toolbar' },
        el('button', { type: 'button', 'data-testid': 'knowledge-refresh', onclick: () => this.loadGaps() },
          t('knowledge.refresh')),
        this.gapInfo),
      this.gapList, this.gapEmpty);

    this.articleRows = el('tbody', { 'data-testid': 'knowledge-articles' });
    this.staleOnly = el('input', { type: 'checkbox', 'data-testid': 'knowledge-stale-only',
      onchange: () => this.renderArticles() });
    this.duplicates = el('ul', { class: 'knowledge-duplicates', 'data-testid': 'knowledge-duplicates' });
    this.articleInfo = el('span', { class: 'muted', 'data-testid': 'knowledge-article-info' });
    this.articlesPane = el('section', { 'data-testid': 'knowledge-articles-pane', hidden: true },
      el('div', { class: 'inbox-toolbar' },
        el('button', { type: 'button', class: 'primary', 'data-testid': 'knowledge-new',
          onclick: () => this.edit(null) }, t('knowledge.new_article')),
        el('label', {}, this.staleOnly, ' ', t('knowledge.stale_only')),
        el('button', { type: 'button', onclick: () => this.loadArticles() }, t('knowledge.refresh')),
        this.articleInfo),
      el('table', { class: 'table knowledge-table' },
        el('thead', {}, el('tr', {}, ...[t('knowledge.col.article'), t('knowledge.col.category'),
          t('knowledge.col.answers'), t('knowledge.col.helpful'), t('knowledge.col.handoffs_after'),
          t('knowledge.col.updated'), t('knowledge.col.review_by'), t('knowledge.col.stale'),
          t('knowledge.col.duplicates'), ''].map((h) => el('th', { text: h })))),
        this.articleRows),
      el('h3', { text: t('knowledge.duplicates') }),
      el('p', { class: 'muted', text: t('knowledge.merge_intro') }),
      this.duplicates);

    const field = (label, input) => el('label', { class: 'knowledge-field' }, el('span', { text: label }), input);
    this.form = {
      title: el('input', { type: 'text', maxlength: '200', 'data-testid': 'knowledge-title', required: true }),
      id: el('input', { type: 'text', maxlength: '80', pattern: '[a-z0-9][a-z0-9-]{2,79}', 'data-testid': 'knowledge-id' }),
      category: el('input', { type: 'text', maxlength: '32', list: 'knowledge-categories', 'data-testid': 'knowledge-category' }),
      questions: el('textarea', { rows: '4', 'data-testid': 'knowledge-questions' }),
      body: el('textarea', { rows: '10', maxlength: '20000', 'data-testid': 'knowledge-body' }),
      tags: el('input', { type: 'text', 'data-testid': 'knowledge-tags', placeholder: t('knowledge.tags_placeholder') }),
      review_by: el('input', { type: 'date', 'data-testid': 'knowledge-review-by' }),
    };
    this.categoryList = el('datalist', { id: 'knowledge-categories' });
    this.editorTitle = el('h3', { 'data-testid': 'knowledge-editor-title', text: t('knowledge.new_article') });
    this.editorNote = el('p', { class: 'muted', 'data-testid': 'knowledge-editor-note' });
    this.editorPane = el('section', { 'data-testid': 'knowledge-editor', hidden: true },
      this.editorTitle, this.editorNote,
      el('div', { class: 'knowledge-form' },
        field(t('knowledge.field.title'), this.form.title), field(t('knowledge.field.id'), this.form.id),
        field(t('knowledge.field.category'), this.form.category), this.categoryList,
        field(t('knowledge.field.questions'), this.form.questions),
        field(t('knowledge.field.body'), this.form.body),
        field(t('knowledge.field.tags'), this.form.tags), field(t('knowledge.field.review_by'), this.form.review_by)),
      el('div', { class: 'item-row' },
        el('button', { type: 'button', class: 'primary', 'data-testid': 'knowledge-publish',
          onclick: () => this.publish() }, t('knowledge.publish')),
        el('button', { type: 'button', class: 'ghost', onclick: () => this.showPane('articles') },
          t('knowledge.cancel'))));

    root.append(el('section', { class: 'inbox knowledge' },
      el('h2', { text: t('tab.knowledge') }),
      el('div', { class: 'inbox-toolbar', role: 'tablist' }, ...Object.values(this.paneTabs)),
      this.gapsPane, this.articlesPane, this.editorPane));
  }

  show() { this.showPane(this.pane); }

  hide() {}

  showPane(name) {
    this.pane = name;
    for (const [key, button] of Object.entries(this.paneTabs)) button.setAttribute('aria-selected', String(key === name));
    this.gapsPane.hidden = name !== 'gaps';
    this.articlesPane.hidden = name !== 'articles';
    this.editorPane.hidden = name !== 'editor';
    if (name === 'gaps') this.loadGaps();
    if (name === 'articles') this.loadArticles();
    if (name === 'editor' && !this.editing) this.edit(null);
  }

  // ---- gaps ----------------------------------------------------------------------------------------------

  async loadGaps() {
    try {
      const data = await api('GET', '/api/knowledge/gaps');
      this.gaps = data.gaps || [];
      this.gapInfo.textContent = t('knowledge.gap_info', { count: data.days, grouping: data.grouping === 'text'
        ? t('knowledge.grouped_text') : t('knowledge.grouped_meaning') });
      this.gapList.replaceChildren(...this.gaps.map((g) => this.renderGap(g)));
      this.gapEmpty.hidden = this.gaps.length > 0;
    } catch (e) { toast(e.message, 'error'); }
  }

  renderGap(gap) {
    const ids = gap.questions.map((q) => q.message_id);
    return el('article', { class: 'inbox-group', 'data-testid': 'knowledge-gap', 'data-gap-id': String(gap.id) },
      el('div', { class: 'item-row' },
        el('q', { class: 'inbox-text', 'data-testid': 'knowledge-gap-text', text: gap.text }),
        el('span', { class: 'badge', text: `×${gap.size}` })),
      el('div', { class: 'item-row' },
        ...Object.entries(gap.reasons).map(([code, n]) => el('span', { class: 'badge reason', 'data-reason': code,
          text: `${reasons()[code] || humanize(code)}${n > 1 ? ` ×${n}` : ''}` })),
        ...gap.articles.map((a) => el('span', { class: 'badge hint',
          text: t('knowledge.failed_article', { article: a.article_id }) })),
        el('span', { class: 'muted', text: gap.replies ? t('knowledge.replies', { count: gap.replies })
          : t('knowledge.no_reply') })),
      gap.draft.body ? el('blockquote', { class: 'knowledge-draft', 'data-testid': 'knowledge-gap-draft',
        text: gap.draft.body }) : null,
      el('div', { class: 'item-row inbox-actions' },
        el('button', { type: 'button', class: 'small primary', 'data-testid': 'knowledge-gap-write',
          onclick: () => this.editDraft(gap) }, t('knowledge.write_article')),
        el('button', { type: 'button', class: 'small ghost', 'data-testid': 'knowledge-gap-dismiss',
          onclick: () => this.dismiss(ids) }, t('knowledge.dismiss'))),
      el('details', { class: 'inbox-items' },
        el('summary', { text: t('knowledge.questions', { count: gap.size }) }),
        el('ul', {}, ...gap.questions.map((q) => el('li', {},
          el('span', { class: 'inbox-item-text', text: q.text }),
          el('span', { class: 'muted', text: ` ${dateTime(q.at)}` }))))));
  }

  async dismiss(ids) {
    try {
      const result = await api('POST', '/api/knowledge/gaps/dismiss', { message_ids: ids });
      toast(t('knowledge.dismissed', { count: result.dismissed }));
      await this.loadGaps();
    } catch (e) { toast(e.message, 'error'); }
  }

  editDraft(gap) {
    this.fill({ ...gap.draft }, { new: true, gapIds: gap.questions.map((q) => q.message_id),
      note: t('knowledge.draft_note', { count: gap.size }) });
  }

  // ---- articles ------------------------------------------------------------------------------------------

  async loadArticles() {
    try {
      this.review = await api('GET', '/api/knowledge/articles');
      this.categoryList.replaceChildren(...(this.review.categories || []).map((c) => el('option', { value: c })));
      this.articleInfo.textContent = t('knowledge.article_info', { count: this.review.articles.length,
        generation: this.review.generation, days: this.review.days, stale_days: this.review.stale_days });
      this.renderArticles();
    } catch (e) { toast(e.message, 'error'); }
  }

  renderArticles() {
    if (!this.review) return;
    const rows = this.review.articles.filter((a) => !this.staleOnly.checked || a.stale);
    this.articleRows.replaceChildren(...rows.map((a) => el('tr', { 'data-testid': 'knowledge-article',
      'data-article-id': a.id },
    el('td', {}, el('strong', { text: a.title }), el('div', { class: 'muted', text: a.id })),
    el('td', { text: a.category }),
    el('td', { 'data-testid': 'knowledge-answers', text: String(a.answers) }),
    el('td', { text: a.votes ? t('knowledge.helpful_of', { rate: rate(a.helpful_rate), votes: a.votes }) : '–' }),
    el('td', { text: String(a.handoffs_after) }),
    el('td', { text: a.updated || '–' }),
    el('td', { text: a.review_by || '–' }),
    el('td', { 'data-testid': 'knowledge-stale', text: a.stale ? staleness()[a.stale] || humanize(a.stale) : '' }),
    el('td', { text: a.duplicates.join(', ') }),
    el('td', {},
      el('button', { type: 'button', class: 'small', 'data-testid': 'knowledge-edit', onclick: () => this.edit(a.id) },
        t('knowledge.edit')),
      el('button', { type: 'button', class: 'small ghost', 'data-testid': 'knowledge-retire',
        onclick: () => this.retire(a.id) }, t('knowledge.retire'))))));
    this.duplicates.replaceChildren(...this.review.duplicates.map((p) => el('li', { 'data-testid': 'knowledge-pair' },
      el('span', { text: `${p.first} ~ ${p.second} (${p.similarity.toFixed(2)}) ` }),
      el('button', { type: 'button', class: 'small', onclick: () => this.merge(p.first, p.second) },
        t('knowledge.keep', { id: p.first })),
      el('button', { type: 'button', class: 'small', onclick: () => this.merge(p.second, p.first) },
        t('knowledge.keep', { id: p.second })))));
    if (!this.review.duplicates.length) this.duplicates.replaceChildren(el('li', { class: 'muted', text: t('knowledge.no_duplicates') }));
  }

  async edit(id) {
    if (id == null) { this.fill({}, { new: true, gapIds: [] }); return; }
    try {
      const article = await api('GET', `/api/knowledge/articles/${encodeURIComponent(id)}`);
      this.fill(article, { new: false, gapIds: [], note: t('knowledge.version_note', { version: article.version, updated: article.updated || '–' }) });
    } catch (e) { toast(e.message, 'error'); }
  }

  async retire(id) {
    if (!window.confirm(t('knowledge.confirm_retire', { id }))) return;
    try {
      const result = await api('DELETE', `/api/knowledge/articles/${encodeURIComponent(id)}`);
      toast(t('knowledge.retired', { id, generation: result.generation }));
      await this.loadArticles();
    } catch (e) { toast(e.message, 'error'); }
  }

  async merge(keep, retire) {
    if (!window.confirm(t('knowledge.confirm_merge', { keep, retire }))) return;
    try {
      const result = await api('POST', '/api/knowledge/merges', { keep, retire });
      toast(t('knowledge.merged', { retired: result.retired, kept: result.kept, version: result.version }));
      await this.loadArticles();
    } catch (e) { toast(e.message, 'error'); }
  }

  // ---- the editor ----------------------------------------------------------------------------------------

  fill(article, editing) {
    this.editing = editing;
    this.form.title.value = article.title || '';
    this.form.id.value = article.id || '';
    this.form.id.readOnly = !editing.new;
    this.form.category.value = article.category || '';
    this.form.questions.value = (article.questions || []).join('\n');
    this.form.body.value = article.body || '';
    this.form.tags.value = (article.tags || []).join(', ');
    this.form.review_by.value = article.review_by || '';
    this.editorTitle.textContent = editing.new ? t('knowledge.new_article') : t('knowledge.edit_title', { id: article.id });
    this.editorNote.textContent = editing.note || '';
    if (!this.review) this.loadArticles();
    this.showPane('editor');
    this.form.title.focus();
  }

  async publish() {
    const f = this.form;
    const body = {
      title: f.title.value.trim(), category: f.category.value.trim(), body: f.body.value,
      questions: lines(f.questions.value), tags: f.tags.value.split(',').map((s) => s.trim()).filter(Boolean),
      review_by: f.review_by.value || null, gap_ids: this.editing.gapIds,
    };
    try {
      const result = this.editing.new
        ? await api('POST', '/api/knowledge/articles', { ...body, id: f.id.value.trim() })
        : await api('PUT', `/api/knowledge/articles/${encodeURIComponent(f.id.value)}`, body);
      toast(t('knowledge.published', { id: result.article.id, version: result.version,
        generation: result.generation }));
      this.editing = null;
      this.review = null;
      this.showPane(body.gap_ids.length ? 'gaps' : 'articles');
    } catch (e) { toast(e.message, 'error'); }
  }
}
