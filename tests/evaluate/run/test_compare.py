"""``ragtune compare`` end to end on a small real KB: extractive RAG and a tiny local LLM, then the report."""

from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from click.testing import CliRunner

from ragtune.cli.main import cli
from ragtune.evaluate.run.compare import CompareOptions, run_comparison

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "helpcenter"


@pytest.fixture
def setup(hermetic: Path, open_kb: Any) -> dict[str, Any]:
    """A KB of the billing pages, and an eval set of billing questions plus two unanswerable ones."""
    shutil.copytree(EXAMPLE / "docs" / "billing", hermetic / "docs" / "billing")
    kb = open_kb(hermetic / ".ragtune")
    kb.ingest([hermetic / "docs"])
    rows = [json.loads(line) for line in (EXAMPLE / "eval.jsonl").read_text().splitlines()]
    billing = [r for r in rows if r["sources"] and all(s.startswith("billing/") for s in r["sources"])][:8]
    unanswerable = [r for r in rows if "unanswerable" in r["tags"]][:2]
    eval_path = hermetic / "eval.jsonl"
    eval_path.write_text("".join(json.dumps(r) + "\n" for r in billing + unanswerable))
    # Short generations keep the tiny model's turn quick.
    (hermetic / "ragtune.toml").write_text("[llm]\nmax_new_tokens = 16\n")
    return {"kb": kb, "eval": eval_path, "n": len(billing) + len(unanswerable), "dir": hermetic}


def test_compare_runs_measures_and_reports(setup: dict[str, Any], tiny_model: Path) -> None:
    out = setup["dir"] / "results"
    opts = CompareOptions(
        eval_path=setup["eval"],
        out_dir=out,
        model=f"hf:{tiny_model}",
        style=EXAMPLE / "style.jsonl",
        n_resamples=500,
        progress=False,
    )
    summary = run_comparison(setup["kb"], opts)
    s = summary["strategies"]
    assert [n for n in s if s[n]["status"] == "ok"] == ["base", "rag", "rag-extractive"]
    # Strategies without what they need are reported, never faked.
    assert s["ft"]["status"] == "not_run" and "--ft NAME" in s["ft"]["reason"]
    assert s["hybrid"]["status"] == "not_run"
    assert not (out / "ft.jsonl").exists()

    records = [json.loads(line) for line in (out / "rag-extractive.jsonl").read_text().splitlines()]
    assert len(records) == setup["n"]
    answerable = [r for r in records if not r["unanswerable"]]
    assert all(r["retrieved"] for r in answerable) and all(r["cost"] > 0 for r in records)
    # Extractive RAG cites the right billing page for most questions; the closed-book model retrieves nothing.
    assert s["rag-extractive"]["metrics"]["citation_precision"]["mean"] > 0.6
    assert s["rag-extractive"]["metrics"]["recall@5"]["mean"] > 0.8
    base = [json.loads(line) for line in (out / "base.jsonl").read_text().splitlines()]
    assert all(r["retrieved"] is None and r["metrics"]["citation_precision"] is None for r in base)
    assert all(r["tokens_in"] > 0 and r["tokens_out"] > 0 for r in base)
    # A tiny model says nothing useful: extractive RAG beats it, and significantly so.
    assert s["rag-extractive"]["quality"] > s["base"]["quality"]
    diff = next(
        c for c in summary["comparisons"] if {c["a"], c["b"]} == {"base", "rag-extractive"} and c["metric"] == "quality"
    )
    assert diff["significant"]
    # The facts check: the extractive answer quotes the billing page's prices, the tiny model states none of them.
    assert s["rag-extractive"]["facts"] > s["base"]["facts"] and len(s["base"]["facts_ci"]) == 2
    assert any(c["metric"] == "facts" for c in summary["comparisons"])
    for name in ("base", "rag", "rag-extractive"):
        row = s[name]
        lo, hi = row["quality_ci"]
        assert lo <= row["quality"] <= hi
        assert row["latency_p50_ms"] <= row["latency_p95_ms"]
        # Answers are generated in batches; latency is what a user waits: the first questions asked one at a time.
        assert len(row["latency_samples_ms"]) == min(setup["n"], 8)
        assert "one at a time" in row["latency_method"]
    assert s["rag"]["setup_seconds"] > 0 and s["base"]["setup_seconds"] == 0
    assert s["base"]["memory_bytes"] > 0 and s["rag-extractive"]["memory_bytes"] is None
    assert summary["eval"]["unanswerable"] == 2 and summary["kb"]["chunks"] > 0

    # The report is rebuilt from the directory alone and shows the same numbers.
    from ragtune.evaluate.report.write import write_report

    on_disk = json.loads((out / "summary.json").read_text())
    paths = write_report(out)
    first = Path(paths["md"]).read_text()
    assert json.loads((out / "summary.json").read_text()) == on_disk
    result = CliRunner().invoke(cli, ["report", str(out)])
    assert result.exit_code == 0, result.output
    assert Path(paths["md"]).read_text() == first


