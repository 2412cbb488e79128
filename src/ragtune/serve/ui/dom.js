// Small DOM helpers: elements are built with textContent, never innerHTML, so no text from the API is parsed as HTML.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

const SVG = "http://www.w3.org/2000/svg";

export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const child of children.flat(Infinity)) {
    if (child !== undefined && child !== null) el.append(child instanceof Node ? child : document.createTextNode(child));
  }
  return el;
}

// Messages: errors from the API are always shown, never swallowed.
export function showError(err, where = "") {
  const box = document.getElementById("messages");
  const text = `${where ? `${where}: ` : ""}${err && err.message ? err.message : String(err)}`;
  const item = h(
    "div",
    { class: "message error" },
    h("span", { text }),
    h("button", { type: "button", class: "dismiss", "aria-label": "Dismiss message", onclick: () => item.remove() }, "×"),
  );
  box.append(item);
  return item;
}

export function showInfo(text) {
  const box = document.getElementById("messages");
  const item = h(
    "div",
    { class: "message info" },
    h("span", { text }),
    h("button", { type: "button", class: "dismiss", "aria-label": "Dismiss message", onclick: () => item.remove() }, "×"),
  );
  box.append(item);
  setTimeout(() => item.remove(), 6000);
  return item;
}

export function clearMessages() {
  clear(document.getElementById("messages"));
}

// An inline error inside a section (next to what failed), in addition to the banner.
export function errorNote(err) {
  return h("p", { class: "note error", role: "status", text: err && err.message ? err.message : String(err) });
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined) return "–";
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${Math.round(ms)} ms`;
}

export function labelled(labelText, control) {
  const id = control.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  control.id = id;
  return h("div", { class: "field" }, h("label", { for: id, text: labelText }), control);
}
