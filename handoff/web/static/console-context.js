/* The context panel: why the bot handed off, its summary and intents, the customer, suggestions. */
import { $, el, api, humanize, figures, dateTime } from './console-lib.js';
import { number, t } from './i18n.js';

const pct = (x) => (typeof x === 'number' ? number(x, { style: 'percent' }) : '');

/** Fill the right-hand panel from a conversation detail (GET /api/agent/conversations/{id}). */
export function renderContext(detail, summary) {
  const handoff = detail.handoff || (detail.ticket && detail.ticket.request) || {};
  renderReasons(handoff.reasons, summary.reasons);
  $('#bot-summary').textContent = handoff.summary || (detail.ticket && detail.ticket.summary) || t('ctx.no_summary');
  renderIntents(handoff.intents || [], handoff.sentiment);
  renderProfile(detail.customer || summary.customer || {}, handoff.slots);
  renderIdentities(detail.identities);
  renderPastTickets(detail.past_tickets);
}

const VERIFIED = () => ({ shop_signed: t('ctx.verified.shop_signed'), email_verified: t('ctx.verified.email_verified'),
  im_linked: t('ctx.verified.im_linked') });
const CHANNEL_NAMES = () => ({ email: t('conv.channel.email'), web: t('conv.channel.web'), xmpp: t('conv.channel.xmpp'),
  telegram: t('conv.channel.telegram') });

/** The customer's linked channel identities (read only: an admin unlinks), each with how it was verified. */
function renderIdentities(identities) {
  const list = $('#identities');
  if (!list) return;
  list.replaceChildren();
  const items = Array.isArray(identities) ? identities : [];
  if (!items.length) { list.append(el('li', { class: 'muted', text: t('ctx.none_linked') })); return; }
  for (const i of items) {
    list.append(el('li', { 'data-testid': 'identity', 'data-channel': i.channel || '' },
      el('strong', { text: CHANNEL_NAMES()[i.channel] || humanize(i.channel || '') }), ' ',
      el('span', { text: i.address || '' }),
      el('div', { class: 'muted', text: `${VERIFIED()[i.verified_by] || humanize(i.verified_by || '')} · ${dateTime(i.verified_at)}` })));
  }
}

function renderReasons(reasons, codes) {
  const list = $('#reasons');
  list.replaceChildren();
  const items = Array.isArray(reasons) && reasons.length ? reasons
    : (codes || []).map((code) => (typeof code === 'string' ? { code } : code));
  if (!items.length) {
    list.append(el('li', { class: 'muted', text: t('ctx.no_reasons') }));
    return;
  }
  for (const r of items) {
    list.append(el('li', { 'data-testid': 'reason', 'data-code': r.code || '' },
      el('strong', { text: humanize(r.code) }),
      r.detail ? el('div', { class: 'muted', text: r.detail }) : null,
      r.figures && Object.keys(r.figures).length ? el('div', { class: 'figures', text: figures(r.figures) }) : null));
  }
}

function renderIntents(intents, sentiment) {
  const list = $('#intents');
  list.replaceChildren();
  for (const i of intents) {
    const bar = el('span', { class: 'bar' }, el('span', { class: 'fill' }));
    bar.firstChild.style.width = pct(i.confidence) || '0%';
    list.append(el('li', {}, el('span', { class: 'intent-name', text: i.name }), bar,
      el('span', { class: 'num', text: pct(i.confidence) })));
  }
  if (sentiment && typeof sentiment === 'object') {
    list.append(el('li', { class: 'muted', text: typeof sentiment.frustration === 'number'
      ? t('ctx.sentiment_frustration', { label: humanize(sentiment.label || 'unknown'),
        frustration: sentiment.frustration.toFixed(2) })
      : t('ctx.sentiment', { label: humanize(sentiment.label || 'unknown') }) }));
  }
  if (!list.childElementCount) list.append(el('li', { class: 'muted', text: t('ctx.none_recorded') }));
}

function renderProfile(customer, slots) {
  const dl = $('#profile');
  dl.replaceChildren();
  const rows = [
    [t('ctx.name'), customer.name || t('lib.visitor')],
    [t('ctx.value_tier'), humanize(customer.value_tier || 'standard'), customer.value_tier === 'vip'],
    [t('ctx.language'), customer.language],
    [t('ctx.email'), customer.email],
    [t('ctx.lifetime_value'), customer.lifetime_value != null ? number(customer.lifetime_value) : null],
  ];
  for (const [k, v] of Object.entries(slots || {})) if (v != null && v !== '') rows.push([humanize(k), String(v)]);
  for (const [k, v, vip] of rows) {
    if (v == null || v === '') continue;
    const dd = el('dd', { text: v });
    if (vip) dd.className = 'vip';
    dl.append(el('dt', { text: k }), dd);
  }
}

function renderPastTickets(past) {
  const list = $('#past-tickets');
  list.replaceChildren();
  if (typeof past === 'number') {
    list.append(el('li', { class: 'muted', text: past ? t('ctx.earlier_tickets', { count: past }) : t('ctx.none') }));
    return;
  }
  const items = Array.isArray(past) ? past : [];
  if (!items.length) { list.append(el('li', { class: 'muted', text: t('ctx.none') })); return; }
  for (const ticket of items) {
    const label = `#${ticket.number || ticket.id} · ${humanize(ticket.status || '')} · ${dateTime(ticket.created_at)}`;
    const link = el('button', { type: 'button', class: 'link', text: label,
      onclick: () => document.dispatchEvent(new CustomEvent('open-ticket', { detail: ticket.id })) });
    list.append(el('li', {}, link, ticket.summary || ticket.category
      ? el('div', { class: 'muted clamp', text: ticket.summary || humanize(ticket.category) }) : null));
  }
}

/** GET .../suggestions and show them with an "Insert" button; ignores answers for a conversation no longer open. */
export async function loadSuggestions(id, currentId, insert) {
  const list = $('#suggestions');
  let data;
  try {
    data = await api('GET', `/api/agent/conversations/${encodeURIComponent(id)}/suggestions`);
  } catch (e) {
    if (currentId() === id) list.replaceChildren(el('li', { class: 'muted', text: e.message }));
    return;
  }
  if (currentId() !== id) return;
  list.replaceChildren();
  const items = (data && data.suggestions) || [];
  if (!items.length) { list.append(el('li', { class: 'muted', text: t('ctx.no_articles') })); return; }
  for (const s of items) {
    list.append(el('li', { 'data-testid': 'suggestion', 'data-article-id': s.article_id || '' },
      el('div', { class: 'suggestion-head' },
        el('strong', { text: s.title || s.article_id }),
        el('span', { class: 'num', text: typeof s.score === 'number' ? s.score.toFixed(2) : '' })),
      el('div', { class: 'muted clamp', text: s.text || '' }),
      el('button', { type: 'button', class: 'small', 'data-testid': 'suggestion-insert', text: t('ctx.insert'),
        onclick: () => insert(s.text || '') })));
  }
}
