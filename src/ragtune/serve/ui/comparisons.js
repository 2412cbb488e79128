// Comparisons: the results folders of `ragtune compare` and each one's report.html (fetched with the key, shown
// in a sandboxed frame: reports quote passages, so the server gives them to admins only).

import { api, query } from "./api.js";
import { errorNote, h, showError } from "./dom.js";

let shown = null;

export async function render(root, ctx) {
  root.append(h("h1", { text: "Comparisons" }));
  const list = h("section", { class: "card", "aria-labelledby": "cmp-h" }, h("h2", { id: "cmp-h", text: "Results" }));
  const viewer = h("section", { class: "card report", "aria-label": "Report" });
  root.append(list, viewer);
  let found;
  try {
    found = (await api.get(`/v1/comparisons${query({ collection: ctx.collection })}`)).data || [];
  } catch (err) {
    list.append(errorNote(err));
    showError(err, "Comparisons");
    return;
  }
  if (!found.length) {
    list.append(h("p", { class: "muted", text: "No comparisons yet (ragtune compare writes them)." }));
    return;
  }
  list.append(
    h(
      "ul",
      { class: "results" },
      found.map((c) =>
        h(
          "li",
          {},
          c.report === false
            ? h("span", { text: `${c.name} (no report.html: run ragtune report on it)` })
            : h("button", { type: "button", class: "linkish", text: c.name, onclick: () => show(c, viewer) }),
          c.created ? h("span", { class: "muted", text: ` · ${c.created}` }) : null,
          c.strategies && c.strategies.length ? h("span", { class: "muted", text: ` · ${[].concat(c.strategies).join(", ")}` }) : null,
          c.examples ? h("span", { class: "muted", text: ` · ${c.examples} questions` }) : null,
        ),
      ),
    ),
  );
}

async function show(c, viewer) {
  viewer.replaceChildren(h("h2", { text: c.name }), h("p", { class: "muted", text: "Loading the report…" }));
  try {
    const html = await api.text(`/v1/comparisons/${encodeURIComponent(c.name)}/report.html`);
    if (shown) URL.revokeObjectURL(shown);
    shown = URL.createObjectURL(new Blob([html], { type: "text/html" }));
    viewer.replaceChildren(
      h("h2", { text: c.name }),
      h("p", {}, h("a", { href: shown, target: "_blank", rel: "noopener", text: "Open the report in a new tab" })),
      h("iframe", { src: shown, title: `Report ${c.name}`, sandbox: "allow-same-origin", class: "report-frame" }),
    );
  } catch (err) {
    viewer.replaceChildren(h("h2", { text: c.name }), errorNote(err));
    showError(err, "Report");
  }
}
