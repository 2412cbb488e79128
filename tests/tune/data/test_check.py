"""``data check``: every problem it claims to catch is caught, by a file that has only that problem."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ragtune.cli.main import cli
from ragtune.llm.prompts import Source, rag_messages
from ragtune.tune.data.check import check_dataset
from ragtune.tune.data.similarity import NearDuplicateIndex, jaccard, shingles
from ragtune.tune.data.tokens import load_token_counter

QA = [
    ("How do I reset my password?", "Open the sign-in page and choose Forgot password."),
    ("What does the Team plan cost?", "The Team plan costs $12 per user per month."),
    ("Can guests edit files?", "No, guest links are view and download only."),
    ("Where are invoices kept?", "Invoices are in the admin console under Billing."),
]


def ex(q: str, a: str, system: str | None = "Be brief.") -> dict[str, Any]:
    head = [{"role": "system", "content": system}] if system else []
    return {"messages": [*head, {"role": "user", "content": q}, {"role": "assistant", "content": a}]}


def write(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def good_rows() -> list[Any]:
    return [ex(q, a) for q, a in QA]


def codes(report: Any) -> dict[str, int]:
    return report.counts()


def test_clean_file_has_no_errors(tmp_path: Path) -> None:
    report = check_dataset(write(tmp_path / "ok.jsonl", good_rows()))
    assert report.ok and report.n_examples == 4
    assert codes(report) == {"approximate-tokens": 1}  # only the whitespace-estimate warning
    assert report.stats["messages_per_role"] == {"system": 4, "user": 4, "assistant": 4}
    assert report.stats["tokens"]["min"] <= report.stats["tokens"]["p50"] <= report.stats["tokens"]["max"]


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        ('{"messages": [', "json"),
        ("[1, 2]", "schema"),
        ({"text": "hello"}, "schema"),
        ({"messages": "hi"}, "schema"),
        ({"messages": [{"role": "user", "content": 3}, {"role": "assistant", "content": "x"}]}, "schema"),
        ({**ex("q?", "a"), "metadata": "doc.md"}, "schema"),
        ({"messages": [{"role": "robot", "content": "hi"}, {"role": "assistant", "content": "x"}]}, "role"),
        (
            {
                "messages": [
                    {"role": "user", "content": "hi"},
                    {"role": "system", "content": "s"},
                    {"role": "assistant", "content": "x"},
                ]
            },
            "role",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": "a"},
                    {"role": "user", "content": "b"},
                    {"role": "assistant", "content": "x"},
                ]
            },
            "role",
        ),
        ({"messages": [{"role": "assistant", "content": "x"}]}, "role"),
        ({"messages": [{"role": "user", "content": "q"}]}, "role"),
        ({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "   "}]}, "empty"),
        (
            {
                "messages": [
                    {"role": "system", "content": ""},
                    {"role": "user", "content": "Why?"},
                    {"role": "assistant", "content": "Because."},
                ]
            },
            "empty",
        ),
    ],
)
def test_each_problem_is_an_error_with_its_line(tmp_path: Path, bad: Any, code: str) -> None:
    rows = [*good_rows()[:2], bad, *good_rows()[2:]]
    report = check_dataset(write(tmp_path / "bad.jsonl", rows))
    assert not report.ok
    errors = [p for p in report.errors if p.code == code]
    assert errors, report.render()
    assert all(p.lines == [3] for p in errors)
    assert {p.code for p in report.errors} == {code}  # nothing else was flagged


def test_blank_lines_are_ignored_and_line_numbers_stay_true(tmp_path: Path) -> None:
    path = tmp_path / "gaps.jsonl"
    path.write_text(json.dumps(ex(*QA[0])) + "\n\n" + '{"messages": 5}\n', encoding="utf-8")
    report = check_dataset(path)
    assert [p.lines for p in report.errors] == [[3]]


def test_overlong_example(tmp_path: Path) -> None:
    rows = [*good_rows(), ex("Tell me everything?", "word " * 300)]
    report = check_dataset(write(tmp_path / "long.jsonl", rows), max_tokens=100)
    assert [(p.code, p.lines) for p in report.errors] == [("too-long", [5])]
    assert "assistant" in report.errors[0].message
    assert check_dataset(tmp_path / "long.jsonl", max_tokens=1000).ok


def test_exact_duplicates_are_errors_near_duplicates_warnings(tmp_path: Path) -> None:
    rows = [
        *good_rows(),
        ex(*QA[1]),  # identical to line 2
        ex("How do I reset my  password?", "Open the sign-in page and choose Forgot  password."),  # whitespace only
        ex("How can I reset my password?", "Open the sign-in page and pick Forgot password."),  # reworded
    ]
    report = check_dataset(write(tmp_path / "dups.jsonl", rows))
    assert sorted((p.code, p.lines[0]) for p in report.errors) == [("duplicate", 5), ("duplicate", 6)]
    near = [p for p in report.warnings if p.code == "near-duplicate"]
    assert [p.lines for p in near] == [[7]] or {p.lines[0] for p in near} == {7}
    assert report.ok is False


def test_near_duplicate_threshold_is_configurable(tmp_path: Path) -> None:
    rows = [*good_rows(), ex("How can I reset my password?", "Open the sign-in page and pick Forgot password.")]
    path = write(tmp_path / "near.jsonl", rows)
    assert "near-duplicate" in codes(check_dataset(path, near_threshold=0.6))
    assert "near-duplicate" not in codes(check_dataset(path, near_threshold=0.95))


def test_leakage_exact_and_near_and_inside_rag_prompts(tmp_path: Path) -> None:
    raft_user = rag_messages("Where can I find my invoices?", [Source("Invoices are under Billing.", "Billing")])
    rows = [
        *good_rows(),
        {"messages": [*raft_user, {"role": "assistant", "content": "Under Billing [1]."}]},
    ]
    path = write(tmp_path / "train.jsonl", rows)
    questions = [
        ("e1", "how do I reset my password"),  # exact after normalization
        ("e2", "What does the Team plan cost per month?"),  # near
        ("e3", "Where can I find my invoices?"),  # the question inside a RAFT prompt
        ("e4", "Does Driftnest run on ChromeOS?"),  # unrelated
    ]
    report = check_dataset(path, eval_questions=questions)
    leaks = {p.message.split()[2]: p.lines for p in report.errors if p.code == "leakage"}
    assert leaks == {"e1": [1], "e2": [2], "e3": [5]}


def test_passages_in_rag_prompts_do_not_make_near_duplicates(tmp_path: Path) -> None:
    sources = [Source("A long shared passage about plans, prices, seats and storage. " * 5, "Plans")]
    rows = [{"messages": [*rag_messages(q, sources), {"role": "assistant", "content": a}]} for q, a in QA]
    report = check_dataset(write(tmp_path / "raft.jsonl", rows))
    assert "near-duplicate" not in codes(report)


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    report = check_dataset(write(tmp_path / "empty.jsonl", []))
    assert [p.code for p in report.errors] == ["no-examples"]


def test_real_tokenizer_counts_and_limit(tmp_path: Path, tiny_model: Path) -> None:
    counter = load_token_counter(f"hf:{tiny_model}")
    assert counter.exact and counter.max_length == 512  # from the model's config.json
    path = write(tmp_path / "ok.jsonl", good_rows())
    report = check_dataset(path, counter=counter)
    assert "approximate-tokens" not in codes(report) and report.ok
    whitespace = check_dataset(path).stats["tokens"]["total"]
    assert report.stats["tokens"]["total"] > whitespace  # subword tokens + chat markup outnumber words


def test_near_duplicate_index_is_exact() -> None:
    """Prefix filtering finds exactly the pairs brute force finds."""
    rng = random.Random(1)
    words = "reset password plan team price guest link invoice billing trash restore file sync".split()  # noqa: SIM905
    texts = [" ".join(rng.choice(words) for _ in range(rng.randint(2, 9))) for _ in range(150)]
    for threshold in (0.4, 0.6, 0.9):
        index = NearDuplicateIndex(texts, threshold=threshold)
        sets = [shingles(t) for t in texts]
        brute = {
            (i, j)
            for i in range(len(texts))
            for j in range(i + 1, len(texts))
            if sets[i] and sets[j] and jaccard(sets[i], sets[j]) >= threshold
        }
        assert {(i, j) for i, j, _ in index.pairs()} == brute


def test_cli_exit_codes_and_json(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = write(tmp_path / "ok.jsonl", good_rows())
    bad = write(tmp_path / "bad.jsonl", [*good_rows(), '{"messages": ['])
    res = runner.invoke(cli, ["data", "check", str(ok)])
    assert res.exit_code == 0, res.output
    assert "0 errors" in res.output and "whitespace" in res.output
    res = runner.invoke(cli, ["data", "check", str(bad), "--json"])
    assert res.exit_code == 1
    data = json.loads(res.output)
    assert data["ok"] is False and data["counts"]["json"] == 1 and data["problems"][0]["lines"] == [5]
    assert "Errors (exit 1)" in runner.invoke(cli, ["data", "check", "--help"]).output
