"""The web UI in a real browser (headless Debian Chromium) against a real server on 127.0.0.1.

Flows of issue 12: sign in, ask and see a streamed cited answer, open a citation, run side by side, upload a file
and see it searchable, see a diff, roll back as admin and be refused as reader, a document restricted to one
access group shown only to that group; plus the training and comparison
pages, labelled controls, keyboard use and a 400 px wide window. Tests run in file order: the upload and the
rollback write to the ``team`` collection, nothing writes to ``help``.
"""

from __future__ import annotations

import re
import time
from typing import Any

from playwright.sync_api import expect

QUESTION = "How much does the Team plan cost per user if we pay monthly?"
PAGES = ["chat", "side", "kb", "training", "comparisons"]

# Every form control and button must have an accessible name (label, aria-label, aria-labelledby or text).
UNNAMED = """() => {
  const named = (el) => {
    if (el.getAttribute('aria-label')) return true;
    const by = el.getAttribute('aria-labelledby');
    if (by && by.split(/\\s+/).some((id) => (document.getElementById(id) || {}).textContent)) return true;
    if (el.labels && [...el.labels].some((l) => l.textContent.trim())) return true;
    if (el.tagName === 'BUTTON' && el.textContent.trim()) return true;
    return Boolean(el.getAttribute('title'));
  };
  return [...document.querySelectorAll('input, select, textarea, button')]
    .filter((el) => el.type !== 'hidden' && el.offsetParent !== null && !named(el))
    .map((el) => el.outerHTML.slice(0, 120));
}"""


def test_sign_in_with_a_key(ui: Any) -> None:
    tab = ui()
    page = tab.open()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()  # every page needs a key on this server
    page.get_by_label("API key", exact=True).fill("rt-not-a-key")
    page.get_by_label("API key", exact=True).press("Enter")
    expect(page.locator(".message.error")).to_contain_text("Sign in:")
    expect(page.locator("#identity")).to_have_text("not signed in")

    tab.sign_in("rita")
    expect(page.locator("#identity")).to_have_text("rita (reader)")
    options = page.get_by_label("Collection", exact=True).locator("option")
    expect(options).to_have_count(2)
    assert [o.get_attribute("value") for o in options.all()] == ["help", "team"]
    # The key lives in this tab's sessionStorage only: a reload keeps the session, a new tab does not.
    page.reload()
    expect(page.locator("#identity")).to_have_text("rita (reader)")
    other = ui().open("chat")
    expect(other.get_by_role("heading", name="Sign in")).to_be_visible()


def test_a_server_without_keys_needs_no_sign_in(ui: Any, world: Any) -> None:
    from ragtune.serve.testing import running_server

    with running_server({"help": world.help}, mcp=False) as open_server:
        tab = ui(server=open_server)
        page = tab.open()
        expect(page.locator("#identity")).to_have_text("no key needed")
        expect(page.get_by_role("heading", name="Chat")).to_be_visible()
        page.get_by_role("link", name="Key").click()
        expect(page.locator("main")).to_contain_text("This server needs no key")
        tab.close_now()


def test_chat_streams_a_cited_answer_and_opens_the_citation(ui: Any, server: Any) -> None:
    tab = ui()
    page = tab.sign_in("rita")
    tab.collection("help")
    page.get_by_label("Strategy", exact=True).select_option("rag-extractive")
    box = page.get_by_label(re.compile("^Message"))
    box.fill(QUESTION)
    box.press("Enter")  # Enter sends
    turn = page.locator("li.turn.done").last
    expect(turn).to_be_visible(timeout=30_000)
    assert int(turn.get_attribute("data-pieces") or 0) >= 2, "the answer did not arrive as a stream of pieces"
    head = server.collections.items["help"].kb.head
    expect(turn.locator('dd[data-meta="KB version"]')).to_have_text(str(head))
    expect(turn.locator('dd[data-meta="latency"]')).to_have_text(re.compile(r"\d+ (ms|s)"))
    expect(turn.locator('dd[data-meta="tokens"]')).to_have_text(re.compile(r"\d+ in / \d+ out"))
    answer = turn.locator(".answer-text")
    expect(answer).to_contain_text("$14")  # version 2: the price increase
    cite = answer.locator("button.cite").first
    expect(cite).to_have_text(re.compile(r"\[\d+\]"))

    cite.click()
    dialog = page.locator("dialog#source")
    expect(dialog).to_be_visible()
    expect(dialog.locator(".where")).to_contain_text("billing/plans-and-pricing.md")
    mark = dialog.locator("mark")
    expect(mark).to_have_count(1)
    expect(mark).to_contain_text("$14")
    expect(dialog.locator(".passage.cited")).to_have_attribute("data-start", re.compile(r"^\d+$"))
    # The passage keeps its line breaks: the pricing table reads row by row, not as one run-on line.
    expect(mark).to_contain_text(re.compile(r"\|\n\| Team \|"), use_inner_text=True)
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    # Keyboard: the citation buttons are reachable and open the source with Enter.
    cite.focus()
    page.keyboard.press("Enter")
    expect(dialog).to_be_visible()
    page.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()