def test_compare_cli_json_and_unknown_strategy(setup: dict[str, Any]) -> None:
    runner = CliRunner()
    out = setup["dir"] / "cli-results"
    args = ["compare", "--eval", str(setup["eval"]), "--out", str(out), "--strategies", "rag-extractive"]
    result = runner.invoke(cli, [*args, "--json", "--resamples", "200", "--no-report", "--quality", "facts"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert list(summary["strategies"]) == ["rag-extractive"] and summary["quality_metric"] == "facts"
    entry = summary["strategies"]["rag-extractive"]
    assert entry["quality"] == entry["facts"] == entry["metrics"]["facts"]["mean"]
    assert (out / "summary.json").exists() and not (out / "report.md").exists()
    bad = runner.invoke(cli, ["compare", "--eval", str(setup["eval"]), "--out", str(out), "--strategies", "nope"])
    assert bad.exit_code != 0


class _Grader(BaseHTTPRequestHandler):
    """An OpenAI-compatible chat endpoint that grades every answer 4 and records what it was sent."""

    seen: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        reply = json.dumps(
            {
                "id": "grade",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": "Grade: 4"}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 50, "completion_tokens": 2, "total_tokens": 52},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: Any) -> None:
        pass


def test_compare_judge_gets_the_llm_endpoint_settings(setup: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """``compare --judge openai:MODEL`` reaches the server named by ``[llm] base_url``, with the key named by
    ``[llm] api_key_env``."""
    _Grader.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Grader)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        (setup["dir"] / "ragtune.toml").write_text(
            f'[llm]\nmax_new_tokens = 16\nbase_url = "{url}"\napi_key_env = "GRADER_KEY"\ntimeout_s = 20\n'
        )
        monkeypatch.setenv("GRADER_KEY", "sekrit")
        out = setup["dir"] / "judged"
        args = ["compare", "--eval", str(setup["eval"]), "--out", str(out), "--strategies", "rag-extractive"]
        result = CliRunner().invoke(
            cli, [*args, "--judge", "openai:grader", "--json", "--resamples", "200", "--no-report"]
        )
    finally:
        server.shutdown()
        server.server_close()
    assert result.exit_code == 0, result.output
    assert _Grader.seen, "the judge never reached the [llm] base_url"
    assert all(r["path"] == "/v1/chat/completions" for r in _Grader.seen)
    assert all(r["auth"] == "Bearer sekrit" and r["body"]["model"] == "grader" for r in _Grader.seen)
    summary = json.loads(result.output)
    assert summary["quality_metric"] == "judge"
    records = [json.loads(line) for line in (out / "rag-extractive.jsonl").read_text().splitlines()]
    judged = [r for r in records if not r["unanswerable"]]
    assert len(_Grader.seen) == len(judged)
    assert all(r["metrics"]["judge"] == 0.75 for r in judged)
