// The ragtune web UI: hash routes, sign-in and the collection picker; each page is a module of its own.

import { ApiError, api, getKey, query, setKey } from "./api.js";
import { clear, clearMessages, h, labelled, showError } from "./dom.js";
import * as chat from "./chat.js";
import * as comparisons from "./comparisons.js";
import * as kb from "./kb.js";
import * as side from "./side.js";
import * as training from "./training.js";

const PAGES = { chat, side, kb, training, comparisons };
const COLLECTION = "ragtune.collection";

const state = { me: null, noKey: false, collections: [], models: new Map(), booted: false };

// What pages get: the signed-in caller, the chosen collection, the strategies offered for it.
export const ctx = {
  get me() {
    return state.me;
  },
  get collection() {
    return sessionStorage.getItem(COLLECTION) || (state.collections[0] && state.collections[0].name) || "";
  },
  get isAdmin() {
    return Boolean(state.me && (state.me.role === "admin" || state.noKey));
  },
  async models() {
    const c = ctx.collection;
    if (!state.models.has(c)) {
      // With several collections the server names models STRATEGY@COLLECTION; pages show the strategy and send
      // the collection in the body.
      const strip = (m) => ({ ...m, id: m.collection && m.id.endsWith(`@${m.collection}`) ? m.id.slice(0, -m.collection.length - 1) : m.id });
      state.models.set(c, api.get(`/v1/models${query({ collection: c })}`).then((r) => (r.data || []).map(strip)));
    }
    try {
      return await state.models.get(c);
    } catch (err) {
      state.models.delete(c);
      throw err;
    }
  },
  // The chat completions model for a strategy: its name; the collection goes in the body's "collection".
  modelFor(id) {
    return id;
  },
  refreshCollections: () => loadCollections(),
};

async function whoAmI() {
  try {
    state.me = await api.get("/v1/me");
    state.noKey = !getKey();
  } catch (err) {
    state.me = null;
    state.noKey = false;
    if (!(err instanceof ApiError && err.status === 401)) throw err;
  }
}

async function loadCollections() {
  const select = document.getElementById("collection");
  clear(select);
  state.collections = [];
  state.models.clear();
  if (!state.me) {
    select.disabled = true;
    return;
  }
  const found = await api.get("/v1/collections");
  state.collections = found.data || [];
  const chosen = sessionStorage.getItem(COLLECTION);
  if (!state.collections.some((c) => c.name === chosen)) sessionStorage.removeItem(COLLECTION);
  for (const c of state.collections) {
    select.append(
      h("option", { value: c.name, text: `${c.name} (v${c.version ?? "–"}, ${c.documents ?? "?"} docs)` }),
    );
  }
  select.value = ctx.collection;
  select.disabled = state.collections.length === 0;
}

function showIdentity() {
  const who = document.getElementById("identity");
  const link = document.getElementById("signin-link");
  if (!state.me) {
    who.textContent = "not signed in";
    link.textContent = "Sign in";
  } else if (state.noKey) {
    who.textContent = "no key needed";
    link.textContent = "Key";
  } else {
    who.textContent = `${state.me.name} (${state.me.role})`;
    link.textContent = "Sign out";
  }
}

function signInPage(root) {
  root.append(h("h1", { text: "Sign in" }));
  if (state.noKey) {
    root.append(
      h("p", { class: "note", text: "This server needs no key: every page is open to you." }),
      h("p", {}, h("a", { href: "#/chat", text: "Go to the chat" })),
    );
    return;
  }
  if (state.me) {
    root.append(
      h("p", { text: `Signed in as ${state.me.name}, role ${state.me.role}.` }),
      h("p", { text: `Collections: ${(state.me.collections || []).join(", ") || "–"}; groups: ${(state.me.groups || []).join(", ") || "–"}.` }),
      h("button", { type: "button", id: "sign-out", onclick: signOut, text: "Sign out" }),
    );
    return;
  }
  const key = h("input", { type: "password", id: "api-key", name: "key", autocomplete: "off", required: true });
  const form = h(
    "form",
    { class: "card signin", "aria-label": "Sign in with an API key" },
    h("p", { text: "Paste the API key you were given (ragtune keys create prints it once). It is kept in this tab only." }),
    labelled("API key", key),
    h("button", { type: "submit", text: "Sign in" }),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearMessages();
    setKey(key.value.trim());
    try {
      await whoAmI();
      if (!state.me) throw new ApiError(401, "that key was not accepted");
      await loadCollections();
      showIdentity();
      location.hash = "#/chat";
    } catch (err) {
      setKey("");
      showError(err, "Sign in");
      key.focus();
    }
  });
  root.append(form);
  key.focus();
}

async function signOut() {
  setKey("");
  sessionStorage.removeItem(COLLECTION);
  await start();
}

let rendering = 0;

async function route() {
  const name = (location.hash.replace(/^#\/?/, "").split("/")[0] || "chat").toLowerCase();
  // Each render gets its own container: a render overtaken by a newer one (a quick click, a collection change)
  // keeps filling a detached element instead of the page.
  const root = h("div", { class: "page" });
  document.getElementById("view").replaceChildren(root);
  const mine = ++rendering;
  for (const a of document.querySelectorAll("nav a[data-page]")) {
    if (a.dataset.page === name) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (name === "signin" || !state.me) {
    signInPage(root);
    return;
  }
  const page = PAGES[name];
  if (!page) {
    root.append(h("h1", { text: "Not found" }), h("p", { text: `There is no page ${name}.` }));
    return;
  }
  try {
    await page.render(root, ctx, () => mine !== rendering);
  } catch (err) {
    if (mine === rendering) {
      showError(err);
      root.append(h("p", { class: "note error", text: err.message }));
    }
  }
}

async function start() {
  clearMessages();
  try {
    await whoAmI();
    await loadCollections();
  } catch (err) {
    showError(err, "Starting");
  }
  showIdentity();
  await route();
}

document.getElementById("collection").addEventListener("change", (event) => {
  sessionStorage.setItem(COLLECTION, event.target.value);
  route();
});
document.getElementById("signin-link").addEventListener("click", (event) => {
  if (state.me && !state.noKey) {
    event.preventDefault();
    signOut();
  }
});
document.getElementById("source-close").addEventListener("click", () => document.getElementById("source").close());
window.addEventListener("hashchange", () => {
  clearMessages();
  route().then(() => document.getElementById("view").focus({ preventScroll: true }));
});
start();
