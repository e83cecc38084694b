// The registration form, driven by the event's registration policy, and the
// page that confirms a registration and gives its private link.
import { h, field, option, setFieldError } from '../dom.js';
import { t, lang, enumLabel, enumValues, full, short } from '../i18n.js';
import { ApiError, call, uuid } from '../api.js';
import { countries } from '../countries.js';
import { badge, localized, message, windowStatus } from './common.js';
import { loadEvent, registrationBox, seats } from './event.js';

// The API's field paths (BadRequest.fieldViolations[].field) and the form
// controls they belong to.
const FIELDS = {
  'registration.participant.given_name': 'reg-given-name',
  'registration.participant.family_name': 'reg-family-name',
  'registration.participant.email': 'reg-email',
  'registration.participant.phone': 'reg-phone',
  'registration.participant.organization': 'reg-organization',
  'registration.participant.job_title': 'reg-job-title',
  'registration.participant.country_code': 'reg-country',
  'registration.participant.gender': 'reg-gender',
  'registration.category': 'reg-category',
  'registration.attendance_mode': 'reg-mode-in-person',
  'registration.accessibility_needs': 'reg-accessibility',
};

// Messages for the fields whose errors have an obvious cause; the others
// show what the API says.
const FIELD_MESSAGES = {
  'reg-email': 'err.email',
  'reg-country': 'err.country',
  'reg-category': 'err.category',
};

// The last registration made in this tab, by event: the result page shows
// it, also after a language switch. It is never stored: the secret is shown
// once.
const received = new Map();

function checkbox(id, label, hint, required = false) {
  return h('div', { class: 'field field-check', id: id + '-field' },
    h('p', { class: 'field-error', id: id + '-error', hidden: true }),
    h('div', { class: 'check' },
      h('input', {
        type: 'checkbox', id, name: id, 'aria-required': required ? 'true' : null,
        'aria-describedby': [hint ? id + '-hint' : null, id + '-error'].filter(Boolean).join(' '),
      }),
      h('label', { for: id }, label)),
    hint ? h('p', { class: 'hint', id: id + '-hint' }, hint) : null);
}

function countrySelect() {
  const { members, others } = countries();
  return h('select', { id: 'reg-country', name: 'country', autocomplete: 'country', required: true },
    option('', t('reg.countryChoose'), ''),
    h('optgroup', { label: t('reg.membersGroup') }, members.map((c) => option(c.code, c.name, ''))),
    h('optgroup', { label: t('reg.othersGroup') }, others.map((c) => option(c.code, c.name, ''))));
}

function buildForm(ev, eventId, onSubmit) {
  const policy = ev.registrationPolicy || {};
  const allowed = (policy.allowedCategories || []).map((c) => short('category', c));
  const categories = allowed.length ? allowed : enumValues('category');
  const hybrid = short('mode', ev.attendanceMode) === 'HYBRID';
  const input = (attrs) => h('input', { type: 'text', ...attrs });

  return h('form', { class: 'registration-form', id: 'registration-form', novalidate: true, onsubmit: onSubmit },
    h('div', { class: 'error-summary', id: 'error-summary', tabindex: '-1', hidden: true, role: 'alert', 'aria-labelledby': 'error-summary-heading' },
      h('h2', { id: 'error-summary-heading' }, t('reg.errorsHeading')),
      h('ul', { id: 'error-summary-list' })),
    h('p', { class: 'hint' }, t('reg.intro')),
    h('fieldset', {},
      h('legend', {}, t('reg.you')),
      h('div', { class: 'form-grid' },
        field({ id: 'reg-given-name', label: t('reg.givenName'), required: true,
          control: input({ id: 'reg-given-name', name: 'givenName', autocomplete: 'given-name', maxlength: 100, required: true }) }),
        field({ id: 'reg-family-name', label: t('reg.familyName'), required: true,
          control: input({ id: 'reg-family-name', name: 'familyName', autocomplete: 'family-name', maxlength: 100, required: true }) }),
        field({ id: 'reg-email', label: t('reg.email'), required: true, hint: t('reg.emailHint'),
          control: input({ id: 'reg-email', name: 'email', type: 'email', autocomplete: 'email', maxlength: 254, required: true, spellcheck: 'false' }) }),
        field({ id: 'reg-phone', label: t('reg.phone'),
          control: input({ id: 'reg-phone', name: 'phone', type: 'tel', autocomplete: 'tel', maxlength: 40 }) }),
        field({ id: 'reg-organization', label: t('reg.organization'),
          control: input({ id: 'reg-organization', name: 'organization', autocomplete: 'organization', maxlength: 300 }) }),
        field({ id: 'reg-job-title', label: t('reg.jobTitle'),
          control: input({ id: 'reg-job-title', name: 'jobTitle', autocomplete: 'organization-title', maxlength: 200 }) }),
        field({ id: 'reg-gender', label: t('reg.gender'),
          control: h('select', { id: 'reg-gender', name: 'gender' },
            option('', t('reg.genderNone'), ''), enumValues('gender').map((g) => option(g, enumLabel('gender', g), ''))) }))),
    h('fieldset', {},
      h('legend', {}, t('reg.participation')),
      h('div', { class: 'form-grid' },
        field({ id: 'reg-country', label: t('reg.country'), required: true, hint: t('reg.countryHint'), control: countrySelect() }),
        field({ id: 'reg-category', label: t('reg.category'), required: true,
          control: h('select', { id: 'reg-category', name: 'category', required: true },
            categories.length > 1 ? option('', t('reg.categoryChoose'), '') : null,
            categories.map((c) => option(c, enumLabel('category', c), ''))) })),
      hybrid ? h('fieldset', { class: 'radios', id: 'reg-mode-field', 'aria-describedby': 'reg-mode-in-person-error' },
        h('legend', {}, t('reg.mode')),
        h('p', { class: 'field-error', id: 'reg-mode-in-person-error', hidden: true }),
        ['IN_PERSON', 'VIRTUAL'].map((m) => {
          const rid = 'reg-mode-' + m.toLowerCase().replace('_', '-');
          return h('div', { class: 'check' },
            h('input', { type: 'radio', name: 'mode', id: rid, value: m, checked: m === 'IN_PERSON' }),
            h('label', { for: rid }, enumLabel('mode', m)));
        })) : null,
      checkbox('reg-visa', t('reg.visa')),
      field({ id: 'reg-accessibility', label: t('reg.accessibility'), hint: t('reg.accessibilityHint'),
        control: h('textarea', { id: 'reg-accessibility', name: 'accessibilityNeeds', rows: 3, maxlength: 1000 }) })),
    h('fieldset', {},
      h('legend', {}, t('reg.consentLegend')),
      checkbox('reg-consent', t('reg.consent') + ' *', t('reg.consentHint'), true)),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'button button-primary', id: 'reg-submit' }, t('reg.submit'))));
}

