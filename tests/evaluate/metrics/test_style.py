"""Style adherence: format rules by hand, config errors, and similarity to the help-center voice."""

from __future__ import annotations

from pathlib import Path

import pytest

from ragtune.embed import Embedder
from ragtune.errors import ConfigError
from ragtune.evaluate.metrics.style import FormatRule, check_rules, load_style, parse_rules, read_style_examples

STYLE = Path(__file__).resolve().parents[3] / "examples" / "helpcenter" / "style.jsonl"
SIGN_OFF = "Happy nesting! - The Driftnest crew"


def test_format_rules_by_hand() -> None:
    rules = parse_rules(
        [
            {"ends_with": SIGN_OFF},
            {"starts_with": "Yes"},
            {"max_sentences": 3, "name": "short"},
            {"regex": r"^\d\. ", "name": "numbered steps"},
            {"contains": "Team plan"},
            {"not_contains": "As an AI"},
            {"max_words": 40},
        ]
    )
    text = f"Yes, the Team plan has version history [1].\n\n1. Open the file.\n2. Click History.\n\n{SIGN_OFF}"
    out = check_rules(text, rules)
    # sentences: "Yes ... history." + "1. Open the file." + "2. Click History." + "Happy nesting!" + "- The crew"
    assert out["failed"] == ["short"]
    assert out["score"] == pytest.approx(6 / 7)
    assert check_rules("No.", rules)["passed"] == ["short", "not_contains=As an AI", "max_words=40"]
    assert check_rules("anything", [])["score"] is None


def test_bad_rules_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown"):
        parse_rules([{"ends_width": "x"}])
    with pytest.raises(ConfigError, match="exactly one"):
        parse_rules([{"ends_with": "x", "starts_with": "y"}])
    with pytest.raises(ConfigError, match="integer"):
        FormatRule("max_sentences", "three")
    with pytest.raises(ConfigError, match="regex"):
        FormatRule("regex", "(")


def test_read_style_examples_names_the_bad_line(tmp_path: Path) -> None:
    assert len(read_style_examples(STYLE)) == 148
    bad = tmp_path / "style.jsonl"
    bad.write_text('{"messages": [{"role": "assistant", "content": "hi"}]}\n{"oops": 1}\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"style.jsonl:2"):
        read_style_examples(bad)


def test_style_similarity_prefers_the_brand_voice(embedder: Embedder) -> None:
    config = {"style": {"examples": str(STYLE), "top_k": 5, "rules": [{"ends_with": SIGN_OFF}]}}
    style = load_style(embedder.embed, config)
    assert style is not None and len(style.examples) == 148
    on_voice = "Yes! You can restore an older version of any file from its History panel [1].\n\n" + SIGN_OFF
    off_voice = "Per section 4.2 of the agreement, the licensee shall indemnify the licensor against all claims."
    a, b = style.score([on_voice, off_voice])
    assert a["similarity"] > b["similarity"] + 0.2
    assert a["rules"] == 1.0 and b["rules"] == 0.0 and b["failed_rules"] == [f"ends_with={SIGN_OFF}"]
    assert load_style(embedder.embed, {}) is None
