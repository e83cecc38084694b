// The public list of events: newest first, paged, with filters by year,
// kind, attendance mode, country and free text (the API's filter grammar).
import { h, option } from '../dom.js';
import { t, enumLabel, enumValues, short, lang } from '../i18n.js';
import { call, id } from '../api.js';
import { countries } from '../countries.js';
import { eventDate, place, text } from '../format.js';
import { badge, errorBox, localized, windowStatus } from './common.js';

const PAGE_SIZE = 10;

// Page tokens by filter and page number, so that #/?…&page=3 needs no
// walk through pages 1 and 2 when the user came by "Next".
const tokens = new Map();

// quote makes free text one quoted value of the filter grammar.
function quote(s) {
  return '"' + s.replace(/\\/g, '\\\\').replace(/"/g, '\\"') + '"';
}

// buildFilter turns the form's choices into the API's filter string.
export function buildFilter(f) {
  const terms = [];
  if (/^\d{4}$/.test(f.year)) {
    const y = Number(f.year);
    terms.push(`start_time >= "${y}-01-01T00:00:00Z"`, `start_time < "${y + 1}-01-01T00:00:00Z"`);
  }
  if (f.kind) terms.push(`kind = ${f.kind}`);
  if (f.mode) terms.push(`attendance_mode = ${f.mode}`);
  if (f.country) terms.push(`location.country_code = ${f.country}`);
  if (f.q.trim()) terms.push(quote(f.q.trim()));
  return terms.join(' AND ');
}

// pageToken finds the token of page n for a filter, walking from the first
// page when it is not known (a shared or reloaded link).
async function pageToken(filter, n, signal) {
  if (n <= 1) return '';
  const key = lang() + ' ' + filter;
  const known = tokens.get(key) || new Map();
  tokens.set(key, known);
  if (known.has(n)) return known.get(n);
  let token = '';
  for (let p = 1; p < n; p++) {
    if (known.has(p + 1)) {
      token = known.get(p + 1);
      continue;
    }
    const r = await call('GET', '/v1/events', { query: { pageSize: PAGE_SIZE, filter, pageToken: token, language: lang() }, signal });
    token = r.nextPageToken || '';
    if (!token) return null; // past the last page
    known.set(p + 1, token);
  }
  return token;
}

function filterForm(f, go) {
  const year = new Date().getFullYear();
  const years = [];
  for (let y = year + 2; y >= 2015; y--) years.push(String(y));
  const { members, others } = countries();
  const onSubmit = (e) => {
    e.preventDefault();
    const data = new FormData(e.target);
    go('/', {
      q: String(data.get('q') || '').trim(),
      year: data.get('year'),
      kind: data.get('kind'),
      mode: data.get('mode'),
      country: data.get('country'),
    });
  };
  return h('form', { class: 'filters', role: 'search', 'aria-labelledby': 'filters-heading', onsubmit: onSubmit },
    h('h2', { id: 'filters-heading', class: 'visually-hidden' }, t('filter.heading')),
    h('div', { class: 'filter-grid' },
      h('div', { class: 'field field-wide' },
        h('label', { for: 'filter-q' }, t('filter.text')),
        h('input', { id: 'filter-q', name: 'q', type: 'search', value: f.q, autocomplete: 'off', maxlength: 200 })),
      h('div', { class: 'field' },
        h('label', { for: 'filter-year' }, t('filter.year')),
        h('select', { id: 'filter-year', name: 'year' },
          option('', t('filter.anyYear'), f.year), years.map((y) => option(y, y, f.year)))),
      h('div', { class: 'field' },
        h('label', { for: 'filter-kind' }, t('filter.kind')),
        h('select', { id: 'filter-kind', name: 'kind' },
          option('', t('filter.anyKind'), f.kind), enumValues('kind').map((k) => option(k, enumLabel('kind', k), f.kind)))),
      h('div', { class: 'field' },
        h('label', { for: 'filter-mode' }, t('filter.mode')),
        h('select', { id: 'filter-mode', name: 'mode' },
          option('', t('filter.anyMode'), f.mode), enumValues('mode').map((m) => option(m, enumLabel('mode', m), f.mode)))),
      h('div', { class: 'field' },
        h('label', { for: 'filter-country' }, t('filter.country')),
        h('select', { id: 'filter-country', name: 'country' },
          option('', t('filter.anyCountry'), f.country),
          h('optgroup', { label: t('reg.membersGroup') }, members.map((c) => option(c.code, c.name, f.country))),
          h('optgroup', { label: t('reg.othersGroup') }, others.map((c) => option(c.code, c.name, f.country)))))),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'button', id: 'filter-submit' }, t('filter.submit')),
      h('a', { href: '#/', class: 'button button-secondary', id: 'filter-clear' }, t('filter.clear'))));
}

