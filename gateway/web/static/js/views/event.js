// One event's public page: its texts, sessions, place, and whether (and
// how many) seats are left to register.
import { h, append } from '../dom.js';
import { t, enumLabel, short, lang } from '../i18n.js';
import { ApiError, call, exists } from '../api.js';
import { eventWhen, place, zoneName, text } from '../format.js';
import { badge, errorBox, localized, windowStatus } from './common.js';

// loadEvent reads an event and, when it takes registrations, its seats.
export async function loadEvent(eventId, signal, auth) {
  const ev = await call('GET', '/v1/events/' + eventId, { query: { language: lang() }, signal, auth });
  let stats = null;
  if (windowStatus(ev).status === 'open') {
    try {
      stats = await call('GET', `/v1/events/${eventId}/registrationStats`, { signal });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      stats = null; // seats unknown: registration can still be tried
    }
  }
  return { ev, stats };
}

// seats says whether an open event is full: {full, waitlist, text}.
export function seats(ev, stats) {
  const p = ev.registrationPolicy || {};
  if (!stats) return { full: false, text: '' };
  const left = stats.seatsLeft;
  if (left === undefined || left === null) return { full: false, text: t('seats.unlimited') };
  if (left <= 0) {
    return { full: true, waitlist: !!p.waitlistEnabled, text: p.waitlistEnabled ? t('seats.fullWaitlist') : t('seats.full') };
  }
  let s = t('seats.left', { n: left }) + '.';
  if (short('mode', ev.attendanceMode) === 'HYBRID' && stats.inPersonSeatsLeft !== undefined) {
    s += ' ' + t('seats.inPerson', { n: stats.inPersonSeatsLeft });
  }
  return { full: false, text: s };
}

// registrationBox is the part of the event page about registering.
export function registrationBox(ev, stats, eventId) {
  const st = windowStatus(ev);
  const box = h('section', { class: 'registration-box', id: 'registration', 'aria-labelledby': 'registration-heading' },
    h('h2', { id: 'registration-heading' }, t('event.registration')));
  if (st.status !== 'open') {
    box.classList.add('is-closed');
    append(box, [
      h('p', { class: 'registration-state' }, badge(st.label, st.status, { id: 'registration-status', 'data-status': st.status })),
      st.detail ? h('p', {}, st.detail) : null]);
    if (st.status === 'cancelled' && ev.cancelReason) box.append(h('p', {}, t('event.cancelReason', { reason: ev.cancelReason })));
    return box;
  }
  const s = seats(ev, stats);
  const status = s.full ? (s.waitlist ? 'fullWaitlist' : 'full') : 'open';
  append(box, [
    h('p', { class: 'registration-state' },
      badge(t('status.' + status), status, { id: 'registration-status', 'data-status': status })),
    s.text ? h('p', { id: 'seats-left' }, s.text) : null,
    st.detail ? h('p', {}, st.detail) : null,
    ev.registrationPolicy?.requiresApproval ? h('p', {}, t('approval.note')) : null]);
  if (!s.full || s.waitlist) {
    box.append(h('p', {}, h('a', { class: 'button button-primary', id: 'register-link', href: `#/events/${eventId}/register` },
      s.full ? t('register.waitlist') : t('register.button'))));
  }
  return box;
}

function section(id, titleKey, ...content) {
  return h('section', { class: 'event-section', 'aria-labelledby': id }, h('h2', { id }, t(titleKey)), content);
}

