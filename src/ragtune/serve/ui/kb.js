// Knowledge base: documents (search and filters), upload with ingest progress, version history with rollback,
// and a text diff between any two versions.

import { api, query } from "./api.js";
import { docPath, documentView } from "./answer.js";
import { append, clear, errorNote, h, labelled, showError, showInfo } from "./dom.js";

export async function render(root, ctx, stale) {
  const collection = ctx.collection;
  root.append(h("h1", { text: `Knowledge base${collection ? `: ${collection}` : ""}` }));
  const docs = h("section", { class: "card", "aria-labelledby": "docs-h" });
  const upload = h("section", { class: "card", "aria-labelledby": "upload-h" });
  const history = h("section", { class: "card", "aria-labelledby": "history-h" });
  const diff = h("section", { class: "card", "aria-labelledby": "diff-h" });
  root.append(docs, upload, history, diff);

  let versions = [];
  const reloadAll = async () => {
    versions = await loadVersions();
    if (stale()) return;
    fillVersionSelects();
    renderHistory();
    await search();
  };

  // -- documents ---------------------------------------------------------------------------------
  const q = h("input", { type: "search", id: "doc-q", name: "q", placeholder: "words in the title or id" });
  const at = h("select", { id: "doc-at", name: "at" });
  const kind = h("select", { id: "doc-kind", name: "kind" }, h("option", { value: "", text: "any type" }));
  const access = h("select", { id: "doc-acl", name: "acl" }, h("option", { value: "", text: "any access" }));
  const searchForm = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Find documents" },
    labelled("Search documents", q),
    labelled("At version", at),
    labelled("Type", kind),
    labelled("Access", access),
    h("button", { type: "submit", text: "Search" }),
  );
  const docList = h("div", { class: "doc-list" });
  docs.append(h("h2", { id: "docs-h", text: "Documents" }), searchForm, docList);
  let rows = [];

  async function search() {
    clear(docList);
    try {
      const found = await api.get(`/v1/documents${query({ collection, q: q.value.trim(), at: at.value, limit: 200 })}`);
      rows = found.data || [];
      fillFilters();
      showDocs(found.version);
    } catch (err) {
      docList.append(errorNote(err));
      showError(err, "Documents");
    }
  }

  function typeOf(d) {
    const m = /\.([a-z0-9]+)$/i.exec(d.source || d.doc_id || "");
    return m ? m[1].toLowerCase() : "other";
  }

  function aclOf(d) {
    return d.acl && d.acl.length ? d.acl : ["*"];
  }

  function fillFilters() {
    const keep = (select, values, label) => {
      const was = select.value;
      clear(select).append(h("option", { value: "", text: label }));
      for (const v of [...values].sort()) select.append(h("option", { value: v, text: v === "*" ? "everyone" : v }));
      select.value = values.has(was) ? was : "";
    };
    keep(kind, new Set(rows.map(typeOf)), "any type");
    keep(access, new Set(rows.flatMap(aclOf)), "any access");
  }

  function showDocs(version) {
    clear(docList);
    const shown = rows.filter((d) => (!kind.value || typeOf(d) === kind.value) && (!access.value || aclOf(d).includes(access.value)));
    docList.append(h("p", { class: "muted", id: "doc-count", text: `${shown.length} of ${rows.length} documents at version ${version ?? "–"}` }));
    if (!shown.length) return;
    docList.append(
      h(
        "table",
        { class: "docs" },
        h("thead", {}, h("tr", {}, ["Title", "Document", "Revision", "Access"].map((t) => h("th", { scope: "col", text: t })))),
        h(
          "tbody",
          {},
          shown.map((d) =>
            h(
              "tr",
              {},
              h("td", {}, h("button", { type: "button", class: "linkish", text: d.title || d.doc_id, onclick: () => openDoc(d) })),
              h("td", { class: "doc-id", text: d.doc_id }),
              h("td", { text: String(d.revision ?? "") }),
              h("td", { text: aclOf(d).map((g) => (g === "*" ? "everyone" : g)).join(", ") }),
            ),
          ),
        ),
      ),
    );
  }

  async function openDoc(d) {
    const dialog = document.getElementById("source");
    document.getElementById("source-title").textContent = d.title || d.doc_id;
    const body = clear(document.getElementById("source-body"));
    if (!dialog.open) dialog.showModal();
    try {
      body.append(documentView(await api.get(`${docPath(d.doc_id)}${query({ collection, at: at.value })}`)));
    } catch (err) {
      body.append(errorNote(err));
    }
  }

  searchForm.addEventListener("submit", (event) => {
    event.preventDefault();
    search();
  });
  kind.addEventListener("change", () => showDocs(at.value || (versions[versions.length - 1] || {}).version));
  access.addEventListener("change", () => showDocs(at.value || (versions[versions.length - 1] || {}).version));

  // -- upload ------------------------------------------------------------------------------------
  const files = h("input", { type: "file", id: "upload-files", name: "files", multiple: true });
  const acl = h("input", { type: "text", id: "upload-acl", name: "acl", placeholder: "e.g. support,sales (empty: everyone)" });
  const send = h("button", { type: "submit", id: "upload-send", text: "Upload and ingest" });
  const progress = h("div", { class: "job", "aria-live": "polite" });
  const uploadForm = h("form", { class: "upload", "aria-label": "Upload files" }, labelled("Files", files), labelled("Access groups", acl), send);
  upload.append(h("h2", { id: "upload-h", text: "Upload" }), uploadForm, progress);
  if (ctx.me && ctx.me.role === "reader") {
    upload.append(h("p", { class: "muted", text: "Uploading needs an editor or admin key; the server will refuse a reader's." }));
  }

  uploadForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!files.files.length) {
      showError(new Error("choose one or more files first"), "Upload");
      return;
    }
    const form = new FormData();
    if (collection) form.append("collection", collection);
    for (const f of files.files) form.append("files", f, f.name);
    if (acl.value.trim()) form.append("acl", acl.value.trim());
    send.disabled = true;
    clear(progress);
    try {
      const { job } = await api.upload("/v1/uploads", form);
      const done = await watchJob(job, progress, stale);
      if (done && done.state === "done") {
        const failed = (done.errors || []).length;
        showInfo(`Ingest finished: ${done.total - failed} of ${done.total} files stored${failed ? `, ${failed} failed` : ""}; version ${done.version ?? "unchanged"}`);
        files.value = "";
        await ctx.refreshCollections();
        if (!stale()) await reloadAll();
      }
    } catch (err) {
      progress.append(errorNote(err));
      showError(err, "Upload");
    } finally {
      send.disabled = false;
    }
  });

  // -- history and rollback ----------------------------------------------------------------------
  const historyBody = h("div");
  history.append(h("h2", { id: "history-h", text: "Version history" }), historyBody);

  async function loadVersions() {
    try {
      return (await api.get(`/v1/versions${query({ collection })}`)).data || [];
    } catch (err) {
      showError(err, "Versions");
      return [];
    }
  }

  function renderHistory() {
    clear(historyBody);
    if (!versions.length) {
      historyBody.append(h("p", { class: "muted", text: "No versions yet." }));
      return;
    }
    const head = versions.reduce((m, v) => Math.max(m, v.version), 0);
    if (!ctx.isAdmin) historyBody.append(h("p", { class: "muted", text: "Rolling back needs an admin key; the server refuses other roles." }));
    historyBody.append(
      h(
        "table",
        { class: "versions" },
        h("thead", {}, h("tr", {}, ["Version", "When", "Operation", "Added", "Updated", "Removed", "Message", ""].map((t) => h("th", { scope: "col", text: t })))),
        h(
          "tbody",
          {},
          [...versions].reverse().map((v) =>
            h(
              "tr",
              { "data-version": v.version },
              h("td", { text: String(v.version) }),
              h("td", { text: v.created_at || "" }),
              h("td", { text: v.operation || "" }),
              h("td", { text: String(v.added ?? "") }),
              h("td", { text: String(v.updated ?? "") }),
              h("td", { text: String(v.removed ?? "") }),
              h("td", { class: "msg", text: v.message || "" }),
              h(
                "td",
                {},
                v.version === head
                  ? h("span", { class: "muted", text: "current" })
                  : h("button", {
                      type: "button",
                      class: "secondary rollback",
                      text: `Roll back to ${v.version}`,
                      "aria-label": `Roll back to version ${v.version}${ctx.isAdmin ? "" : " (admin only)"}`,
                      onclick: (e) => rollback(v.version, e.currentTarget),
                    }),
              ),
            ),
          ),
        ),
      ),
    );
  }

  async function rollback(version, button) {
    if (!window.confirm(`Roll the collection back to version ${version}? This writes a new version.`)) return;
    button.disabled = true;
    try {
      const result = await api.post("/v1/rollback", { collection, version });
      showInfo(`Rolled back to version ${version}: now at version ${result.version ?? "?"}`);
      await ctx.refreshCollections();
      if (!stale()) await reloadAll();
    } catch (err) {
      button.disabled = false;
      for (const note of historyBody.querySelectorAll(".note.error")) note.remove();
      historyBody.prepend(errorNote(err));
      showError(err, "Rollback");
    }
  }

  // -- diff --------------------------------------------------------------------------------------
  const a = h("select", { id: "diff-a", name: "a" });
  const b = h("select", { id: "diff-b", name: "b" });
  const diffOut = h("div", { class: "diff-out", "aria-live": "polite" });
  const diffForm = h("form", { class: "filters", "aria-label": "Compare versions" }, labelled("From version", a), labelled("To version", b), h("button", { type: "submit", id: "diff-run", text: "Show diff" }));
  diff.append(h("h2", { id: "diff-h", text: "Diff between versions" }), diffForm, diffOut);
  diffForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(diffOut);
    try {
      const d = await api.get(`/v1/diff${query({ collection, a: a.value, b: b.value })}`);
      diffOut.append(diffView(d));
    } catch (err) {
      diffOut.append(errorNote(err));
      showError(err, "Diff");
    }
  });

  function fillVersionSelects() {
    const numbers = versions.map((v) => v.version);
    const fill = (select, value, withLatest) => {
      clear(select);
      if (withLatest) select.append(h("option", { value: "", text: "latest" }));
      for (const n of numbers) select.append(h("option", { value: n, text: `version ${n}` }));
      if (value !== undefined) select.value = String(value);
    };
    const was = at.value;
    fill(at, was, true);
    fill(a, numbers.length > 1 ? numbers[numbers.length - 2] : numbers[0]);
    fill(b, numbers[numbers.length - 1]);
  }

  await reloadAll();
}

