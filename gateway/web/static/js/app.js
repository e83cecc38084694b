// The page's shell: routes in the URL fragment (#/...), the header, the
// language switch. Each view renders into <main>.
import { t, lang, setLang } from './i18n.js';
import { h, replace } from './dom.js';
import { errorBox } from './views/common.js';
import { eventsView } from './views/events.js';
import { eventView } from './views/event.js';
import { registerView, receivedView } from './views/register.js';
import { manageView } from './views/manage.js';
import { organiserView, organiserEventView } from './views/organiser.js';

const ID = '([a-z0-9][a-z0-9-]{0,62})';
const routes = [
  [/^\/$/, eventsView],
  [new RegExp(`^/events/${ID}$`), eventView],
  [new RegExp(`^/events/${ID}/register$`), registerView],
  [new RegExp(`^/events/${ID}/registered$`), receivedView],
  [new RegExp(`^/manage/events/${ID}/registrations/${ID}$`), manageView],
  [/^\/organiser$/, organiserView],
  [new RegExp(`^/organiser/events/${ID}$`), organiserEventView],
];

let controller = null;
let firstRender = true;

// parseHash splits "#/path?query" into its path and query.
function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const q = raw.indexOf('?');
  return {
    path: q < 0 ? raw : raw.slice(0, q),
    query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)),
  };
}

// go navigates to a route, with an optional query (an object; empty values
// are left out).
export function go(path, query) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
  }
  const s = qs.toString();
  const hash = '#' + path + (s ? '?' + s : '');
  if (location.hash === hash) render();
  else location.hash = hash;
}

// updateChrome puts the header and footer in the chosen language.
function updateChrome() {
  document.documentElement.lang = lang();
  const set = (id, key) => {
    const el = document.getElementById(id);
    if (el) el.textContent = t(key);
  };
  set('skip-link', 'skip');
  set('tagline', 'app.tagline');
  set('nav-events', 'nav.events');
  set('nav-organisers', 'nav.organisers');
  set('footer-text', 'footer.text');
  set('footer-api', 'footer.api');
  document.getElementById('site-nav')?.setAttribute('aria-label', t('nav.label'));
  const sw = document.getElementById('lang-switch');
  if (sw) {
    sw.textContent = t('lang.other');
    sw.lang = lang() === 'en' ? 'es' : 'en';
    sw.setAttribute('aria-label', t('lang.otherLabel'));
  }
  const { path } = parseHash();
  for (const [id, active] of [['nav-events', !path.startsWith('/organiser')], ['nav-organisers', path.startsWith('/organiser')]]) {
    const a = document.getElementById(id);
    if (active) a?.setAttribute('aria-current', 'page');
    else a?.removeAttribute('aria-current');
  }
}

// snapshot keeps what the user typed, by control id, so that switching the
// language does not lose a half-filled form.
function snapshot(root) {
  const values = {};
  for (const el of root.querySelectorAll('input[id], select[id], textarea[id]')) {
    values[el.id] = el.type === 'checkbox' || el.type === 'radio' ? el.checked : el.value;
  }
  return values;
}

function restore(root, values) {
  for (const [id, v] of Object.entries(values)) {
    const el = root.querySelector('#' + CSS.escape(id));
    if (!el) continue;
    if (el.type === 'checkbox' || el.type === 'radio') el.checked = v;
    else el.value = v;
  }
}

// render shows the view of the current fragment. Focus moves to the new
// page's heading (or where the view asks), so that keyboard and screen
// reader users start at the top of what changed.
async function render({ keepFocus = false, values = null } = {}) {
  controller?.abort();
  const ctl = new AbortController();
  controller = ctl;
  const { path, query } = parseHash();
  const main = document.getElementById('main');
  updateChrome();
  main.setAttribute('aria-busy', 'true');
  main.removeAttribute('data-ready');
  const route = routes.find(([re]) => re.test(path));
  // show replaces the content of main, unless this render was superseded.
  const show = (...nodes) => {
    if (!ctl.signal.aborted) replace(main, ...nodes);
  };
  let focus = null;
  try {
    if (!route) {
      show(h('h1', {}, t('error.notFound')), h('p', {}, h('a', { href: '#/' }, t('back.events'))));
    } else {
      show(h('p', { class: 'loading' }, t('loading')));
      focus = await route[1]({ main, show, params: path.match(route[0]).slice(1), query, signal: ctl.signal, go, rerender: render });
    }
  } catch (e) {
    if (e?.name === 'AbortError' || ctl.signal.aborted) return;
    show(h('h1', {}, t('error.heading')), errorBox(e));
  }
  if (ctl.signal.aborted) return;
  main.removeAttribute('aria-busy');
  // Tests (and anyone curious) can tell that the view of this very URL is
  // complete: data-ready holds the fragment it was rendered for.
  main.dataset.ready = location.hash;
  if (values) restore(main, values);
  const h1 = main.querySelector('h1');
  document.title = (h1 ? h1.textContent.trim() + ' · ' : '') + t('app.name');
  if (!firstRender && !keepFocus) {
    const target = focus instanceof HTMLElement ? focus : h1;
    if (target) {
      if (!target.hasAttribute('tabindex')) target.setAttribute('tabindex', '-1');
      target.focus();
    }
    if (!(focus instanceof HTMLElement)) window.scrollTo(0, 0);
  }
  firstRender = false;
}

function start() {
  setLang(lang());
  document.getElementById('lang-switch')?.addEventListener('click', () => {
    const main = document.getElementById('main');
    const values = snapshot(main);
    setLang(lang() === 'en' ? 'es' : 'en');
    render({ keepFocus: true, values });
  });
  // The skip link must not change the fragment: that is the router's.
  document.getElementById('skip-link')?.addEventListener('click', (e) => {
    e.preventDefault();
    document.getElementById('main')?.focus();
  });
  window.addEventListener('hashchange', () => render());
  render();
}

start();
