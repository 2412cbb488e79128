// Side by side: one question, several strategies answering in parallel, each with latency, tokens and citations.

import { streamChat } from "./api.js";
import { citationList, metaLine, renderAnswerText } from "./answer.js";
import { errorNote, h, labelled, showError } from "./dom.js";

export async function render(root, ctx) {
  const collection = ctx.collection;
  root.append(h("h1", { text: "Side by side" }));
  const models = await ctx.models();
  const boxes = models.map((m, i) =>
    h("input", { type: "checkbox", name: "strategies", value: m.id, id: `side-${i}`, checked: i < 4 }),
  );
  const picker = h(
    "fieldset",
    { class: "strategies" },
    h("legend", { text: "Strategies to compare" }),
    models.map((m, i) => h("label", { for: `side-${i}`, class: "check" }, boxes[i], ` ${m.id}`)),
  );
  const question = h("input", { type: "text", id: "side-question", name: "question", required: true });
  const run = h("button", { type: "submit", id: "side-run", text: "Ask all" });
  const form = h("form", { class: "card", "aria-label": "Side by side question" }, picker, labelled("Question", question), run);
  const columns = h("div", { class: "columns", "aria-live": "polite" });
  root.append(form, columns);
  if (models.length < 2) root.prepend(h("p", { class: "note", text: "Only one strategy is served: start the server with --model to add base and rag." }));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const chosen = boxes.filter((b) => b.checked).map((b) => b.value);
    const q = question.value.trim();
    if (!q) return;
    if (chosen.length < 1) {
      showError(new Error("choose at least one strategy"), "Side by side");
      return;
    }
    columns.replaceChildren();
    run.disabled = true;
    const jobs = chosen.map((model) => {
      const text = h("div", { class: "answer-text", "aria-busy": "true" });
      const col = h("section", { class: "column", "data-model": model, "aria-label": `Answer by ${model}` }, h("h2", { text: model }), text);
      columns.append(col);
      return streamChat({ model: ctx.modelFor(model), collection, messages: [{ role: "user", content: q }] }, (_p, all) => {
        text.textContent = all;
      }).then(
        (result) => {
          text.removeAttribute("aria-busy");
          renderAnswerText(text, result.text, result.citations, collection);
          col.classList.add("done");
          col.dataset.pieces = String(result.pieces);
          col.append(metaLine(result), citationList(result.citations, collection));
        },
        (err) => {
          text.removeAttribute("aria-busy");
          col.classList.add("done", "failed");
          col.append(errorNote(err));
          showError(err, model);
        },
      );
    });
    await Promise.all(jobs);
    run.disabled = false;
  });
  question.focus();
}