export function diffView(d) {
  const out = h("div", { class: "diff" });
  const list = (label, ids, cls) =>
    ids && ids.length ? h("p", { class: cls }, h("strong", { text: `${label}: ` }), ids.join(", ")) : null;
  append(out, [list("Added", d.added, "added"), list("Removed", d.removed, "removed"), list("Changed", d.changed, "changed")]);
  if (!(d.added || []).length && !(d.removed || []).length && !(d.changed || []).length) {
    out.append(h("p", { class: "muted", text: "No document differs between these versions." }));
  }
  for (const [docId, text] of Object.entries(d.texts || {})) {
    if (!text) continue;
    const pre = h("pre", { class: "unified", "aria-label": `Changes to ${docId}`, tabindex: 0 });
    for (const line of text.split("\n")) {
      let cls = "ctx";
      if (line.startsWith("+++") || line.startsWith("---")) cls = "file";
      else if (line.startsWith("@@")) cls = "hunk";
      else if (line.startsWith("+")) cls = "add";
      else if (line.startsWith("-")) cls = "del";
      pre.append(h("span", { class: `line ${cls}`, text: line }), "\n");
    }
    out.append(h("h3", { class: "doc-id", text: docId }), pre);
  }
  return out;
}

// Poll a job until it ends: a <progress>, the state, and each file's error as it appears.
async function watchJob(id, el, stale) {
  const bar = h("progress", { max: 1, value: 0, "aria-label": "Ingest progress" });
  const status = h("p", { class: "job-state", text: "queued" });
  const errors = h("ul", { class: "file-errors", "aria-label": "Files that failed" });
  el.append(bar, status, errors);
  for (;;) {
    const job = await api.get(`/v1/jobs/${encodeURIComponent(id)}`);
    bar.max = Math.max(job.total || 0, 1);
    bar.value = job.done || 0;
    status.textContent = `${job.state}: ${job.done ?? 0} of ${job.total ?? "?"} files${job.version ? ` · version ${job.version}` : ""}`;
    clear(errors);
    for (const e of job.errors || []) errors.append(h("li", {}, h("span", { class: "doc-id", text: e.file }), `: ${e.reason}`));
    if (job.state !== "running" && job.state !== "queued") {
      if (job.state === "failed") showError(new Error(job.error || "the ingest failed; see the file errors"), "Upload");
      return job;
    }
    if (stale()) return null;
    await new Promise((r) => setTimeout(r, 300));
  }
}
