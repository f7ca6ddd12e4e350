/* The supervisors' Alerts view: the alerts firing now (severity, since, value against threshold), the rules of
 * HANDOFF_ALERTS with their phase, and the history of notices with each delivery's outcome (docs/alerts.md).
 * Refreshes every few seconds while shown. watchAlertBadge() keeps a count of firing alerts on the Alerts tab. */

import { $, api, dateTime, duration, el, toMillis } from './console-lib.js';
import { localeTag, number, t } from './i18n.js';

const REFRESH_MS = 5000;
const BADGE_MS = 30000;

/** A metric's value in its unit: seconds as a duration, shares as percentages, ratings to two decimals. */
function shown(value, unit) {
  if (value == null) return '–';
  if (unit === 'seconds') return duration(value);
  if (unit === 'share') return number(value, { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 });
  if (unit === 'rating') return value.toFixed(2);
  return String(Math.round(value * 100) / 100);
}

function since(value) {
  const ms = toMillis(value);
  return ms == null ? '' : t('alerts.ago', { time: duration((Date.now() - ms) / 1000) });
}

const phaseName = (phase) => ({ ok: t('alerts.phase.ok'), pending: t('alerts.phase.pending'),
  firing: t('alerts.phase.firing') }[phase] || phase);

const severityBadge = (severity) => el('span', { class: `badge alert-${severity}`, text: severity });

function table(headers, rows, empty, testid) {
  if (!rows.length) return el('p', { class: 'muted', text: empty, 'data-testid': testid });
  return el('table', { class: 'alerts-table', 'data-testid': testid },
    el('thead', {}, el('tr', {}, ...headers.map((h) => el('th', { scope: 'col', text: h })))),
    el('tbody', {}, ...rows));
}

export default class AlertsView {
  constructor(app, root) {
    this.app = app;
    this.root = root;
    this.timer = null;
    this.units = {};
    this.status = el('p', { class: 'muted alerts-status', 'aria-live': 'polite' });
    this.active = el('section', { class: 'alerts-active', 'aria-labelledby': 'alerts-active-h' });
    this.rules = el('section', { class: 'alerts-rules', 'aria-labelledby': 'alerts-rules-h' });
    this.history = el('section', { class: 'alerts-history', 'aria-labelledby': 'alerts-history-h' });
    root.replaceChildren(el('div', { class: 'alerts-page' }, el('h2', { text: t('tab.alerts') }), this.status,
      this.active, this.rules, this.history));
  }

  show() {
    this.refresh();
    clearInterval(this.timer);
    this.timer = setInterval(() => this.refresh(), REFRESH_MS);
  }

  hide() {
    clearInterval(this.timer);
    this.timer = null;
  }

  async refresh() {
    try {
      const [rules, alerts] = await Promise.all([api('GET', '/api/alerts/rules'), api('GET', '/api/alerts')]);
      for (const [name, metric] of Object.entries(rules.metrics)) this.units[name] = metric.unit;
      this.renderActive(alerts.active);
      this.renderRules(rules.rules);
      this.renderHistory(alerts.recent);
      setBadge(alerts.active.length);
      this.status.textContent = t('alerts.updated', { time: new Date().toLocaleTimeString(localeTag()),
        interval: duration(alerts.interval_seconds) });
    } catch (e) {
      this.status.textContent = t('alerts.failed', { error: e.message });
    }
  }

  renderActive(active) {
    const rows = active.map((a) => el('tr', { 'data-testid': 'alert-active', dataset: { rule: a.rule } },
      el('td', {}, severityBadge(a.severity)),
      el('td', { class: 'alert-rule', text: a.rule }),
      el('td', { title: dateTime(a.fired_at), text: since(a.fired_at) }),
      el('td', { class: 'alert-value',
        text: `${shown(a.last_value, this.units[a.metric])} (${a.comparison} ${shown(a.threshold, this.units[a.metric])})` }),
      el('td', { text: since(a.notified_at) })));
    this.active.replaceChildren(el('h3', { id: 'alerts-active-h', text: t('alerts.firing_now', { count: active.length }) }),
      table([t('alerts.severity'), t('alerts.rule'), t('alerts.since'), t('alerts.value_threshold'), t('alerts.last_notice')],
        rows, t('alerts.nothing_firing'), 'alerts-active'));
  }