def test_side_by_side_answers_in_parallel_columns(ui: Any) -> None:
    tab = ui()
    page = tab.sign_in("rita", "side")
    tab.collection("help")
    boxes = page.get_by_role("group", name="Strategies to compare").get_by_role("checkbox")
    expect(boxes.first).to_be_visible()
    names = [b.get_attribute("value") for b in boxes.all()]
    assert {"base", "rag", "ft", "rag-extractive"} <= set(names)
    for b in boxes.all():
        b.check()
    started: list[float] = []
    finished: list[float] = []
    page.on("request", lambda r: started.append(time.monotonic()) if r.url.endswith("/v1/chat/completions") else None)
    page.on(
        "requestfinished",
        lambda r: finished.append(time.monotonic()) if r.url.endswith("/v1/chat/completions") else None,
    )
    page.get_by_label("Question", exact=True).fill(QUESTION)
    page.get_by_role("button", name="Ask all").click()
    columns = page.locator("section.column")
    expect(columns).to_have_count(len(names))
    expect(page.locator("section.column.done")).to_have_count(len(names), timeout=60_000)
    assert len(started) == len(names)
    assert max(started) < min(finished), "the strategies were asked one after another, not in parallel"
    assert page.locator("section.column.failed").count() == 0
    for name in names:
        col = page.locator(f'section.column[data-model="{name}"]')
        expect(col.locator("h2")).to_have_text(name)
        expect(col.locator('dd[data-meta="latency"]')).to_have_text(re.compile(r"\d"))
        expect(col.locator('dd[data-meta="tokens"]')).to_have_text(re.compile(r"\d+ in / \d+ out"))
    base = page.locator('section.column[data-model="base"]')
    expect(base).to_contain_text("No citations.")  # closed book
    extractive = page.locator('section.column[data-model="rag-extractive"]')
    expect(extractive.locator("ol.citations li").first).to_contain_text("Plans")


