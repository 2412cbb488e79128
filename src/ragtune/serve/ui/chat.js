// Chat: streamed answers with [n] citations, the KB version each came from, latency and tokens.

import { streamChat } from "./api.js";
import { citationList, metaLine, renderAnswerText } from "./answer.js";
import { clear, errorNote, h, labelled, showError } from "./dom.js";

// The conversation, kept per collection while the tab lives.
const conversations = new Map();

export async function render(root, ctx) {
  const collection = ctx.collection;
  if (!conversations.has(collection)) conversations.set(collection, []);
  const turns = conversations.get(collection);
  root.append(h("h1", { text: "Chat" }));
  const models = await ctx.models();
  const strategy = h(
    "select",
    { id: "strategy", name: "strategy" },
    models.map((m) => h("option", { value: m.id, text: m.description ? `${m.id} — ${m.description}` : m.id })),
  );
  const remembered = sessionStorage.getItem("ragtune.strategy");
  if (models.some((m) => m.id === remembered)) strategy.value = remembered;
  strategy.addEventListener("change", () => sessionStorage.setItem("ragtune.strategy", strategy.value));
  const transcript = h("ol", { class: "transcript", "aria-label": "Conversation", "aria-live": "polite" });
  const input = h("textarea", { id: "message", name: "message", rows: 2, required: true, placeholder: "Ask a question…" });
  const send = h("button", { type: "submit", id: "send", text: "Send" });
  const reset = h("button", { type: "button", class: "secondary", text: "New conversation" });
  const form = h(
    "form",
    { class: "composer", "aria-label": "Ask" },
    labelled("Message (Enter sends, Shift+Enter for a new line)", input),
    h("div", { class: "actions" }, send, reset),
  );
  root.append(h("div", { class: "toolbar" }, labelled("Strategy", strategy)), transcript, form);
  for (const t of turns) transcript.append(turnView(t, collection));

  reset.addEventListener("click", () => {
    turns.length = 0;
    clear(transcript);
    input.focus();
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const question = input.value.trim();
    if (!question || send.disabled) return;
    input.value = "";
    const turn = { question, model: strategy.value, result: null, error: null };
    turns.push(turn);
    const view = turnView(turn, collection);
    transcript.append(view);
    const messages = [];
    for (const t of turns.slice(0, -1)) {
      if (!t.result) continue;
      messages.push({ role: "user", content: t.question }, { role: "assistant", content: t.result.text });
    }
    messages.push({ role: "user", content: question });
    send.disabled = true;
    const answerEl = view.querySelector(".answer-text");
    answerEl.setAttribute("aria-busy", "true");
    try {
      turn.result = await streamChat(
        { model: ctx.modelFor(turn.model), collection, messages },
        (_piece, text) => {
          answerEl.textContent = text;
        },
      );
    } catch (err) {
      turn.error = err;
      showError(err, "Chat");
    } finally {
      send.disabled = false;
      view.replaceWith(turnView(turn, collection));
      input.focus();
    }
  });
  input.focus();
}

function turnView(turn, collection) {
  const answerText = h("div", { class: "answer-text" });
  const item = h(
    "li",
    { class: "turn" },
    h("p", { class: "question" }, h("span", { class: "who", text: "You" }), turn.question),
    h("div", { class: "answer" }, h("span", { class: "who", text: turn.model }), answerText),
  );
  if (turn.error) {
    item.append(errorNote(turn.error));
  } else if (turn.result) {
    renderAnswerText(answerText, turn.result.text, turn.result.citations, collection);
    item.classList.add("done");
    item.dataset.pieces = String(turn.result.pieces);
    item.append(metaLine(turn.result), citationList(turn.result.citations, collection));
  }
  return item;
}
