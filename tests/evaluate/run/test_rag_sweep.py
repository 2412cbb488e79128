"""``ragtune sweep --rag``: a stable dev split, typed grids, one tracked trial per setting, the best one's TOML."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from ragtune.cli.main import cli
from ragtune.errors import ConfigError
from ragtune.evaluate.evalset import EvalItem
from ragtune.evaluate.run.rag_sweep import parse_rag_grid, split_eval

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "helpcenter"


def test_split_is_stable_and_depends_only_on_ids() -> None:
    items = [EvalItem(id=f"q{i:03d}", question=f"question {i}", answer="a") for i in range(90)]
    dev, held = split_eval(items, 1 / 3)
    assert len(dev) == 30 and len(held) == 60
    assert {i.id for i in dev}.isdisjoint(i.id for i in held)
    more = [*items, EvalItem(id="q999", question="new", answer="a")]
    dev2, _ = split_eval(more, 1 / 3)
    assert len({i.id for i in dev} & {i.id for i in dev2}) >= 29  # adding a question barely moves the split
    assert split_eval(items, 1 / 3, seed=1)[0] != dev
    with pytest.raises(ConfigError):
        split_eval(items, 1.0)


def test_grid_is_typed_and_checked() -> None:
    grid = parse_rag_grid(["k=1,2", "template=fenced,compact", "no_repeat=0,4", "rep=1.0,1.1"])
    assert grid == {
        "k": [1, 2],
        "template": ["fenced", "compact"],
        "no_repeat_ngram_size": [0, 4],
        "repetition_penalty": [1.0, 1.1],
    }
    with pytest.raises(ConfigError, match="varies"):
        parse_rag_grid(["lr=1e-4"])
    with pytest.raises(ConfigError, match="not a number"):
        parse_rag_grid(["k=one"])


def test_sweep_cli_runs_tracked_trials_and_prints_the_best(hermetic: Path, open_kb: Any) -> None:
    shutil.copytree(EXAMPLE / "docs" / "billing", hermetic / "docs" / "billing")
    kb = open_kb(hermetic / ".ragtune")
    kb.ingest([hermetic / "docs"])
    rows = [json.loads(line) for line in (EXAMPLE / "eval.jsonl").read_text().splitlines()]
    billing = [r for r in rows if r["sources"] and all(s.startswith("billing/") for s in r["sources"])][:9]
    (hermetic / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in billing))
    args = ["sweep", "--rag", "--eval", "eval.jsonl", "--model", "extractive", "--grid", "k=1,3", "--out", "s.json"]
    result = CliRunner().invoke(cli, [*args, "--kb", str(hermetic / ".ragtune")])
    assert result.exit_code == 0, result.output
    assert "2 trials over k" in result.output and "[strategies.rag-tuned]" in result.output
    out = json.loads((hermetic / "s.json").read_text())
    assert out["dev_questions"] == 3 and out["held_out_questions"] == 6
    assert [t["params"] for t in out["trials"]] == [{"k": 1}, {"k": 3}]
    assert out["best"]["quality"] == max(t["quality"] for t in out["trials"]) > 0
    assert all(t["mlflow_run_id"] for t in out["trials"])
    from ragtune.tune.training.tracking import Tracker

    runs = Tracker(hermetic / ".ragtune").runs()
    kinds = [r["kind"] for r in runs]
    assert kinds.count("rag-trial") == 2 and kinds.count("rag-sweep") == 1
    parent = next(r["mlflow_run_id"] for r in runs if r["kind"] == "rag-sweep")
    trials = [r for r in runs if r["kind"] == "rag-trial"]
    assert all(r["parent"] == parent and "quality" in r["metrics"] and r["params"]["k"] in "13" for r in trials)
    bad = CliRunner().invoke(cli, ["sweep", "--rag", "--grid", "k=1", "--kb", str(hermetic / ".ragtune")])
    assert bad.exit_code != 0 and "--eval" in str(bad.exception)
