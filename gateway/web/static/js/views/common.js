// Pieces that several views share.
import { h } from '../dom.js';
import { t, lang } from '../i18n.js';
import { ApiError } from '../api.js';
import { dateTime, registrationWindow, text } from '../format.js';

// message explains a failed call in the chosen language.
export function message(e) {
  if (e instanceof ApiError) {
    if (e.status === 0) return t('error.network');
    if (e.status === 429) return t('err.tooMany', { s: e.retryAfter || 1 });
    const key = 'reason.' + e.reason;
    const known = t(key);
    if (known !== key) return known;
  }
  return t('error.generic', { message: e?.message || String(e) });
}

// errorBox is an alert with the explanation of a failed call.
export function errorBox(e) {
  return h('div', { class: 'notice notice-error', role: 'alert' }, h('p', {}, message(e)));
}

// localized is an element with an event's text in the chosen language,
// marked with the language the text is really in.
export function localized(tag, ev, field, attrs = {}) {
  const { value, lang: textLang } = text(ev, field);
  return h(tag, { ...attrs, lang: textLang !== lang() ? textLang : null }, value || '');
}

// windowStatus describes whether an event takes registrations, as
// {status, label, detail}; status is open, notOpen, closed, cancelled, draft.
export function windowStatus(ev) {
  const w = registrationWindow(ev);
  const date = w.date ? dateTime(w.date, { tz: ev.timeZone }) : '';
  switch (w.status) {
    case 'cancelled':
      return { ...w, label: t('status.cancelled'), detail: t('status.cancelledText') };
    case 'draft':
      return { ...w, label: t('status.draft'), detail: t('status.draftText') };
    case 'notOpen':
      return { ...w, label: t('status.notOpen'), detail: t('status.opensOn', { date }) };
    case 'closed':
      return { ...w, label: t('status.closed'), detail: w.past ? t('status.past') : t('status.closedOn', { date }) };
    default:
      return { ...w, label: t('status.open'), detail: date ? t('status.closesOn', { date }) : '' };
  }
}

// badge is a small label; kind picks its colours (open, closed, full, …).
export function badge(label, kind, attrs = {}) {
  return h('span', { ...attrs, class: `badge badge-${kind}` }, label);
}
