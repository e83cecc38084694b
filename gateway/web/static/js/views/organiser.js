// Organisers and focal points: sign in with a token (kept in
// sessionStorage, sent as Authorization: Bearer), list an event's
// registrations, approve, reject, check in, see the numbers, download the
// CSV (and the calendar file where the API has one). What a focal point may
// see — their own country — is the API's decision; the page just shows it.
import { h, option } from '../dom.js';
import { t, enumLabel, enumValues, short, lang } from '../i18n.js';
import { ApiError, call, download, exists, id, setToken, token } from '../api.js';
import { countries, countryName } from '../countries.js';
import { dateTime, eventDate } from '../format.js';
import { badge, errorBox, localized, message } from './common.js';

// signIn is the sign-in form; onDone runs once the token is accepted.
function signIn(onDone, error) {
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', spellcheck: 'false', required: true, 'aria-describedby': 'token-hint token-error' });
  const err = h('p', { class: 'field-error', id: 'token-error', hidden: !error }, error || '');
  const form = h('form', { class: 'signin', id: 'signin-form', novalidate: true },
    h('div', { class: 'field' + (error ? ' has-error' : '') },
      h('label', { for: 'token' }, t('org.token')),
      h('p', { class: 'hint', id: 'token-hint' }, t('org.tokenHint')),
      err,
      input),
    h('div', { class: 'actions' }, h('button', { type: 'submit', class: 'button button-primary', id: 'signin-submit' }, t('org.signIn'))));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const value = input.value.trim();
    const fail = (msg) => {
      err.textContent = msg;
      err.hidden = false;
      input.setAttribute('aria-invalid', 'true');
      input.focus();
    };
    if (!value) return fail(t('err.required'));
    try {
      // Any call with an unknown token is refused (401): a cheap check.
      await call('GET', '/v1/events', { query: { pageSize: 1 }, auth: value });
    } catch (ex) {
      return fail(ex instanceof ApiError && ex.status === 401 ? t('org.badToken') : message(ex));
    }
    setToken(value);
    onDone();
  });
  return form;
}

function signOutButton(rerender) {
  return h('button', {
    type: 'button', class: 'button button-secondary', id: 'signout',
    onclick: () => {
      setToken('');
      if (location.hash === '#/organiser') rerender();
      else location.hash = '#/organiser';
    },
  }, t('org.signOut'));
}

function signInPage(show, rerender, error) {
  show(
    h('h1', {}, t('org.heading')),
    h('p', { class: 'lead' }, t('org.intro')),
    signIn(() => rerender(), error));
}

export async function organiserView({ show, signal, rerender, query }) {
  const auth = token();
  if (!auth) {
    signInPage(show, rerender);
    return null;
  }
  const q = query.get('q') || '';
  const list = h('ul', { class: 'org-events', id: 'org-events' });
  const more = h('div', { class: 'actions' });
  const searchForm = h('form', { role: 'search', class: 'inline-form', 'aria-label': t('org.search') },
    h('div', { class: 'field' },
      h('label', { for: 'org-q' }, t('org.search')),
      h('input', { id: 'org-q', name: 'q', type: 'search', value: q })),
    h('button', { type: 'submit', class: 'button' }, t('filter.submit')));
  searchForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const v = searchForm.querySelector('#org-q').value.trim();
    location.hash = '#/organiser' + (v ? '?q=' + encodeURIComponent(v) : '');
  });
  show(
    h('div', { class: 'title-row' }, h('h1', {}, t('org.heading')), signOutButton(rerender)),
    h('h2', {}, t('org.events')),
    h('p', {}, t('org.choose')),
    searchForm, list, more);

  const filter = q ? '"' + q.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"' : '';
  const load = async (pageToken) => {
    let data;
    try {
      data = await call('GET', '/v1/events', { query: { pageSize: 25, filter, pageToken, language: lang() }, auth, signal });
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        setToken('');
        signInPage(show, rerender, t('org.badToken'));
        return;
      }
      throw e;
    }
    for (const ev of data.events || []) {
      const eid = id(ev.name);
      const state = short('eventState', ev.state);
      list.append(h('li', {},
        h('a', { href: '#/organiser/events/' + eid, 'data-event': eid }, localized('span', ev, 'title')),
        ' ', h('span', { class: 'muted' }, eventDate(ev)), ' ',
        state !== 'PUBLISHED' ? badge(enumLabel('eventState', state), state.toLowerCase()) : null));
    }
    more.replaceChildren();
    if (data.nextPageToken) {
      const b = h('button', { type: 'button', class: 'button button-secondary' }, t('org.more'));
      b.addEventListener('click', () => load(data.nextPageToken).catch((e) => more.replaceChildren(errorBox(e))));
      more.append(b);
    }
  };
  await load('');
  return null;
}

