// The registrant's own page, opened by the private link: see the
// registration and cancel it, with the secret as X-Registration-Secret.
import { h } from '../dom.js';
import { t, enumLabel, short, lang } from '../i18n.js';
import { ApiError, call } from '../api.js';
import { countryName } from '../countries.js';
import { dateTime } from '../format.js';
import { badge, errorBox, localized } from './common.js';

const LIVE = ['PENDING_APPROVAL', 'CONFIRMED', 'WAITLISTED'];

function details(reg, ev) {
  const p = reg.participant || {};
  const state = short('regState', reg.state);
  const row = (label, ...value) => [h('dt', {}, label), h('dd', {}, ...value)];
  return h('dl', { class: 'facts', id: 'registration-details' },
    ev ? row(t('man.event'), h('a', { href: '#/events/' + ev.name.split('/').pop() }, localized('span', ev, 'title'))) : null,
    row(t('man.state'), badge(enumLabel('regState', state), state.toLowerCase(), { id: 'manage-state', 'data-state': state }), ' ', h('code', {}, state)),
    reg.stateReason ? row(t('man.reason'), reg.stateReason) : null,
    row(t('man.name'), [p.givenName, p.familyName].filter(Boolean).join(' ')),
    p.email ? row(t('man.email'), p.email) : null,
    p.countryCode ? row(t('man.country'), countryName(p.countryCode)) : null,
    reg.category ? row(t('man.category'), enumLabel('category', reg.category)) : null,
    reg.attendanceMode ? row(t('man.mode'), enumLabel('mode', reg.attendanceMode)) : null,
    reg.checkInTime ? row(t('man.checkedIn'), dateTime(reg.checkInTime, { tz: ev?.timeZone })) : null,
    reg.onlineMeetingUrl ? row(t('man.meeting'), safeLink(reg.onlineMeetingUrl)) : null);
}

// safeLink links only to http(s) addresses.
function safeLink(url) {
  return /^https?:\/\//i.test(url) ? h('a', { href: url, rel: 'noopener noreferrer', target: '_blank' }, url) : url;
}

export async function manageView({ params: [eventId, regId], query, show, signal }) {
  const secret = query.get('secret') || '';
  const name = `events/${eventId}/registrations/${regId}`;
  if (!secret) {
    show(h('h1', {}, t('man.heading')), h('div', { class: 'notice notice-error', role: 'alert' }, h('p', {}, t('man.noSecret'))));
    return null;
  }
  let reg;
  try {
    reg = await call('GET', '/v1/' + name, { secret, signal });
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403 || e.status === 404)) {
      show(h('h1', {}, t('man.heading')), h('div', { class: 'notice notice-error', role: 'alert' }, h('p', {}, t('man.denied'))));
      return null;
    }
    throw e;
  }
  let ev = null;
  try {
    ev = await call('GET', '/v1/events/' + eventId, { query: { language: lang() }, signal });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
  }
  const status = h('div', { id: 'manage-status', role: 'status', 'aria-live': 'polite' });
  const actions = h('div', { class: 'manage-actions' });
  const body = h('div', {}, details(reg, ev));

  const refresh = (r) => {
    reg = r;
    body.replaceChildren(details(reg, ev));
    actions.replaceChildren(...cancelControls());
  };
  const cancelControls = () => {
    if (!LIVE.includes(short('regState', reg.state))) return [];
    const start = h('button', { type: 'button', class: 'button button-danger', id: 'cancel-start' }, t('man.cancel'));
    start.addEventListener('click', () => {
      const reason = h('input', { id: 'cancel-reason', type: 'text', maxlength: 1000 });
      const yes = h('button', { type: 'submit', class: 'button button-danger', id: 'cancel-confirm' }, t('man.cancelYes'));
      const no = h('button', { type: 'button', class: 'button button-secondary', id: 'cancel-keep' }, t('man.cancelNo'));
      const form = h('form', { class: 'confirm-box', 'aria-labelledby': 'cancel-question' },
        h('p', { id: 'cancel-question' }, t('man.cancelConfirm')),
        h('div', { class: 'field' }, h('label', { for: 'cancel-reason' }, t('man.cancelReason')), reason),
        h('div', { class: 'actions' }, yes, no));
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        yes.disabled = true;
        try {
          const r = await call('POST', `/v1/${name}:cancel`, { secret, body: { reason: reason.value.trim() } });
          refresh(r);
          const done = h('p', { class: 'notice notice-success', id: 'cancelled-notice', tabindex: '-1' }, t('man.cancelled'));
          status.replaceChildren(done);
          done.focus();
        } catch (err) {
          yes.disabled = false;
          status.replaceChildren(errorBox(err));
        }
      });
      no.addEventListener('click', () => {
        actions.replaceChildren(...cancelControls());
        document.getElementById('cancel-start')?.focus();
      });
      actions.replaceChildren(form);
      reason.focus();
    });
    return [start];
  };
  actions.replaceChildren(...cancelControls());
  show(h('h1', {}, t('man.heading')), body, actions, status);
  return null;
}
