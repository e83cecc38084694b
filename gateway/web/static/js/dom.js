// Small helpers to build the page from elements. Text always goes in as
// text nodes (never as HTML), so nothing from the API can inject markup.

// h makes an element: h('a', {href: '#/', class: 'x'}, 'text', child, [more]).
// Attributes: on<event> adds a listener; true sets an empty attribute; false,
// null and undefined leave it out; value, checked, selected and disabled are
// set as properties.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'value' || key === 'checked' || key === 'selected' || key === 'disabled') {
      el[key] = value;
    } else {
      el.setAttribute(key, value === true ? '' : String(value));
    }
  }
  append(el, children);
  return el;
}

// append adds children (strings, nodes, nested arrays; null and false are skipped).
export function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

// replace empties el and fills it with children.
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

// option makes an <option>; selected when value equals current.
export function option(value, label, current) {
  return h('option', { value, selected: value === current }, label);
}

// field makes a labelled form control with a hint and a place for its
// error: the label's "for", the hint's and the error's ids are all derived
// from the control's id.
export function field({ id, label, control, hint, required }) {
  const describedBy = [hint ? id + '-hint' : null, id + '-error'].filter(Boolean).join(' ');
  control.setAttribute('aria-describedby', describedBy);
  if (required) {
    control.setAttribute('aria-required', 'true');
  }
  return h('div', { class: 'field', id: id + '-field' },
    h('label', { for: id }, label, required ? h('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : null),
    hint ? h('p', { class: 'hint', id: id + '-hint' }, hint) : null,
    h('p', { class: 'field-error', id: id + '-error', hidden: true }),
    control);
}

// setFieldError shows (or, with an empty message, clears) the error of the
// control with this id.
export function setFieldError(id, message) {
  const control = document.getElementById(id);
  const err = document.getElementById(id + '-error');
  const wrap = document.getElementById(id + '-field');
  if (!control || !err) return false;
  if (message) {
    err.textContent = message;
    err.hidden = false;
    control.setAttribute('aria-invalid', 'true');
    wrap?.classList.add('has-error');
  } else {
    err.textContent = '';
    err.hidden = true;
    control.removeAttribute('aria-invalid');
    wrap?.classList.remove('has-error');
  }
  return true;
}