function statsBlock(stats) {
  const rows = [];
  const seat = (n) => (n === undefined || n === null ? t('stats.unlimited') : String(n));
  rows.push(h('dt', {}, t('stats.seatsLeft')), h('dd', { id: 'stats-seats-left' }, seat(stats.seatsLeft)));
  if (stats.inPersonSeatsLeft !== undefined) rows.push(h('dt', {}, t('stats.inPerson')), h('dd', {}, String(stats.inPersonSeatsLeft)));
  const parts = [h('dl', { class: 'facts' }, rows)];
  if (stats.states?.length) {
    parts.push(h('table', { class: 'stats-table', id: 'stats-by-state' },
      h('caption', {}, t('stats.byState')),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('org.col.state')), h('th', { scope: 'col' }, t('stats.total')))),
      h('tbody', {}, stats.states.map((s) => h('tr', { 'data-state': short('regState', s.state) },
        h('th', { scope: 'row' }, enumLabel('regState', s.state)), h('td', {}, String(s.total || 0)))))));
  }
  const byCountry = Object.entries(stats.delegateSeatsLeftByCountry || {});
  if (byCountry.length) {
    parts.push(h('table', { class: 'stats-table' },
      h('caption', {}, t('stats.byCountry')),
      h('tbody', {}, byCountry.map(([cc, n]) => h('tr', {}, h('th', { scope: 'row' }, countryName(cc)), h('td', {}, String(n)))))));
  }
  return parts;
}

