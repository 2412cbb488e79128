// Training and models: runs with their loss curves (inline SVG, no chart library) and the model registry with
// lineage and staleness.

import { api, query } from "./api.js";
import { errorNote, h, s, showError } from "./dom.js";

export async function render(root, ctx) {
  const collection = ctx.collection;
  root.append(h("h1", { text: "Training and models" }));
  const runs = h("section", { class: "card", "aria-labelledby": "runs-h" }, h("h2", { id: "runs-h", text: "Training runs" }));
  const models = h("section", { class: "card", "aria-labelledby": "models-h" }, h("h2", { id: "models-h", text: "Registered models" }));
  root.append(runs, models);
  const [r, m] = await Promise.allSettled([
    api.get(`/v1/runs${query({ collection })}`),
    api.get(`/v1/registry${query({ collection })}`),
  ]);
  if (r.status === "fulfilled") runs.append(runList(r.value.data || []));
  else {
    runs.append(errorNote(r.reason));
    showError(r.reason, "Runs");
  }
  if (m.status === "fulfilled") models.append(modelTable(m.value.data || []));
  else {
    models.append(errorNote(m.reason));
    showError(m.reason, "Registry");
  }
}

function fmt(v) {
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toPrecision(4);
  if (v === null || v === undefined) return "–";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

function dl(obj, cls) {
  const entries = Object.entries(obj || {});
  if (!entries.length) return null;
  return h("dl", { class: cls }, entries.map(([k, v]) => [h("dt", { text: k }), h("dd", { text: fmt(v) })]));
}

function runList(runs) {
  if (!runs.length) return h("p", { class: "muted", text: "No training runs yet (ragtune train records them)." });
  return h(
    "div",
    { class: "runs" },
    runs.map((run) =>
      h(
        "article",
        { class: "run", "data-run": run.name },
        h("h3", {}, run.name, h("span", { class: `badge ${run.status || ""}`, text: run.status || "" })),
        lossChart(run.loss || [], run.name, run.eval_loss || []),
        h("details", {}, h("summary", { text: "Parameters and metrics" }), dl(run.params, "params"), dl(run.metrics, "metrics")),
      ),
    ),
  );
}

// A loss curve as an SVG line chart: axes with min/max labels, training loss (and validation loss, dashed).
export function lossChart(points, name = "", evals = []) {
  const W = 480;
  const H = 200;
  const L = 48;
  const B = 28;
  const T = 10;
  const R = 12;
  if (!points.length) return h("p", { class: "muted", text: "No loss recorded." });
  const all = points.concat(evals);
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y0 === y1) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const px = (x) => (L + ((x - x0) / (x1 - x0 || 1)) * (W - L - R)).toFixed(1);
  const py = (y) => (T + (1 - (y - y0) / (y1 - y0)) * (H - T - B)).toFixed(1);
  const path = (pts) => pts.map((p) => `${px(p[0])},${py(p[1])}`).join(" ");
  const first = points[0][1];
  const last = points[points.length - 1][1];
  const dots = (pts, cls) =>
    pts.length <= 60 ? pts.map((p) => s("circle", { cx: px(p[0]), cy: py(p[1]), r: 2.5, class: cls }, s("title", {}, `step ${p[0]}: ${fmt(p[1])}`))) : [];
  const evalText = evals.length ? `; validation loss ${fmt(evals[evals.length - 1][1])} at step ${evals[evals.length - 1][0]}` : "";
  const svg = s(
    "svg",
    {
      viewBox: `0 0 ${W} ${H}`,
      class: "chart",
      role: "img",
      "aria-label": `Training loss of ${name}: ${points.length} points from ${fmt(first)} to ${fmt(last)} (steps ${x0} to ${x1})${evalText}`,
    },
    s("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }),
    s("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }),
    s("text", { x: L - 6, y: T + 4, "text-anchor": "end", class: "tick" }, fmt(y1)),
    s("text", { x: L - 6, y: H - B, "text-anchor": "end", class: "tick" }, fmt(y0)),
    s("text", { x: L, y: H - 8, "text-anchor": "start", class: "tick" }, `step ${x0}`),
    s("text", { x: W - R, y: H - 8, "text-anchor": "end", class: "tick" }, `step ${x1}`),
    s("polyline", { points: path(points), class: "loss" }),
    dots(points, "dot"),
    evals.length ? s("polyline", { points: path(evals), class: "eval-loss" }) : null,
    dots(evals, "dot eval"),
  );
  const caption = `training loss ${fmt(first)} → ${fmt(last)}${evals.length ? ` · validation loss (dashed) ${fmt(evals[evals.length - 1][1])}` : ""}`;
  return h("figure", { class: "loss-figure" }, svg, h("figcaption", { text: caption }));
}

function staleness(m) {
  const st = m.staleness ?? m.stale;
  if (st === undefined || st === null) return { text: "unknown", cls: "unknown" };
  if (typeof st === "boolean") return { text: st ? "stale" : "fresh", cls: st ? "stale" : "fresh" };
  if (typeof st === "string") return { text: st, cls: st };
  const verdict = st.verdict || "unknown";
  if (st.error) return { text: `${verdict}: ${st.error}`, cls: verdict };
  const changed = ["added", "updated", "removed"].filter((k) => st[k]).map((k) => `${st[k]} ${k}`);
  const since = st.trained_version ? ` since version ${st.trained_version}` : "";
  const why = changed.length ? `${changed.join(", ")}${since}` : "";
  const retrain = st.retrain ? " · retrain" : "";
  return { text: `${verdict}${why ? `: ${why}` : ""}${retrain}`, cls: verdict };
}

function lineage(m) {
  const l = m.lineage && typeof m.lineage === "object" ? m.lineage : m;
  const base = String(l.base || m.base || "").replace(/^hf:.*\//, "hf:…/");
  const parts = [
    base && `base ${base}`,
    l.data_path && `data ${String(l.data_path).split("/").pop()}${l.data_sha256 ? ` (${String(l.data_sha256).slice(0, 8)})` : ""}`,
    l.kb_version && `KB version ${l.kb_version}`,
    l.run_id && `run ${String(l.run_id).slice(0, 12)}`,
  ];
  return parts.filter(Boolean).join(" → ");
}

function modelTable(models) {
  if (!models.length) return h("p", { class: "muted", text: "No registered models yet (ragtune train --register NAME)." });
  return h(
    "table",
    { class: "models" },
    h("thead", {}, h("tr", {}, ["Model", "Method", "Lineage", "Staleness", "Metrics"].map((t) => h("th", { scope: "col", text: t })))),
    h(
      "tbody",
      {},
      models.map((m) => {
        const st = staleness(m);
        return h(
          "tr",
          { "data-model": m.name },
          h("td", {}, h("strong", { text: m.name }), (m.tags || []).map((t) => h("span", { class: "badge", text: t }))),
          h("td", { text: m.method || "" }),
          h("td", { class: "lineage", text: lineage(m) }),
          h("td", {}, h("span", { class: `badge ${st.cls}`, text: st.text })),
          h("td", {}, dl(m.metrics, "metrics")),
        );
      }),
    ),
  );
}