function value(form, name) {
  return String(new FormData(form).get(name) || '').trim();
}

// collect reads the form into a Registration (the API's JSON).
function collect(form) {
  const participant = {
    givenName: value(form, 'givenName'),
    familyName: value(form, 'familyName'),
    email: value(form, 'email'),
    phone: value(form, 'phone'),
    organization: value(form, 'organization'),
    jobTitle: value(form, 'jobTitle'),
    countryCode: value(form, 'country'),
    preferredLanguage: lang(),
  };
  const gender = value(form, 'gender');
  if (gender) participant.gender = full('gender', gender);
  for (const k of Object.keys(participant)) if (participant[k] === '') delete participant[k];
  const reg = {
    participant,
    needsVisaLetter: form.querySelector('#reg-visa').checked,
  };
  const category = value(form, 'category');
  if (category) reg.category = full('category', category);
  const mode = value(form, 'mode');
  if (mode) reg.attendanceMode = full('mode', mode);
  const needs = value(form, 'accessibilityNeeds');
  if (needs) reg.accessibilityNeeds = needs;
  return reg;
}

// showErrors puts each message next to its field and lists them all at the
// top, each a link to its field; focus moves to that list.
function showErrors(form, errors, general) {
  for (const el of form.querySelectorAll('[aria-invalid]')) setFieldError(el.id, '');
  const summary = form.querySelector('#error-summary');
  const list = form.querySelector('#error-summary-list');
  list.replaceChildren();
  for (const msg of general) list.append(h('li', {}, msg));
  for (const [fieldId, msg] of errors) {
    setFieldError(fieldId, msg);
    const label = form.querySelector(`label[for="${fieldId}"]`)?.textContent.replace(/\s*\*$/, '') || '';
    list.append(h('li', {}, h('a', {
      href: '#' + fieldId,
      onclick: (e) => {
        e.preventDefault();
        document.getElementById(fieldId)?.focus();
      },
    }, label ? `${label}: ${msg}` : msg)));
  }
  summary.hidden = list.children.length === 0;
  if (!summary.hidden) summary.focus();
}

// checkRequired finds what the browser can tell without asking: empty
// required fields and the consent.
function checkRequired(form) {
  const errors = new Map();
  for (const [name, fieldId] of [['givenName', 'reg-given-name'], ['familyName', 'reg-family-name'], ['email', 'reg-email'],
    ['country', 'reg-country'], ['category', 'reg-category']]) {
    if (!value(form, name)) errors.set(fieldId, t('err.required'));
  }
  if (!form.querySelector('#reg-consent').checked) errors.set('reg-consent', t('err.consent'));
  return errors;
}