export async function organiserEventView({ params: [eventId], query, show, signal, rerender }) {
  const auth = token();
  if (!auth) {
    signInPage(show, rerender);
    return null;
  }
  const stateFilter = query.get('state') || '';
  const countryFilter = query.get('country') || '';
  let ev;
  try {
    ev = await call('GET', '/v1/events/' + eventId, { query: { language: lang() }, auth, signal });
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      setToken('');
      signInPage(show, rerender, t('org.badToken'));
      return null;
    }
    throw e;
  }
  const titleText = localized('span', ev, 'title').textContent;
  const status = h('div', { id: 'org-status', role: 'status', 'aria-live': 'polite' });
  const statsBox = h('div', { id: 'org-stats' });
  const tableBox = h('div', { id: 'org-registrations' });
  const downloads = h('div', { class: 'actions', id: 'org-downloads' });

  const { members, others } = countries();
  const filterForm = h('form', { class: 'inline-form', id: 'org-filter' },
    h('div', { class: 'field' },
      h('label', { for: 'org-state' }, t('org.filterState')),
      h('select', { id: 'org-state', name: 'state' },
        option('', t('org.anyState'), stateFilter),
        enumValues('regState').map((s) => option(s, enumLabel('regState', s), stateFilter)))),
    h('div', { class: 'field' },
      h('label', { for: 'org-country' }, t('org.filterCountry')),
      h('select', { id: 'org-country', name: 'country' },
        option('', t('org.anyCountry'), countryFilter),
        h('optgroup', { label: t('reg.membersGroup') }, members.map((c) => option(c.code, c.name, countryFilter))),
        h('optgroup', { label: t('reg.othersGroup') }, others.map((c) => option(c.code, c.name, countryFilter))))),
    h('button', { type: 'submit', class: 'button', id: 'org-filter-submit' }, t('org.show')));
  filterForm.addEventListener('submit', (e) => {
    e.preventDefault();
    const qs = new URLSearchParams();
    const s = filterForm.querySelector('#org-state').value;
    const c = filterForm.querySelector('#org-country').value;
    if (s) qs.set('state', s);
    if (c) qs.set('country', c);
    location.hash = `#/organiser/events/${eventId}` + (qs.toString() ? '?' + qs : '');
  });

  show(
    h('p', { class: 'breadcrumb' }, h('a', { href: '#/organiser' }, '← ' + t('org.events'))),
    h('div', { class: 'title-row' }, h('h1', { id: 'org-title' }, t('org.registrationsOf', { title: titleText })), signOutButton(rerender)),
    h('p', {}, eventDate(ev), ' · ', h('a', { href: '#/events/' + eventId }, t('org.publicPage'))),
    h('section', { 'aria-labelledby': 'stats-heading', class: 'org-section' }, h('h2', { id: 'stats-heading' }, t('org.stats')), statsBox),
    h('section', { 'aria-labelledby': 'regs-heading', class: 'org-section' },
      h('h2', { id: 'regs-heading' }, t('org.registrations')),
      filterForm, downloads, status, tableBox));

  const terms = [];
  if (stateFilter) terms.push('state = ' + stateFilter);
  if (countryFilter) terms.push('participant.country_code = ' + countryFilter);
  const filter = terms.join(' AND ');

  const loadStats = async () => {
    try {
      const stats = await call('GET', `/v1/events/${eventId}/registrationStats`, { auth, signal });
      statsBox.replaceChildren(...statsBlock(stats));
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      statsBox.replaceChildren(errorBox(e));
    }
  };

  // Downloads: the CSV needs the token, so it is fetched and saved as a blob.
  const csv = h('button', { type: 'button', class: 'button button-secondary', id: 'download-csv' }, t('org.csv'));
  csv.addEventListener('click', async () => {
    try {
      await download(`/v1/events/${eventId}/registrations:export`, `${eventId}-registrations.csv`, { auth, query: { filter } });
    } catch (e) {
      status.replaceChildren(errorBox(e));
    }
  });
  downloads.append(csv);

  const rowFor = (reg) => {
    const p = reg.participant || {};
    const st = short('regState', reg.state);
    const who = [p.givenName, p.familyName].filter(Boolean).join(' ');
    const rid = id(reg.name);
    const act = async (verb, body, done) => {
      try {
        const r = await call('POST', `/v1/${reg.name}:${verb}`, { auth, body: body || {} });
        row.replaceWith(rowFor(r));
        const msg = h('p', { class: 'notice notice-success', tabindex: '-1' }, done(r));
        status.replaceChildren(msg);
        loadStats();
        (document.querySelector(`tr[data-registration="${rid}"] button`) || msg).focus();
      } catch (e) {
        status.replaceChildren(errorBox(e));
      }
    };
    const actions = h('td', { 'data-label': t('org.col.actions'), class: 'row-actions' });
    const showButtons = () => {
      actions.replaceChildren();
      if (st === 'PENDING_APPROVAL') {
        actions.append(h('button', {
          type: 'button', class: 'button button-small', 'data-action': 'approve', 'aria-label': `${t('org.approve')}: ${who}`,
          onclick: () => act('approve', {}, (r) => t('org.approved', { name: who, state: enumLabel('regState', r.state) })),
        }, t('org.approve')));
      }
      if (['PENDING_APPROVAL', 'CONFIRMED', 'WAITLISTED'].includes(st)) {
        actions.append(h('button', {
          type: 'button', class: 'button button-small button-danger', 'data-action': 'reject', 'aria-label': `${t('org.reject')}: ${who}`,
          onclick: () => showReject(),
        }, t('org.reject')));
      }
      if (st === 'CONFIRMED' && !reg.checkInTime) {
        actions.append(h('button', {
          type: 'button', class: 'button button-small button-secondary', 'data-action': 'checkin', 'aria-label': `${t('org.checkIn')}: ${who}`,
          onclick: () => act('checkIn', {}, () => t('org.checkedIn', { name: who })),
        }, t('org.checkIn')));
      }
    };
    const showReject = () => {
      const inputId = 'reject-reason-' + rid;
      const reason = h('input', { id: inputId, type: 'text', maxlength: 1000 });
      const form = h('form', { class: 'reject-form' },
        h('label', { for: inputId }, t('org.rejectReason', { name: who })), reason,
        h('div', { class: 'actions' },
          h('button', { type: 'submit', class: 'button button-small button-danger', 'data-action': 'reject-confirm' }, t('org.rejectConfirm')),
          h('button', {
            type: 'button', class: 'button button-small button-secondary',
            onclick: () => {
              showButtons();
              actions.querySelector('button')?.focus();
            },
          }, t('org.back'))));
      form.addEventListener('submit', (e) => {
        e.preventDefault();
        act('reject', { reason: reason.value.trim() }, () => t('org.rejected', { name: who }));
      });
      actions.replaceChildren(form);
      reason.focus();
    };
    showButtons();
    const row = h('tr', { 'data-registration': rid, 'data-state': st },
      h('th', { scope: 'row', 'data-label': t('org.col.name') }, who),
      h('td', { 'data-label': t('org.col.email') }, p.email || ''),
      h('td', { 'data-label': t('org.col.organization') }, p.organization || ''),
      h('td', { 'data-label': t('org.col.country') }, p.countryCode ? countryName(p.countryCode) : ''),
      h('td', { 'data-label': t('org.col.category') }, reg.category ? enumLabel('category', reg.category) : ''),
      h('td', { 'data-label': t('org.col.mode') }, reg.attendanceMode ? enumLabel('mode', reg.attendanceMode) : ''),
      h('td', { 'data-label': t('org.col.state') }, badge(enumLabel('regState', st), st.toLowerCase(), { 'data-state': st }),
        reg.checkInTime ? h('span', { class: 'muted' }, ' ' + t('org.checkedInAt', { date: dateTime(reg.checkInTime, { tz: ev.timeZone }) })) : null),
      h('td', { 'data-label': t('org.col.created') }, dateTime(reg.createTime, { tz: ev.timeZone })),
      actions);
    return row;
  };

  const tbody = h('tbody', { id: 'registrations-body' });
  const count = h('p', { id: 'registrations-count' });
  const more = h('div', { class: 'actions' });
  const loadRegs = async (pageToken) => {
    let data;
    try {
      data = await call('GET', `/v1/events/${eventId}/registrations`, { query: { pageSize: 50, filter, pageToken }, auth, signal });
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      const denied = e instanceof ApiError && e.status === 403;
      tableBox.replaceChildren(denied ? h('div', { class: 'notice notice-error', role: 'alert' }, h('p', {}, t('org.denied'))) : errorBox(e));
      csv.hidden = denied;
      return;
    }
    const regs = data.registrations || [];
    const total = data.totalSize ?? regs.length;
    count.textContent = total ? t('org.count', { n: total }) : t('org.none');
    for (const r of regs) tbody.append(rowFor(r));
    more.replaceChildren();
    if (data.nextPageToken) {
      const b = h('button', { type: 'button', class: 'button button-secondary' }, t('org.more'));
      b.addEventListener('click', () => loadRegs(data.nextPageToken));
      more.append(b);
    }
  };
  tableBox.replaceChildren(count,
    h('div', { class: 'table-wrap' },
      h('table', { class: 'registrations', id: 'registrations-table' },
        h('caption', { class: 'visually-hidden' }, t('org.registrations')),
        h('thead', {}, h('tr', {},
          ['name', 'email', 'organization', 'country', 'category', 'mode', 'state', 'created', 'actions'].map((c) =>
            h('th', { scope: 'col' }, t('org.col.' + c))))),
        tbody)),
    more);

  await Promise.all([loadStats(), loadRegs('')]);

  // The calendar file, where the API has it.
  const icsPath = `/v1/events/${eventId}:exportCalendar`;
  if (await exists(icsPath, 'text/calendar', { auth, signal })) {
    const ics = h('button', { type: 'button', class: 'button button-secondary', id: 'download-ics' }, t('org.ics'));
    ics.addEventListener('click', () => download(icsPath, eventId + '.ics', { auth }).catch((e) => status.replaceChildren(errorBox(e))));
    downloads.append(ics);
  }
  return null;
}

