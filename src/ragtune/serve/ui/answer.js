// An answer as the UI shows it: text with [n] citations as buttons that open the cited passage, and a meta line
// (KB version, latency, tokens). Used by the chat and the side-by-side pages.

import { api, query } from "./api.js";
import { append, clear, errorNote, fmtMs, h } from "./dom.js";

export function docPath(docId) {
  return `/v1/documents/${docId.split("/").map(encodeURIComponent).join("/")}`;
}

// Text with "[n]" markers → text nodes and buttons (markers naming no citation stay text).
export function renderAnswerText(el, text, citations, collection) {
  clear(el);
  const byN = new Map((citations || []).map((c) => [c.n, c]));
  // Shown as written, except that runs of blank lines (small models emit many) are cut to one.
  const parts = text.trim().replace(/\n{3,}/g, "\n\n").split(/(\[\d+\])/);
  for (const part of parts) {
    const m = /^\[(\d+)\]$/.exec(part);
    const c = m && byN.get(Number(m[1]));
    if (c) {
      el.append(
        h("button", {
          type: "button",
          class: "cite",
          text: `[${c.n}]`,
          "aria-label": `Source ${c.n}: ${c.title || c.source || c.doc_id}`,
          onclick: () => openSource(c, collection),
        }),
      );
    } else if (part) {
      el.append(document.createTextNode(part));
    }
  }
}

// The headings under the document title (the title is often the first heading too).
export function headings(c) {
  const path = c.heading_path || [];
  return path.length && path[0] === c.title ? path.slice(1) : path;
}

export function citationList(citations, collection) {
  if (!citations || !citations.length) return h("p", { class: "muted", text: "No citations." });
  return h(
    "ol",
    { class: "citations", "aria-label": "Citations" },
    [...citations].sort((a, b) => a.n - b.n).map((c) =>
      h(
        "li",
        { value: c.n },
        h("button", {
          type: "button",
          class: "linkish",
          text: `${c.title || c.doc_id}${headings(c).length ? ` › ${headings(c).join(" › ")}` : ""}`,
          "aria-label": `Open source ${c.n}: ${c.title || c.doc_id}`,
          onclick: () => openSource(c, collection),
        }),
        c.page ? h("span", { class: "muted", text: ` p. ${c.page}` }) : null,
      ),
    ),
  );
}

export function metaLine(result) {
  const u = result.usage || {};
  const bits = [
    ["KB version", result.kb_version ?? "–"],
    ["first token", fmtMs(result.first_ms)],
    ["latency", fmtMs(result.total_ms)],
    ["tokens", u.total_tokens !== undefined ? `${u.prompt_tokens} in / ${u.completion_tokens} out` : "–"],
  ];
  return h(
    "dl",
    { class: "meta" },
    bits.map(([k, v]) => h("div", {}, h("dt", { text: k }), h("dd", { text: String(v), "data-meta": k }))),
  );
}

// Text most of whose lines are Markdown table rows ("| a | b |"): shown in a monospace font so columns line up.
export function isTabular(text) {
  const lines = (text || "").split("\n").filter((l) => l.trim());
  const rows = lines.filter((l) => /^\s*\|.*\|\s*$/.test(l));
  return rows.length >= 2 && rows.length * 2 >= lines.length;
}

const norm = (t) => (t || "").replace(/\s+/g, " ").trim();

// The passage of a document that a citation quotes: same text, or the one containing (or contained in) it.
export function findCited(passages, citation) {
  const want = norm(citation.text).replace(/…$/, "");
  if (!want) return -1;
  let i = passages.findIndex((p) => norm(p.text) === want);
  if (i < 0) i = passages.findIndex((p) => norm(p.text).includes(want) || want.includes(norm(p.text)));
  if (i < 0) {
    const head = want.slice(0, 60);
    i = passages.findIndex((p) => norm(p.text).includes(head));
  }
  return i;
}

export async function openSource(citation, collection) {
  const dialog = document.getElementById("source");
  const body = clear(document.getElementById("source-body"));
  document.getElementById("source-title").textContent = citation.title || citation.doc_id;
  const where = h("p", { class: "where" });
  const path = headings(citation).join(" › ");
  append(where, [
    h("span", { class: "doc-id", text: citation.source || citation.doc_id }),
    path ? h("span", { text: ` · ${path}` }) : null,
    citation.page ? h("span", { text: ` · page ${citation.page}` }) : null,
  ]);
  body.append(where);
  const loading = h("p", { class: "muted", text: "Loading the document…" });
  body.append(loading);
  if (!dialog.open) dialog.showModal();
  try {
    const doc = await api.get(`${docPath(citation.doc_id)}${query({ collection })}`);
    loading.remove();
    body.append(documentView(doc, findCited(doc.passages || [], citation)));
    const mark = body.querySelector("mark");
    if (mark) mark.scrollIntoView({ block: "center" });
  } catch (err) {
    loading.remove();
    body.append(errorNote(err), h("blockquote", { class: "cited" }, h("mark", { text: citation.text })));
  }
}

// A document's passages in order; passage `cited` (an index) highlighted.
export function documentView(doc, cited = -1) {
  const out = h("div", { class: "document" });
  out.append(h("p", { class: "muted", text: `${doc.doc_id} · version ${doc.version ?? "–"}` }));
  let lastHeading = null;
  (doc.passages || []).forEach((p, i) => {
    const heading = (p.heading_path || []).join(" › ");
    if (heading && heading !== lastHeading) {
      out.append(h("h3", { class: "heading-path", text: heading }));
      lastHeading = heading;
    }
    const para = h("p", {
      class: "passage",
      "data-ord": p.ord,
      "data-start": p.start,
      "data-end": p.end,
    });
    if (isTabular(p.text)) para.classList.add("tabular");
    if (i === cited) {
      para.classList.add("cited");
      para.append(h("mark", { text: p.text }));
    } else {
      para.textContent = p.text;
    }
    if (p.page) para.append(h("span", { class: "page", text: ` p. ${p.page}` }));
    out.append(para);
  });
  if (cited < 0 && (doc.passages || []).length) {
    out.prepend(h("p", { class: "note", text: "The cited passage is not in this version of the document." }));
  }
  return out;
}