def test_a_restricted_document_is_shown_only_to_its_group(ui: Any, world: Any) -> None:
    """team's hr/payroll.md (``acl: [hr]``): hana (group hr) finds it in the list, by search and in a chat answer;
    rita (no groups) does not, and nothing of it reaches her page or her browser."""
    question = "When does payroll run each month?"

    def visit(name: str) -> tuple[Any, list[Any]]:
        tab = ui()
        responses: list[Any] = []
        tab.page.on("response", lambda r: responses.append(r) if "/v1/" in r.url else None)
        page = tab.sign_in(name, "kb")
        tab.collection("team")
        expect(page.locator("#doc-count")).to_contain_text("documents at version")
        return page, responses

    def search_and_ask(page: Any) -> Any:
        page.get_by_label("Search documents", exact=True).fill("payroll")
        page.get_by_label("Search documents", exact=True).press("Enter")
        expect(page.locator("#doc-count")).to_contain_text(re.compile(r"^\d+ of \d+ documents"))
        found = page.locator("#doc-count").inner_text()
        page.goto(f"{page.url.split('#')[0]}#/chat")
        page.get_by_label("Strategy", exact=True).select_option("rag-extractive")
        page.get_by_label(re.compile("^Message")).fill(question)
        page.get_by_role("button", name="Send").click()
        turn = page.locator("li.turn.done").last
        expect(turn).to_be_visible(timeout=30_000)
        return found, turn

    page, _ = visit("hana")
    expect(page.locator("table.docs")).to_contain_text(world.restricted)
    expect(page.locator("table.docs tr", has_text=world.restricted)).to_contain_text("hr")
    assert "hr" in page.locator("#doc-acl option").evaluate_all("os => os.map((o) => o.value)")
    found, turn = search_and_ask(page)
    assert found.startswith("1 of 1 documents"), found
    expect(turn.locator(".answer-text")).to_contain_text("25th of each month")
    expect(turn.locator("ol.citations")).to_contain_text("Payroll calendar")

    page, responses = visit("rita")
    expect(page.locator("table.docs")).not_to_contain_text(world.restricted)
    assert "hr" not in page.locator("#doc-acl option").evaluate_all("os => os.map((o) => o.value)")
    found, turn = search_and_ask(page)
    assert found.startswith("0 of 0 documents"), found
    expect(turn.locator(".answer-text")).not_to_contain_text("25th")
    expect(turn.locator(".answer-text")).to_contain_text("couldn't find an answer")
    expect(turn).to_contain_text("No citations.")
    seen = page.content() + page.evaluate("document.body.innerText")
    for secret in world.secrets:
        assert secret not in seen, f"rita's page shows {secret!r} of the restricted {world.restricted}"
    assert responses
    for r in responses:
        body = r.text()
        leaked = [s for s in world.secrets if s in body]
        assert not leaked, f"{r.url} sent rita {leaked} of the restricted {world.restricted}"


def test_upload_shows_progress_errors_and_the_file_becomes_searchable(ui: Any) -> None:
    tab = ui()
    page = tab.sign_in("erin", "kb")
    tab.collection("team")
    expect(page.get_by_role("heading", name="Knowledge base: team")).to_be_visible()
    note = (
        "# Webhooks\n\nDriftnest sends a webhook to your endpoint whenever a shared folder changes. "
        "Webhook deliveries are retried for 72 hours with exponential backoff.\n"
    )
    page.get_by_label("Files", exact=True).set_input_files(
        [
            {"name": "webhooks.md", "mimeType": "text/markdown", "buffer": note.encode()},
            {"name": "broken.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 this is not a PDF"},
        ]
    )
    page.get_by_role("button", name="Upload and ingest").click()
    expect(page.locator(".job-state")).to_contain_text(re.compile(r"^done: 2 of 2 files · version \d+"), timeout=60_000)
    expect(page.get_by_label("Ingest progress", exact=True)).to_be_visible()
    errors = page.get_by_role("list", name="Files that failed")
    expect(errors.locator("li")).to_have_count(1)
    expect(errors).to_contain_text("broken.pdf")
    expect(page.locator(".message.info")).to_contain_text("Ingest finished: 1 of 2 files stored, 1 failed")

    page.get_by_label("Search documents", exact=True).fill("webhook")
    page.get_by_label("Search documents", exact=True).press("Enter")
    expect(page.locator("#doc-count")).to_contain_text("1 of 1 documents")
    expect(page.locator("table.docs")).to_contain_text("webhooks.md")
    # ... and retrievable: the chat answers from it.
    page.goto(f"{tab.server.url}/#/chat")
    page.get_by_label("Strategy", exact=True).select_option("rag-extractive")
    page.get_by_label(re.compile("^Message")).fill("How long are webhook deliveries retried?")
    page.get_by_role("button", name="Send").click()
    turn = page.locator("li.turn.done").last
    expect(turn.locator(".answer-text")).to_contain_text("72 hours", timeout=30_000)
    expect(turn.locator("ol.citations")).to_contain_text("Webhooks")


