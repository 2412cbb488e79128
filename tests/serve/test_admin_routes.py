"""``/v1/runs``, ``/v1/registry`` and ``/v1/comparisons`` from real data: a short LoRA run on the tiny model, the
model it registered (its staleness after the KB changes), and a ``ragtune compare`` results folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from ragtune.config import Settings
from ragtune.embed import Embedder
from ragtune.knowledge_base import KnowledgeBase
from ragtune.serve.settings import ServeSettings
from ragtune.serve.testing import running_server

HELPCENTER = Path(__file__).resolve().parents[2] / "examples" / "helpcenter"


@pytest.mark.timeout(600)
def test_runs_registry_and_comparisons(tmp_path: Path, embedder: Embedder, tiny_model: Path) -> None:
    from ragtune.cli.main import cli
    from ragtune.tune.training.config import TrainConfig
    from ragtune.tune.training.train import train

    docs = tmp_path / "docs"
    shutil.copytree(HELPCENTER / "docs" / "billing", docs / "billing")
    kb = KnowledgeBase.open(tmp_path / ".ragtune", create=True, settings=Settings(), embedder=embedder)
    kb.ingest([docs])
    rows = [json.loads(line) for line in (HELPCENTER / "style.jsonl").read_text().splitlines() if line.strip()]
    data = tmp_path / "style.jsonl"
    data.write_text("".join(json.dumps({**r, "metadata": {"kb_version": 1}}) + "\n" for r in rows[:16]))
    config = TrainConfig().replace(
        max_steps=6,
        batch_size=8,
        max_length=128,
        learning_rate=5e-3,
        threads=1,
        save_steps=1000,
        lora_dropout=0.0,
        logging_steps=1,
    )
    train(data, f"hf:{tiny_model}", config, name="style", kb_dir=kb.path, quiet=True, track=False)
    (docs / "billing" / "new.md").write_text("# New billing page\n\nInvoices are sent on the first of the month.\n")
    kb.ingest([docs])  # the model is now behind the head by one added document

    evalset = tmp_path / "eval.jsonl"
    evals = [json.loads(line) for line in (HELPCENTER / "eval.jsonl").read_text().splitlines() if line.strip()]
    billing = [r for r in evals if r["sources"] and r["sources"][0].startswith("billing/")][:5]
    evalset.write_text("".join(json.dumps(r) + "\n" for r in billing))
    out = tmp_path / "results" / "billing-compare"
    result = CliRunner().invoke(
        cli,
        [
            "compare",
            "--eval",
            str(evalset),
            "--out",
            str(out),
            "--strategies",
            "rag-extractive",
            "--resamples",
            "100",
            "--kb",
            str(kb.path),
        ],
    )
    assert result.exit_code == 0, result.output

    settings = ServeSettings(results=(tmp_path / "results",))
    with running_server({"help": kb}, keys={"ada": "admin", "bob": "reader"}, settings=settings) as srv:
        ada = httpx.Client(base_url=srv.url, headers=srv.headers("ada"))
        bob = httpx.Client(base_url=srv.url, headers=srv.headers("bob"))
        runs = bob.get("/v1/runs").json()["data"]
        assert [r["name"] for r in runs] == ["style"] and runs[0]["status"] == "finished"
        assert [step for step, _ in runs[0]["loss"]] == list(range(1, 7))
        assert all(loss > 0 for _, loss in runs[0]["loss"]) and runs[0]["params"]["max_steps"] == 6
        models = bob.get("/v1/registry").json()["data"]
        assert [m["name"] for m in models] == ["style"]
        assert models[0]["lineage"]["kb_version"] == 1 and models[0]["lineage"]["run_id"] == runs[0]["run_id"]
        assert models[0]["staleness"]["head"] == 2 and models[0]["staleness"]["added"] == 1
        assert bob.get("/v1/comparisons").status_code == 403
        listed = ada.get("/v1/comparisons").json()["data"]
        assert [c["name"] for c in listed] == ["billing-compare"] and listed[0]["strategies"] == ["rag-extractive"]
        report = ada.get("/v1/comparisons/billing-compare/report.html")
        assert report.status_code == 200 and report.headers["content-type"].startswith("text/html")
        assert "rag-extractive" in report.text
        for bad in ("..", "..%2Fresults", "nope"):
            assert ada.get(f"/v1/comparisons/{bad}/report.html").status_code == 404
    kb.close()