function eventCard(ev) {
  const eid = id(ev.name);
  const st = windowStatus(ev);
  const kind = short('kind', ev.kind);
  // The first text the event has: summary, general objective, or its first specific objective.
  const field = ['summary', 'generalObjective', 'specificObjectives'].find((f) => text(ev, f).value?.length) || 'summary';
  const { value, lang: textLang } = text(ev, field);
  let blurb = Array.isArray(value) ? value[0] : value || '';
  if (blurb.length > 280) blurb = blurb.slice(0, 277).trimEnd() + '…';
  const summary = h('p', { class: 'event-summary', lang: textLang !== lang() ? textLang : null }, blurb);
  const where = place(ev);
  return h('li', { class: 'event-card', 'data-event': eid },
    h('article', { 'aria-labelledby': 'title-' + eid },
      h('h3', { class: 'event-title', id: 'title-' + eid },
        localized('a', ev, 'title', { href: '#/events/' + eid })),
      h('p', { class: 'event-meta' },
        kind ? badge(enumLabel('kind', kind), 'kind') : null,
        h('span', {}, eventDate(ev)),
        where ? h('span', {}, where) : null),
      summary.textContent ? summary : null,
      h('p', { class: 'event-status' }, badge(st.label, st.status, { 'data-status': st.status }))));
}

export async function eventsView({ query, show, signal, go }) {
  const f = {
    q: query.get('q') || '',
    year: query.get('year') || '',
    kind: query.get('kind') || '',
    mode: query.get('mode') || '',
    country: query.get('country') || '',
  };
  const page = Math.max(1, Number.parseInt(query.get('page') || '1', 10) || 1);
  const filter = buildFilter(f);
  const results = h('section', { class: 'results', 'aria-labelledby': 'results-heading' },
    h('h2', { id: 'results-heading', class: 'results-heading', tabindex: '-1' }, t('loading')));
  show(
    h('h1', {}, t('events.heading')),
    h('p', { class: 'lead' }, t('events.intro')),
    filterForm(f, go),
    results);

  const heading = results.querySelector('#results-heading');
  let data;
  try {
    const token = await pageToken(filter, page, signal);
    if (token === null) {
      go('/', { ...f, page: '' });
      return null;
    }
    data = await call('GET', '/v1/events', { query: { pageSize: PAGE_SIZE, filter, pageToken: token, language: lang() }, signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    heading.textContent = t('events.resultsLabel');
    results.append(errorBox(e));
    return heading;
  }
  const events = data.events || [];
  const total = data.totalSize ?? events.length;
  heading.textContent = total === 0 ? t('events.none') : t('events.count', { n: total });
  heading.setAttribute('data-total', String(total));
  if (events.length) results.append(h('ul', { class: 'event-list', id: 'event-list' }, events.map(eventCard)));

  // Pages.
  if (data.nextPageToken) {
    const key = lang() + ' ' + filter;
    const known = tokens.get(key) || new Map();
    known.set(page + 1, data.nextPageToken);
    tokens.set(key, known);
  }
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  if (page > 1 || data.nextPageToken) {
    results.append(h('nav', { class: 'pager', 'aria-label': t('pager.label') },
      page > 1 ? h('a', { class: 'button button-secondary', href: pageHref(f, page - 1), rel: 'prev', id: 'page-prev' }, t('pager.prev')) : null,
      h('span', { class: 'pager-where', 'aria-current': 'page' }, t('pager.page', { n: page }) + ` / ${pages}`),
      data.nextPageToken ? h('a', { class: 'button button-secondary', href: pageHref(f, page + 1), rel: 'next', id: 'page-next' }, t('pager.next')) : null));
  }
  // A search moves focus to its results; a plain visit starts at the top.
  return query.toString() ? heading : null;
}

function pageHref(f, n) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(f)) if (v) qs.set(k, v);
  if (n > 1) qs.set('page', String(n));
  const s = qs.toString();
  return '#/' + (s ? '?' + s : '');
}