  renderRules(rules) {
    const rows = rules.map((r) => {
      const limit = `${r.comparison} ${shown(r.threshold, r.unit)}${r.target ? t('alerts.target', { target: r.target }) : ''}`;
      const over = r.window_seconds != null ? t('alerts.last_window', { time: duration(r.window_seconds) })
        : r.sample != null ? t('alerts.last_ratings', { count: r.sample }) : t('alerts.now');
      const channels = [r.channels.webhooks ? t('alerts.webhooks', { count: r.channels.webhooks }) : null,
        ...r.channels.emails].filter(Boolean).join(', ') || t('alerts.console_only');
      return el('tr', { 'data-testid': 'alert-rule', dataset: { phase: r.phase } },
        el('td', {}, el('span', { class: 'alert-rule', text: r.name }),
          r.description ? el('div', { class: 'muted', text: r.description }) : null),
        el('td', { text: `${r.metric} ${limit}` }),
        el('td', { text: over }),
        el('td', { text: r.for_seconds ? duration(r.for_seconds) : t('alerts.at_once') }),
        el('td', { text: r.repeat_seconds ? t('alerts.every', { time: duration(r.repeat_seconds) }) : t('alerts.never') }),
        el('td', {}, severityBadge(r.severity)),
        el('td', { class: `alert-phase phase-${r.phase}`, text: `${phaseName(r.phase)} · ${shown(r.value, r.unit)}` }),
        el('td', { text: channels }));
    });
    this.rules.replaceChildren(el('h3', { id: 'alerts-rules-h', text: t('alerts.rules') }),
      table([t('alerts.rule'), t('alerts.condition'), t('alerts.over'), t('alerts.for'), t('alerts.reminder'),
        t('alerts.severity'), t('alerts.now_col'), t('alerts.channels')], rows, t('alerts.no_rules'), 'alerts-rules'));
  }

  renderHistory(recent) {
    const rows = recent.map((a) => {
      const deliveries = a.events.flatMap((e) => e.deliveries.map((d) => ({ ...d, kind: e.kind })));
      const failed = deliveries.filter((d) => d.outcome !== 'delivered').length;
      const details = deliveries.length ? el('details', {},
        el('summary', { text: t('alerts.delivered_summary', { delivered: deliveries.length - failed, failed }) }),
        el('ul', {}, ...deliveries.map((d) => el('li', { class: d.outcome === 'delivered' ? '' : 'alert-failed',
          text: t('alerts.delivery', { kind: d.kind, channel: d.channel, recipient: d.recipient, outcome: d.outcome,
            count: d.attempts }) + (d.error ? ` (${d.error})` : '') })))) : el('span', { class: 'muted', text: t('alerts.console_only') });
      const unit = this.units[a.metric];
      return el('tr', { 'data-testid': 'alert-history' },
        el('td', { text: dateTime(a.fired_at) }),
        el('td', {}, severityBadge(a.severity)),
        el('td', { class: 'alert-rule', text: a.rule }),
        el('td', { text: `${shown(a.value, unit)} ${a.comparison} ${shown(a.threshold, unit)}` }),
        el('td', { text: a.resolved_at ? t('alerts.resolved_after', { time: duration((toMillis(a.resolved_at) - toMillis(a.fired_at)) / 1000) })
          : t('alerts.phase.firing') }),
        el('td', { text: a.events.map((e) => e.kind).join(', ') }),
        el('td', {}, details));
    });
    this.history.replaceChildren(el('h3', { id: 'alerts-history-h', text: t('alerts.history') }),
      table([t('alerts.fired'), t('alerts.severity'), t('alerts.rule'), t('alerts.value'), t('alerts.outcome'),
        t('alerts.notices'), t('alerts.deliveries')], rows, t('alerts.no_history'), 'alerts-history'));
  }
}

/** The count of firing alerts on the Alerts tab (hidden at zero). */
function setBadge(count) {
  const tab = $('#alerts-tab');
  if (!tab) return;
  let badge = $('.alerts-badge', tab);
  if (!badge) { badge = el('span', { class: 'badge alerts-badge', 'data-testid': 'alerts-badge' }); tab.append(badge); }
  badge.textContent = String(count);
  badge.hidden = count === 0;
  tab.setAttribute('aria-label', count ? t('alerts.tab_firing', { count }) : t('tab.alerts'));
}

let watching = null;

/** Poll the rules' phases (a light call) and keep the tab's badge; once per page. */
export function watchAlertBadge() {
  if (watching) return;
  const poll = async () => {
    try {
      const { rules } = await api('GET', '/api/alerts/rules');
      setBadge(rules.filter((r) => r.phase === 'firing').length);
    } catch (e) { /* signed out or not a supervisor any more: the tab is hidden anyway */ }
  };
  poll();
  watching = setInterval(poll, BADGE_MS);
}