// apiErrors maps a refused registration to field errors and general ones.
function apiErrors(e) {
  const errors = new Map();
  const general = [];
  if (e instanceof ApiError) {
    for (const v of e.violations) {
      const fieldId = FIELDS[v.field];
      if (fieldId) {
        if (!errors.has(fieldId)) errors.set(fieldId, FIELD_MESSAGES[fieldId] ? t(FIELD_MESSAGES[fieldId]) : v.description || t('err.invalid'));
      } else {
        general.push(v.description || v.field);
      }
    }
    if (e.reason === 'EMAIL_ALREADY_REGISTERED') errors.set('reg-email', t('err.emailTaken'));
    else if (e.reason === 'CATEGORY_NOT_ALLOWED') errors.set('reg-category', t('err.category'));
    else if (e.reason === 'IN_PERSON_FULL' && document.getElementById('reg-mode-in-person')) errors.set('reg-mode-in-person', message(e));
  }
  if (errors.size === 0 && general.length === 0) general.push(message(e));
  return { errors, general };
}

export async function registerView({ params: [eventId], show, signal, go }) {
  const { ev, stats } = await loadEvent(eventId, signal);
  const title = localized('p', ev, 'title', { class: 'form-for' });
  title.textContent = t('reg.for', { title: title.textContent });
  const back = h('p', { class: 'breadcrumb' }, h('a', { href: '#/events/' + eventId }, '← ' + localized('span', ev, 'title').textContent));
  const s = seats(ev, stats);
  if (windowStatus(ev).status !== 'open' || (s.full && !s.waitlist)) {
    show(back, h('h1', {}, t('reg.closedHeading')), title, registrationBox(ev, stats, eventId));
    return null;
  }
  const requestId = uuid(); // one per form: a resubmission is the same registration
  let sending = false;
  const onSubmit = async (e) => {
    e.preventDefault();
    const form = e.target;
    if (sending) return;
    const missing = checkRequired(form);
    if (missing.size) {
      showErrors(form, missing, []);
      return;
    }
    const button = form.querySelector('#reg-submit');
    sending = true;
    button.disabled = true;
    button.textContent = t('reg.sending');
    form.setAttribute('aria-busy', 'true');
    try {
      const reg = await call('POST', `/v1/events/${eventId}/registrations`, { query: { requestId }, body: collect(form) });
      received.set(eventId, { reg, ev });
      go(`/events/${eventId}/registered`);
    } catch (err) {
      const { errors, general } = apiErrors(err);
      showErrors(form, errors, general);
    } finally {
      sending = false;
      button.disabled = false;
      button.textContent = t('reg.submit');
      form.removeAttribute('aria-busy');
    }
  };
  show(back, h('h1', {}, t('reg.heading')), title,
    s.text ? h('p', { class: 'seats' }, s.text) : null,
    buildForm(ev, eventId, onSubmit));
  return null;
}

// privateLink is the registrant's link: the secret is in the fragment,
// which browsers never send to the server.
export function privateLink(reg) {
  return `${location.origin}/#/manage/${reg.name}?secret=${encodeURIComponent(reg.manageSecret)}`;
}

export async function receivedView({ params: [eventId], show, go }) {
  const got = received.get(eventId);
  if (!got) {
    go('/events/' + eventId);
    return null;
  }
  const { reg, ev } = got;
  const state = short('regState', reg.state);
  const link = privateLink(reg);
  const status = h('p', { role: 'status', 'aria-live': 'polite', class: 'copy-status' });
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(link);
      status.textContent = t('res.copied');
    } catch {
      document.getElementById('private-link')?.select();
    }
  };
  show(
    h('p', { class: 'breadcrumb' }, h('a', { href: '#/events/' + eventId }, '← ' + localized('span', ev, 'title').textContent)),
    h('h1', {}, t('res.heading')),
    h('div', { class: `notice notice-${state === 'CONFIRMED' ? 'success' : 'info'}`, id: 'registration-result', 'data-state': state },
      h('p', { class: 'result-state' }, t('res.status') + ': ', badge(enumLabel('regState', state), state.toLowerCase(), { id: 'result-state', 'data-state': state }),
        ' ', h('code', {}, state)),
      h('p', {}, t('res.state.' + state))),
    localized('p', ev, 'title', { class: 'form-for' }),
    h('section', { class: 'private-link', 'aria-labelledby': 'link-heading' },
      h('h2', { id: 'link-heading' }, t('res.linkHeading')),
      h('p', { id: 'link-text' }, t('res.linkText')),
      h('label', { for: 'private-link' }, t('res.linkLabel')),
      h('input', { id: 'private-link', type: 'text', readonly: true, value: link, 'aria-describedby': 'link-text', spellcheck: 'false' }),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'button button-secondary', id: 'copy-link', onclick: copy }, t('res.copy')),
        h('a', { class: 'button button-primary', id: 'open-registration', href: `#/manage/${reg.name}?secret=${encodeURIComponent(reg.manageSecret)}` }, t('res.open'))),
      status));
  return null;
}

