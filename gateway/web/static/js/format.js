// Dates, places and the texts of an event in the chosen language.
import { lang, locale, t, short } from './i18n.js';
import { countryName } from './countries.js';

function validZone(tz) {
  if (!tz) return 'UTC';
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return tz;
  } catch {
    return 'UTC';
  }
}

// dateTime formats one instant: a date, or a date and time.
export function dateTime(iso, { tz, withTime = true } = {}) {
  if (!iso) return '';
  const opts = { dateStyle: 'long', timeZone: validZone(tz) };
  if (withTime) opts.timeStyle = 'short';
  return new Intl.DateTimeFormat(locale(), opts).format(new Date(iso));
}

// eventWhen formats when an event happens, in its own time zone; approximate
// dates show only the month.
export function eventWhen(ev) {
  if (!ev.startTime) return '';
  const tz = validZone(ev.timeZone);
  const start = new Date(ev.startTime);
  const end = ev.endTime ? new Date(ev.endTime) : start;
  const opts = ev.datesApproximate
    ? { month: 'long', year: 'numeric', timeZone: tz }
    : { dateStyle: 'long', timeStyle: 'short', timeZone: tz };
  const f = new Intl.DateTimeFormat(locale(), opts);
  try {
    return f.formatRange(start, end);
  } catch {
    return f.format(start);
  }
}

// eventDate is a short date for lists.
export function eventDate(ev) {
  if (!ev.startTime) return '';
  const tz = validZone(ev.timeZone);
  const opts = ev.datesApproximate ? { month: 'long', year: 'numeric', timeZone: tz } : { dateStyle: 'medium', timeZone: tz };
  const f = new Intl.DateTimeFormat(locale(), opts);
  try {
    return f.formatRange(new Date(ev.startTime), new Date(ev.endTime || ev.startTime));
  } catch {
    return f.format(new Date(ev.startTime));
  }
}

// zoneName is a time zone's long name in the chosen language and its IANA id.
export function zoneName(tz) {
  const zone = validZone(tz);
  try {
    const parts = new Intl.DateTimeFormat(locale(), { timeZone: zone, timeZoneName: 'long' }).formatToParts(new Date());
    const name = parts.find((p) => p.type === 'timeZoneName')?.value;
    return name ? `${name} (${zone})` : zone;
  } catch {
    return zone;
  }
}

// place says where an event happens: venue, city, country; "virtual" for
// online events; "…, and online" for hybrid ones.
export function place(ev) {
  const mode = short('mode', ev.attendanceMode);
  const loc = ev.location || {};
  const parts = [loc.venue, loc.city, loc.countryCode ? countryName(loc.countryCode) : ''].filter(Boolean);
  if (mode === 'VIRTUAL') return t('event.virtual');
  const where = parts.join(', ');
  if (mode === 'HYBRID') return where ? t('event.andOnline', { place: where }) : t('event.virtual');
  return where;
}

const filled = (v) => (Array.isArray(v) ? v.length > 0 : !!v);

// text returns an event's text field in the chosen language, and the
// language the text is really in (so that the page can mark it with lang).
// The page asks the API for its language (?language=); the answer's
// "language" says which one the main fields came in. When that is not the
// chosen one, translations.<lang> has the text if anything does; a field
// with no translation falls back to the default text.
export function text(ev, field) {
  const l = lang();
  const base = ev.defaultLanguage || 'en';
  const served = ev.language || base;
  if (served === l) {
    // The server chose l; a field missing from its translation came in the default language.
    if (l !== base && ev.translations && !filled(ev.translations[l]?.[field])) return { value: ev[field], lang: base };
    return { value: ev[field], lang: l };
  }
  const tr = ev.translations?.[l]?.[field];
  if (filled(tr)) return { value: tr, lang: l };
  return { value: ev[field], lang: served };
}

// registration says whether an event takes registrations now: one of
// open, notOpen, closed, cancelled, draft; with the date that matters.
export function registrationWindow(ev, now = new Date()) {
  const state = short('eventState', ev.state);
  if (state === 'CANCELLED') return { status: 'cancelled' };
  if (state !== 'PUBLISHED') return { status: 'draft' };
  const p = ev.registrationPolicy || {};
  if (p.opensTime && now < new Date(p.opensTime)) return { status: 'notOpen', date: p.opensTime };
  const closes = p.closesTime || ev.startTime;
  if (closes && now >= new Date(closes)) {
    return { status: 'closed', date: closes, past: ev.startTime && now >= new Date(ev.startTime) };
  }
  return { status: 'open', date: closes };
}