export async function eventView({ params: [eventId], show, signal }) {
  let ev, stats;
  try {
    ({ ev, stats } = await loadEvent(eventId, signal));
  } catch (e) {
    if (e instanceof ApiError && e.status === 404) {
      show(h('h1', {}, t('event.notFound')), h('p', {}, h('a', { href: '#/' }, t('back.events'))));
      return null;
    }
    throw e;
  }
  const kind = short('kind', ev.kind);
  const mode = short('mode', ev.attendanceMode);
  const objectives = text(ev, 'specificObjectives');
  const sessions = ev.sessions || [];
  const baseLang = ev.defaultLanguage || 'en'; // sessions, organiser and topics are not translated
  const inBase = baseLang !== lang() ? baseLang : null;

  const facts = h('dl', { class: 'facts' },
    h('dt', {}, t('event.when')),
    h('dd', {}, eventWhen(ev),
      ev.datesApproximate ? h('span', { class: 'note' }, ' ' + t('event.approx')) : null,
      !ev.datesApproximate && ev.timeZone ? h('span', { class: 'note' }, ' ' + t('event.timezone', { tz: zoneName(ev.timeZone) })) : null),
    h('dt', {}, t('event.where')),
    h('dd', { id: 'event-place' }, place(ev) || '—'),
    ev.organizer ? [h('dt', {}, t('event.organizer')), h('dd', { lang: inBase }, ev.organizer)] : null,
    ev.languages?.length ? [h('dt', {}, t('event.languages')),
      h('dd', {}, ev.languages.map((l) => languageName(l)).join(', '))] : null,
    ev.topics?.length ? [h('dt', {}, t('event.topics')), h('dd', { lang: inBase }, ev.topics.join(', '))] : null);

  const calendar = h('p', { class: 'calendar-link', hidden: true });
  show(
    h('p', { class: 'breadcrumb' }, h('a', { href: '#/' }, '← ' + t('back.events'))),
    h('article', { class: 'event', 'data-event': eventId },
      h('header', { class: 'event-header' },
        h('p', { class: 'event-meta' },
          kind ? badge(enumLabel('kind', kind), 'kind') : null,
          mode ? badge(enumLabel('mode', mode), 'mode') : null),
        localized('h1', ev, 'title', { id: 'event-title' })),
      h('div', { class: 'event-layout' },
        h('div', { class: 'event-main' },
          text(ev, 'summary').value ? section('s-summary', 'event.summary', localized('p', ev, 'summary')) : null,
          text(ev, 'generalObjective').value ? section('s-general', 'event.generalObjective', localized('p', ev, 'generalObjective')) : null,
          objectives.value?.length ? section('s-specific', 'event.specificObjectives',
            h('ol', { lang: objectives.lang !== lang() ? objectives.lang : null }, objectives.value.map((o) => h('li', {}, o)))) : null,
          text(ev, 'methodology').value ? section('s-method', 'event.methodology', localized('p', ev, 'methodology')) : null,
          text(ev, 'expectedParticipants').value ? section('s-expected', 'event.expected', localized('p', ev, 'expectedParticipants')) : null,
          sessions.length ? section('s-sessions', 'event.sessions', h('ol', { class: 'sessions', lang: inBase }, sessions.map((s) =>
            h('li', {},
              h('span', { class: 'session-title' }, s.title),
              s.startTime ? h('span', { class: 'session-time' }, eventWhen({ ...s, timeZone: ev.timeZone, datesApproximate: ev.datesApproximate })) : null,
              s.description ? h('span', { class: 'session-description' }, s.description) : null)))) : null),
        h('aside', { class: 'event-aside' },
          registrationBox(ev, stats, eventId),
          h('section', { class: 'event-facts', 'aria-labelledby': 's-facts' }, h('h2', { id: 's-facts' }, t('event.details')), facts),
          calendar))));

  // The calendar file, where the API has it (GET /v1/events/{id}:exportCalendar).
  const icsPath = `/v1/events/${eventId}:exportCalendar`;
  if (await exists(icsPath, 'text/calendar', { signal })) {
    calendar.append(h('a', { href: icsPath, download: eventId + '.ics', id: 'calendar-link' }, t('event.calendar')));
    calendar.hidden = false;
  }
  return null;
}

function languageName(code) {
  try {
    return new Intl.DisplayNames([lang()], { type: 'language' }).of(code) || code;
  } catch {
    return code;
  }
}

