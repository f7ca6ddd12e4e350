/* The console's texts (docs/translations.md): catalogs console.<locale>.json, English filling any gap, `t(key,
 * params)` with {placeholders} and plural forms, `translate(root)` for the page's own markup (data-i18n), and
 * numbers and dates through Intl in the chosen locale. The locale is the agent's choice (the picker, kept in
 * localStorage), else the browser's. */

/** The console's languages: code -> its name in itself (for the picker). A new language adds its catalog. */
export const LOCALES = { en: 'English', zh: '简体中文' };
const TAGS = { en: 'en', zh: 'zh-CN' }; // the BCP 47 tag for lang= and Intl
const KEY = 'handoff-console:locale';

let current = 'en';
let here = {};
let english = {};
let plurals = new Intl.PluralRules('en');

/** The first of `tags` (BCP 47) this console speaks: its base language ("zh-CN" -> "zh"), else English. */
export function pickLocale(tags) {
  for (const tag of tags) {
    const base = String(tag || '').toLowerCase().split(/[-_]/)[0];
    if (base in LOCALES) return base;
  }
  return 'en';
}

function saved() {
  try { return localStorage.getItem(KEY); } catch (e) { return null; }
}

/** The agent's choice, else the browser's languages. */
export function chosenLocale() {
  return pickLocale([saved(), ...(navigator.languages || [navigator.language])].filter(Boolean));
}

/** Keep the agent's choice and show the console in it (a reload: every view draws its texts again). */
export function chooseLocale(locale) {
  try { localStorage.setItem(KEY, locale); } catch (e) { /* this page only */ }
  location.reload();
}

async function catalog(locale) {
  try {
    const res = await fetch(`/static/console.${locale}.json`, { credentials: 'same-origin' });
    return res.ok ? await res.json() : {};
  } catch (e) { return {}; }
}

/** Load the catalogs of `locale` (and English under it) and set the document's lang. */
export async function loadLocale(locale = chosenLocale()) {
  current = locale in LOCALES ? locale : 'en';
  [english, here] = await Promise.all([catalog('en'), current === 'en' ? {} : catalog(current)]);
  plurals = new Intl.PluralRules(TAGS[current]);
  document.documentElement.lang = TAGS[current];
}

export const locale = () => current;
export const localeTag = () => TAGS[current];

/** The text of `key` in the chosen language (English when it has none, the key when nobody has it), its
 * {name} placeholders filled from `params`; an entry {"one": ..., "other": ...} picks its form by params.count. */
export function t(key, params = {}) {
  let msg = key in here ? here[key] : key in english ? english[key] : key;
  if (msg && typeof msg === 'object') msg = msg[plurals.select(Number(params.count))] || msg.other;
  return String(msg).replace(/\{(\w+)\}/g, (all, name) => (name in params ? String(params[name]) : all));
}

/** The text of a code from the service (a state, a priority, a reason): its `code.<code>` entry, else the code
 * made readable ("explicit_request" -> "Explicit request"). */
export function codeLabel(code) {
  const key = `code.${code}`;
  if (key in here || key in english) return t(key);
  const s = String(code || '').replace(/_/g, ' ');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** A presence in running text ("online", "away", "offline"). */
export const presenceWord = (presence) => ({ online: t('presence.online'), away: t('presence.away'),
  offline: t('presence.offline') }[presence] || presence);

/** Translate the page's own markup under `root`: data-i18n="key" sets the text, data-i18n-attrs="attr:key;..."
 * sets attributes (placeholder, aria-label, title). */
export function translate(root = document) {
  for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll('[data-i18n-attrs]')) {
    for (const pair of node.dataset.i18nAttrs.split(';')) {
      const [attr, key] = pair.split(':').map((s) => s.trim());
      if (attr && key) node.setAttribute(attr, t(key));
    }
  }
}

/** A number in the chosen locale (Intl.NumberFormat options). */
export const number = (n, options) => new Intl.NumberFormat(TAGS[current], options).format(n);
