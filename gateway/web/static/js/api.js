// Calls to Convene's HTTP/JSON API (the same one every web client uses).

const TOKEN_KEY = 'convene.token';

// ApiError is a failed call: the HTTP status (0 when the service could not
// be reached) and what the google.rpc.Status body says.
export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    super(body?.message || (status ? 'HTTP ' + status : 'network error'));
    this.status = status;
    this.reason = '';
    this.violations = [];
    this.retryAfter = Number(retryAfter) || 0;
    for (const d of body?.details || []) {
      if (d['@type'] === 'type.googleapis.com/google.rpc.ErrorInfo') this.reason = d.reason || '';
      if (d['@type'] === 'type.googleapis.com/google.rpc.BadRequest') {
        for (const v of d.fieldViolations || []) this.violations.push({ field: v.field || '', description: v.description || '' });
      }
    }
  }
}

// token is the organiser's or focal point's token, kept for this tab only.
export function token() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) || '';
  } catch {
    return '';
  }
}

export function setToken(value) {
  try {
    if (value) sessionStorage.setItem(TOKEN_KEY, value);
    else sessionStorage.removeItem(TOKEN_KEY);
  } catch {
    // Without storage the token lasts until the page reloads.
  }
}

function url(path, query) {
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== '') qs.set(k, String(v));
  }
  const s = qs.toString();
  return s ? path + '?' + s : path;
}

async function send(method, path, { body, query, auth, secret, signal } = {}) {
  const headers = {};
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (auth) headers.Authorization = 'Bearer ' + auth;
  if (secret) headers['X-Registration-Secret'] = secret;
  try {
    return await fetch(url(path, query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
      cache: 'no-store',
      credentials: 'omit',
      referrerPolicy: 'no-referrer',
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, null);
  }
}

// call sends a request and returns the decoded JSON, or throws an ApiError.
// Options: body, query, auth (a bearer token), secret (a registrant's), signal.
export async function call(method, path, opts) {
  const resp = await send(method, path, opts);
  const text = await resp.text();
  let data = {};
  try {
    data = text ? JSON.parse(text) : {};
  } catch {
    data = {};
  }
  if (!resp.ok) throw new ApiError(resp.status, data, resp.headers.get('Retry-After'));
  return data;
}

// download fetches a file (with the token when given) and saves it under
// filename, as a link to a Blob: a plain link could not send the token.
export async function download(path, filename, opts) {
  const resp = await send('GET', path, opts);
  if (!resp.ok) {
    let data = {};
    try {
      data = await resp.json();
    } catch {
      data = {};
    }
    throw new ApiError(resp.status, data);
  }
  const blob = await resp.blob();
  const href = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = href;
  a.download = filename;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 10000);
}

// exists reports whether a GET of path answers 2xx with a content type that
// starts with type: the page offers what the API has (the calendar file
// may not be there yet).
export async function exists(path, type, opts) {
  try {
    const resp = await send('GET', path, opts);
    return resp.ok && (resp.headers.get('Content-Type') || '').startsWith(type);
  } catch {
    return false;
  }
}

// uuid makes a request id, so that a retried submission is not a second
// registration: a UUID version 7 (RFC 9562), the time in milliseconds and
// then random bits, so that ids sort in the order they were made (handy in
// logs; the service takes any UUID at the same cost). crypto.randomUUID
// makes version 4 ids and needs a secure context; this does neither.
export function uuid(now = Date.now()) {
  const b = crypto.getRandomValues(new Uint8Array(16));
  for (let i = 5, ms = now; i >= 0; i--, ms = Math.floor(ms / 256)) {
    b[i] = ms % 256;
  }
  b[6] = (b[6] & 0x0f) | 0x70;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

// id returns the last part of a resource name: events/x → x.
export function id(name) {
  return String(name || '').split('/').pop();
}
