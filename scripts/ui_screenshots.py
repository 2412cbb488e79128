"""Screenshots of every page of the web UI for docs/ui.md, taken the way the browser tests run it.

    .venv/bin/python scripts/ui_screenshots.py                   # → docs/ui/*.png (1200×800, 256 colours)
    .venv/bin/python scripts/ui_screenshots.py --model smollm2   # chat and side by side answered by SmolLM2

Builds the browser tests' world (``tests/ui/world.py``: two collections from examples/helpcenter, a real
LoRA run on the tiny model, a real comparison), starts the server on 127.0.0.1 with three keys, and drives
Debian's Chromium (``/usr/bin/chromium``) through each page as the admin. Offline; about a minute on two cores.

With ``--model`` (a model spec or a bundled name such as ``smollm2``, SmolLM2-135M-Instruct) the strategies
``base`` and ``rag`` answer with that model (at most ``--max-tokens`` tokens), the chat pages ask ``rag``, and
``ft`` is that model with a LoRA adapter trained for ``--ft-steps`` steps on the help center's style set
(registered as ``style-real``; 0: no ``ft`` strategy). The training and comparison pages still show the tiny
model's run and comparison. A few minutes on two cores.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "ui"
QUESTION = "How much does the Team plan cost per user if we pay monthly?"
KEYS = {
    "ada": "admin",
    "erin": {"role": "editor", "collections": ["help", "team"]},
    "rita": {"role": "reader", "collections": ["help", "team"]},
}


def _world() -> Any:
    spec = importlib.util.spec_from_file_location("ui_world", REPO / "tests" / "ui" / "world.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _save(page: Any, name: str, out: Path) -> Path:
    from PIL import Image

    path = out / f"{name}.png"
    page.screenshot(path=str(path))
    # 256 colours: a UI has few, and the files shrink several-fold.
    Image.open(path).convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    print(f"{shown}: {path.stat().st_size // 1024} KiB", flush=True)
    return path


def shoot(url: str, keys: dict[str, str], out: Path, chromium: str, *, strategy: str = "rag-extractive") -> None:
    """Every page, as the admin; the chat pages ask ``strategy``."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True)

        def tab(width: int = 1200, height: int = 800) -> Any:
            page = browser.new_context(viewport={"width": width, "height": height}).new_page()
            page.on("dialog", lambda d: d.accept())
            return page

        def sign_in(page: Any, name: str) -> None:
            page.goto(f"{url}/#/signin")
            page.get_by_label("API key", exact=True).fill(keys[name])
            page.get_by_role("button", name="Sign in").click()
            page.locator("#identity").filter(has_text=name).wait_for()

        page = tab()
        page.goto(f"{url}/#/signin")
        page.get_by_label("API key", exact=True).fill("rt-••••••••")
        _save(page, "signin", out)

        sign_in(page, "ada")
        page.get_by_label("Strategy", exact=True).select_option(strategy)
        box = page.get_by_label(re.compile("^Message"))
        box.fill("Do you offer refunds if we cancel an annual plan?")
        box.press("Enter")
        expect(page.locator("li.turn.done")).to_have_count(1, timeout=300_000)
        box.fill(QUESTION)
        box.press("Enter")
        expect(page.locator("li.turn.done")).to_have_count(2, timeout=300_000)
        page.locator("li.turn.done").last.scroll_into_view_if_needed()
        _save(page, "chat", out)
        # The citation: the passage the answer cites, else (a model that cites nothing) its first source.
        cited = page.locator("li.turn.done").last.locator("button.cite, ol.citations button")
        cited.first.click()
        expect(page.locator("dialog#source mark")).to_be_visible()
        _save(page, "citation", out)
        page.keyboard.press("Escape")

        page.goto(f"{url}/#/side")
        boxes = page.get_by_role("group", name="Strategies to compare").get_by_role("checkbox")
        expect(boxes.first).to_be_visible()
        for b in boxes.all():
            b.check()
        page.get_by_label("Question", exact=True).fill(QUESTION)
        page.get_by_role("button", name="Ask all").click()
        expect(page.locator("section.column.done")).to_have_count(boxes.count(), timeout=600_000)
        _save(page, "side-by-side", out)

        page.goto(f"{url}/#/kb")
        expect(page.locator("table.docs")).to_be_visible()
        _save(page, "knowledge-base", out)
        page.get_by_label("From version", exact=True).select_option("1")
        page.get_by_label("To version", exact=True).select_option("2")
        page.get_by_role("button", name="Show diff").click()
        page.locator("pre.unified").first.scroll_into_view_if_needed()
        _save(page, "diff", out)

        page.get_by_label("Collection", exact=True).select_option("team")
        expect(page.get_by_role("heading", name="Knowledge base: team")).to_be_visible()
        page.get_by_label("Files", exact=True).set_input_files(
            [
                {
                    "name": "webhooks.md",
                    "mimeType": "text/markdown",
                    "buffer": b"# Webhooks\n\nWebhook deliveries are retried for 72 hours.\n",
                },
                {"name": "broken.pdf", "mimeType": "application/pdf", "buffer": b"%PDF-1.4 not a PDF"},
            ]
        )
        page.get_by_role("button", name="Upload and ingest").click()
        expect(page.locator(".job-state")).to_contain_text("done", timeout=60_000)
        page.locator("section[aria-labelledby=upload-h]").scroll_into_view_if_needed()
        _save(page, "upload", out)

        reader = tab()
        sign_in(reader, "rita")
        reader.get_by_label("Collection", exact=True).select_option("team")
        reader.goto(f"{url}/#/kb")
        reader.get_by_role("button", name=re.compile("^Roll back to version 1")).click()
        expect(reader.locator(".message.error")).to_be_visible()
        reader.locator("section[aria-labelledby=history-h]").scroll_into_view_if_needed()
        _save(reader, "rollback-refused", out)

        page.get_by_label("Collection", exact=True).select_option("help")
        page.goto(f"{url}/#/training")
        expect(page.locator("article.run").first).to_be_visible()
        _save(page, "training", out)

        page.goto(f"{url}/#/comparisons")
        page.get_by_role("button", name="help-compare").click()
        expect(page.frame_locator("iframe.report-frame").locator("body")).to_contain_text("rag-extractive")
        _save(page, "comparisons", out)

        narrow = tab(400, 800)
        sign_in(narrow, "ada")
        narrow.get_by_label("Strategy", exact=True).select_option(strategy)
        box = narrow.get_by_label(re.compile("^Message"))
        box.fill(QUESTION)
        box.press("Enter")
        expect(narrow.locator("li.turn.done")).to_have_count(1, timeout=300_000)
        _save(narrow, "narrow-chat", out)
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--chromium", default=os.environ.get("RAGTUNE_CHROMIUM", "/usr/bin/chromium"))
    parser.add_argument("--model", help="answer base, rag and ft with this model (e.g. smollm2), not the tiny one")
    parser.add_argument("--max-tokens", type=int, default=48, help="with --model: answer length  [48]")
    parser.add_argument("--ft-steps", type=int, default=12, help="with --model: LoRA steps for ft (0: no ft)  [12]")
    args = parser.parse_args()
    if not os.access(args.chromium, os.X_OK):
        sys.exit(f"no Chromium at {args.chromium}: sudo apt-get install -y chromium chromium-driver (or make browser)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    real = None
    if args.model:
        from ragtune.llm.bundled import resolve_model

        real = resolve_model(args.model)  # a bundled model: converted into the user's cache (once)
    work = Path(tempfile.mkdtemp(prefix="ragtune-ui-shots-"))
    os.environ.setdefault("RAGTUNE_HOME", str(work / "home"))
    os.environ.setdefault("RAGTUNE_CACHE", str(work / "cache"))
    if real is not None:
        from ragtune.llm.bundled import bundled_name, cache_path

        if (name := bundled_name(args.model)) is not None:
            # The converted copy, seen from this run's RAGTUNE_HOME: the model keeps its short name in the UI.
            link = cache_path(name)
            if not link.exists():
                link.parent.mkdir(parents=True, exist_ok=True)
                link.symlink_to(Path(real.removeprefix("hf:")), target_is_directory=True)
            real = args.model

    import torch

    from ragtune.embed import load_embedder
    from ragtune.llm.tiny import build_tiny_model
    from ragtune.serve.settings import ServeSettings
    from ragtune.serve.testing import running_server

    torch.set_num_threads(1)
    tiny = build_tiny_model(work / "tiny", train_steps=60, corpus=REPO / "examples" / "helpcenter" / "docs", seed=0)
    world_module = _world()
    world = world_module.build(work / "world", embedder=load_embedder(), tiny_model=tiny)
    strategy = "rag-extractive"
    if real is not None:
        strategy = "rag"
        toml = f"[llm]\nmax_new_tokens = {args.max_tokens}\n"
        if args.ft_steps > 0:
            world_module.train_style(
                Path(world.help.path), real, work, name="style-real", max_steps=args.ft_steps, learning_rate=1e-3
            )
            toml += (
                f'\n[strategies.ft]\ngenerator = "ft:style-real"\nmax_new_tokens = {args.max_tokens}\n'
                f'description = "{args.model} fine-tuned on the help center\'s voice ({args.ft_steps} LoRA steps)"\n'
            )
        (world.root / "ragtune.toml").write_text(toml)
        world.model = real
    args.out.mkdir(parents=True, exist_ok=True)
    os.chdir(world.root)  # the world's ragtune.toml declares the ft strategy
    try:
        with running_server(
            world.collections(),
            keys=KEYS,
            settings=ServeSettings(results=(world.results,)),
            model=world.model,
            mcp=False,
        ) as srv:
            shoot(srv.url, srv.keys, args.out, args.chromium, strategy=strategy)
    finally:
        world.close()


if __name__ == "__main__":
    main()