def test_diff_between_two_versions(ui: Any) -> None:
    tab = ui()
    page = tab.sign_in("rita", "kb")
    tab.collection("help")
    expect(page.get_by_role("heading", name="Knowledge base: help")).to_be_visible()
    page.get_by_label("From version", exact=True).select_option("1")
    page.get_by_label("To version", exact=True).select_option("2")
    page.get_by_role("button", name="Show diff").click()
    out = page.locator(".diff")
    expect(out.locator("p.changed")).to_contain_text("billing/plans-and-pricing.md")
    unified = page.get_by_label("Changes to billing/plans-and-pricing.md", exact=True)
    expect(unified.locator(".line.add").first).to_be_visible()
    expect(unified.locator(".line.add")).to_contain_text(["$14"])
    expect(unified.locator(".line.del")).to_contain_text(["$12"])
    added = unified.locator(".line.add").first.evaluate("el => getComputedStyle(el).backgroundColor")
    removed = unified.locator(".line.del").first.evaluate("el => getComputedStyle(el).backgroundColor")
    assert added != removed != "rgba(0, 0, 0, 0)"


def test_rollback_refused_for_a_reader_and_done_by_an_admin(ui: Any, server: Any) -> None:
    team = server.collections.items["team"].kb
    head = team.head
    reader = ui()
    page = reader.sign_in("rita", "kb")
    reader.collection("team")
    page.get_by_role("button", name="Roll back to version 1 (admin only)").click()
    expect(page.locator(".message.error")).to_contain_text(re.compile(r"Rollback: .*rita.*admin"))
    expect(page.locator("section[aria-labelledby=history-h] .note.error")).to_contain_text("admin")
    assert team.head == head

    admin = ui()
    page = admin.sign_in("ada", "kb")
    admin.collection("team")
    page.get_by_role("button", name="Roll back to version 1", exact=True).click()
    expect(page.locator(".message.info")).to_contain_text(f"now at version {head + 1}")
    assert team.head == head + 1
    newest = page.locator("table.versions tbody tr").first
    expect(newest).to_have_attribute("data-version", str(head + 1))
    expect(newest).to_contain_text("rollback")
    expect(page.locator("table.docs")).not_to_contain_text("webhooks.md")


def test_training_runs_and_registered_models(ui: Any) -> None:
    tab = ui()
    page = tab.sign_in("ada", "training")
    tab.collection("help")
    run = page.locator("article.run").first
    expect(run).to_be_visible()
    chart = run.get_by_role("img", name=re.compile("^Training loss of"))
    points = chart.locator("polyline.loss").get_attribute("points") or ""
    assert len(points.split()) >= 2
    row = page.locator('table.models tr[data-model="style"]')
    expect(row).to_contain_text("lora")
    expect(row.locator(".lineage")).to_contain_text("run ")
    expect(row.locator(".badge").last).to_have_text(re.compile(r"^(fresh|stale)"))


def test_comparisons_for_admins_only(ui: Any) -> None:
    tab = ui()
    page = tab.sign_in("ada", "comparisons")
    page.get_by_role("button", name="help-compare").click()
    frame = page.frame_locator("iframe.report-frame")
    expect(frame.locator("body")).to_contain_text("rag-extractive", timeout=15_000)

    reader = ui()
    page = reader.sign_in("rita", "comparisons")
    expect(page.locator(".note.error")).to_contain_text("admin")


def test_every_page_is_labelled_keyboard_usable_and_fits_400px(ui: Any) -> None:
    for width in (1200, 400):
        tab = ui(width=width)
        page = tab.sign_in("ada")
        for name in PAGES:
            page.goto(f"{tab.server.url}/#/{name}")
            page.wait_for_load_state("networkidle")
            expect(page.locator("main h1")).to_be_visible()
            unnamed = page.evaluate(UNNAMED)
            assert not unnamed, f"#/{name} at {width}px: controls without an accessible name: {unnamed}"
            overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"#/{name} at {width}px scrolls sideways by {overflow}px"
    # Keyboard: Tab reaches the navigation with a visible focus ring, Enter follows a link.
    page.goto(f"{tab.server.url}/#/chat")
    page.reload()  # a fresh start: no navigation still moving the focus to the page
    expect(page.get_by_role("button", name="Send")).to_be_visible()
    page.locator(".brand").focus()
    page.keyboard.press("Tab")  # Chat
    page.keyboard.press("Tab")  # Side by side
    focused = page.evaluate(
        "[document.activeElement.textContent, getComputedStyle(document.activeElement).outlineStyle]"
    )
    assert focused == ["Side by side", "solid"]
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile("#/side$"))
    expect(page.get_by_role("heading", name="Side by side")).to_be_visible()
