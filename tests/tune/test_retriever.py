"""Retriever tuning: the real embedding model trained for a few steps, saved where a KB finds it by name,
registered with its lineage, tracked, and searched with after ``kb reembed``."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from ragtune.config import Settings
from ragtune.embed import Embedder, load_embedder
from ragtune.errors import ConfigError
from ragtune.knowledge_base import KnowledgeBase
from ragtune.tune.data.pairs import RetrievalPair, file_sha256
from ragtune.tune.registry import ModelRegistry
from ragtune.tune.retriever import RetrieverConfig, ranking_metrics, split_pairs, train_retriever

HELPCENTER = Path(__file__).resolve().parents[2] / "examples" / "helpcenter" / "docs"
DOCS = ("billing/free-trial.md", "files/version-history-and-trash.md", "account/two-factor-authentication.md")
QUICK = RetrieverConfig(
    max_steps=2, batch_size=4, max_seq_length=48, val_share=0.25, learning_rate=1e-4, precision="fp32"
)


def pairs_from(kb: KnowledgeBase) -> list[RetrievalPair]:
    """Twelve distinct queries, each paired with a passage of the KB and another document's passage."""
    chunks = [(d, p["text"]) for d in sorted(kb.documents()) for p in kb.document(d)[1]]
    out = []
    for i in range(12):
        doc, text = chunks[i % len(chunks)]
        other = next(t for d, t in chunks if d != doc)
        out.append(RetrievalPair(f"question {i} about {doc}", text, "structure", (doc,), negatives=[other]))
    return out


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[SimpleNamespace]:
    """One KB over three help-center pages and one two-step training run on its pairs."""
    root = tmp_path_factory.mktemp("retr")
    for doc in DOCS:
        (root / "docs" / doc).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(HELPCENTER / doc, root / "docs" / doc)
    settings = Settings().replace("answer", sentence_vectors=False)
    kb = KnowledgeBase.open(root / ".ragtune", create=True, settings=settings, embedder=embedder)
    kb.ingest([root / "docs"])
    pairs = pairs_from(kb)
    from ragtune.embed.base import resolve_model_path

    base = resolve_model_path("all-MiniLM-L6-v2")
    result = train_retriever(pairs, base, QUICK, name="help-retriever", kb_dir=kb.path, kb_version=kb.head, quiet=True)
    yield SimpleNamespace(kb=kb, pairs=pairs, result=result, base=base)
    kb.close()


def test_the_tuned_model_is_saved_in_the_kb_with_its_run_and_differs_from_the_base(
    tuned: SimpleNamespace, embedder: Embedder
) -> None:
    r = tuned.result
    assert r.path == tuned.kb.path / "embedders" / "help-retriever" and (r.path / "modules.json").is_file()
    assert json.loads((r.path / "ragtune.json").read_text())["run_id"] == r.run_id
    assert r.steps == 2 and r.precision == "fp32" and r.val_pairs == 3 and r.pairs == 12
    tuned_embedder = load_embedder(str(r.path), precision="fp32")
    assert tuned_embedder.id.startswith("help-retriever@") and tuned_embedder.id != embedder.id
    text = ["How long does the free trial last?"]
    base = load_embedder("all-MiniLM-L6-v2", precision="fp32").embed(text)
    assert not np.allclose(base, tuned_embedder.embed(text), atol=1e-4)  # the weights moved
    assert {"base_val_recall_at_5", "val_recall_at_5", "val_mrr", "train_loss"} <= set(r.metrics)


def test_the_run_is_registered_with_its_lineage_and_tracked(tuned: SimpleNamespace) -> None:
    r = tuned.result
    with ModelRegistry.open(tuned.kb.path) as registry:
        model = registry.get("help-retriever")
        assert registry.list(kind="embedder") == [model]
    assert (model.kind, model.method, model.base, model.path) == ("embedder", "mnrl", tuned.base, str(r.path))
    assert model.data_sha256 == file_sha256(r.run_dir / "pairs.jsonl") == r.data_sha256
    assert model.kb_version == tuned.kb.head and model.run_id == r.run_id and model.spec == "help-retriever"
    assert json.loads((r.run_dir / "run.json").read_text())["status"] == "finished"
    from ragtune.tune.training.tracking import Tracker

    run = Tracker(tuned.kb.path).run(r.run_id)
    assert run["kind"] == "tune-retriever" and run["model"] == "help-retriever"
    assert run["params"]["data_sha256"] == r.data_sha256 and "val_recall_at_5" in run["metrics"]
    with pytest.raises(ConfigError, match="not a language model"):
        model.generator_spec()


def test_a_name_is_never_reused(tuned: SimpleNamespace) -> None:
    with pytest.raises(ConfigError, match="already exists"):
        train_retriever(tuned.pairs, tuned.base, QUICK, name="help-retriever", kb_dir=tuned.kb.path, track=False)


def test_reembed_with_the_tuned_name_searches_the_new_version_with_it(tuned: SimpleNamespace) -> None:
    kb = tuned.kb
    old = kb.head
    report = kb.reembed("help-retriever")
    assert report.version is not None and report.version.embedder == "help-retriever"
    assert report.embedder_id.startswith("help-retriever@") and report.chunks_embedded == report.chunks
    query = "How long is the free trial?"
    assert kb.retriever.embedder_for_version(report.version.version).id == report.embedder_id
    assert kb.retriever.embedder_for_version(old).id == kb.embedder.id
    new_scores = [p.score for p in kb.search(query, k=3, mode="dense")]
    old_scores = [p.score for p in kb.search(query, k=3, mode="dense", at=old)]
    assert new_scores != pytest.approx(old_scores, abs=1e-4)
    assert [d.name for d in kb.path.glob("index-help-retriever@*")], "the tuned embedder's own index files"
    assert (kb.path / "index" / "manifest.json").is_file()  # the configured embedder's, kept for older versions


def test_held_out_queries_stay_together_and_metrics_rank_the_pool(embedder: Embedder) -> None:
    pairs = [RetrievalPair(f"q{i % 10}", f"passage {i}", "labels") for i in range(20)]
    train, val = split_pairs(pairs, 0.2, seed=1)
    assert len({p.query for p in val}) == 2 and not {p.query for p in val} & {p.query for p in train}
    assert split_pairs(pairs[:5], 0.2, seed=1) == (pairs[:5], [])  # too few queries to hold any out

    class Exact:  # a "model" that maps "q3" and "passage 3" to the same one-hot vector: recall 1
        def encode(self, texts: list[str], **kw: object) -> np.ndarray:
            return np.eye(10)[[int(t.split()[-1].lstrip("q")) for t in texts]]

    metrics = ranking_metrics(Exact(), [RetrievalPair("q0", "passage 0", "labels"),
                                        RetrievalPair("q1", "passage 1", "labels")])  # fmt: skip
    assert metrics == {"recall_at_1": 1.0, "recall_at_5": 1.0, "mrr": 1.0}


def test_tune_reranker_command_trains_registers_and_is_selected_by_name(tmp_path: Path, embedder: Embedder) -> None:
    from click.testing import CliRunner

    from ragtune.cli.main import cli
    from ragtune.rag.strategies import load_strategies
    from ragtune.search.query import Query

    for doc in DOCS:
        (tmp_path / "docs" / doc).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(HELPCENTER / doc, tmp_path / "docs" / doc)
    kb_dir = tmp_path / ".ragtune"
    settings = Settings().replace("answer", sentence_vectors=False)
    with KnowledgeBase.open(kb_dir, create=True, settings=settings, embedder=embedder) as kb:
        kb.ingest([tmp_path / "docs"])
    args = ["tune-reranker", "--kb", str(kb_dir), "--name", "help-reranker", "--max-synthesized", "16",
            "--max-steps", "2", "--batch-size", "4", "--json"]  # fmt: skip
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["pairs"]["with_negatives"] > 0 and out["training"]["steps"] == 2
    assert (kb_dir / "rerankers" / "help-reranker" / "config.json").exists()
    with ModelRegistry.open(kb_dir) as registry:
        model = registry.get("help-reranker")
    assert (model.kind, model.method, model.spec) == ("reranker", "cross-encoder", "help-reranker")
    assert model.data_sha256 == file_sha256(out["training"]["data_path"] if "data_path" in out["training"] else
                                            Path(out["training"]["run_dir"]) / "pairs.jsonl")  # fmt: skip
    # Held-out questions, searched as the KB searches now, chose how much the reranker's score counts.
    metrics = out["training"]["metrics"]
    weight = json.loads((kb_dir / "rerankers" / "help-reranker" / "ragtune.json").read_text())["blend_weight"]
    assert weight == metrics["blend_weight"] and 0.0 <= weight <= 1.0
    assert metrics["val_search_mrr_blended"] >= max(metrics["val_search_mrr_fused"], metrics["val_search_mrr_reranked"])
    reranked = Settings().replace("search", rerank="help-reranker")
    with KnowledgeBase.open(kb_dir, settings=reranked, embedder=embedder) as kb:
        found = kb.retrieve(Query("How long is the free trial?", k=3)).passages
        # share 0: the reranker added nothing on held-out questions, so it is not run at all
        assert all(("rerank" in p.scores) == (weight > 0) for p in found)
        assert load_strategies(kb, config={})["rag-extractive+rerank"].spec.rerank == "help-reranker"
    again = CliRunner().invoke(cli, args)
    assert again.exit_code != 0 and "already exists" in str(again.exception)


def test_one_command_tunes_registers_and_reembeds(tmp_path: Path, hermetic: Path) -> None:
    from click.testing import CliRunner

    from ragtune.cli.main import cli

    docs = tmp_path / "docs"
    for doc in DOCS:
        (docs / doc).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(HELPCENTER / doc, docs / doc)
    kb = str(tmp_path / ".ragtune")
    run = CliRunner()
    assert run.invoke(cli, ["ingest", str(docs), "--kb", kb]).exit_code == 0
    args = ["tune-retriever", "--kb", kb, "--name", "cli-retriever", "--max-steps", "1", "--batch-size", "4"]
    args += ["--max-seq-length", "32", "--val-share", "0", "--max-synthesized", "8", "--reembed", "--json"]
    res = run.invoke(cli, args)
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["pairs"]["pairs"] == 8 and out["pairs"]["with_negatives"] == 8
    assert out["training"]["name"] == "cli-retriever" and out["training"]["steps"] == 1
    assert out["reembed"]["version"]["version"] == 2 and out["reembed"]["version"]["embedder"] == "cli-retriever"
    log = json.loads(run.invoke(cli, ["kb", "log", "--kb", kb, "--json"]).stdout)
    assert [(v["version"], v["operation"], v["embedder"]) for v in log] == [
        (2, "reembed", "cli-retriever"),
        (1, "ingest", None),
    ]
    models = json.loads(run.invoke(cli, ["models", "list", "--kb", kb, "--json"]).stdout)
    assert [(m["name"], m["kind"]) for m in models] == [("cli-retriever", "embedder")]
    again = run.invoke(cli, ["kb", "reembed", "--kb", kb, "--embedder", "cli-retriever"])
    assert again.exit_code == 0 and "already searches with cli-retriever" in again.output
    bad = run.invoke(cli, ["kb", "reembed", "--kb", kb, "--embedder", "/no/such-embedder"])
    assert bad.exit_code != 0 and "such-embedder" in str(bad.exception)
    assert len(json.loads(run.invoke(cli, ["kb", "log", "--kb", kb, "--json"]).stdout)) == 2


def test_the_tuned_embedder_is_offered_as_a_strategy_without_reembedding(tuned: SimpleNamespace) -> None:
    from ragtune.rag.strategies import load_strategies

    strategies = load_strategies(tuned.kb, config={})
    spec = strategies["rag-extractive+tuned-retriever"].spec
    assert spec.embedder == "help-retriever" and "rag+tuned-retriever" not in strategies  # no model configured
    head = tuned.kb.head
    tuned_answer = strategies["rag-extractive+tuned-retriever"].ask("How long is the free trial?")
    plain_answer = strategies["rag-extractive"].ask("How long is the free trial?")
    assert tuned_answer.passages and tuned.kb.head == head  # searched with its vectors; no new version
    assert plain_answer.passages
    # Every version, even the first (ingested with the configured model), is searched with the tuned vectors.
    tuned_retriever = strategies["rag-extractive+tuned-retriever"].pipeline.retriever
    plain_retriever = strategies["rag-extractive"].pipeline.retriever
    assert tuned_retriever.embedder_for_version(1).id == tuned.kb.embedder_for("help-retriever").id
    assert plain_retriever.embedder_for_version(1).id == tuned.kb.embedder.id


def test_compare_counts_the_retriever_training_in_setup_and_advise_weighs_it(
    tuned: SimpleNamespace, tmp_path: Path
) -> None:
    from ragtune.evaluate.run.compare import CompareOptions, run_comparison

    names = ["rag-extractive", "rag-extractive+tuned-retriever"]
    opts = CompareOptions(eval_path=HELPCENTER.parent / "eval.jsonl", out_dir=tmp_path / "cmp", strategies=names,
                          limit=3, n_resamples=200, progress=False)  # fmt: skip
    summary = run_comparison(tuned.kb, opts)
    plain, tuned_row = (summary["strategies"][n] for n in names)
    assert tuned_row["retriever_tuned"] is True and plain["retriever_tuned"] is False
    trained = json.loads((tuned.kb.path / "runs" / tuned.result.run_id / "metrics.json").read_text())["train_seconds"]
    # the tuned strategy's setup = the plain index build + the embedder's training run + re-embedding every chunk
    assert tuned_row["setup_seconds"] == pytest.approx(2 * plain["setup_seconds"] + trained, abs=0.01)
    assert "embedder training" in tuned_row["setup_method"] and "re-embedding" in tuned_row["setup_method"]
    assert tuned_row["retriever_lineage"]["embedder"]["model"] == "help-retriever"
    reasons = {f["rule"]: f["message"] for f in summary["advice"]["reasons"]}
    assert reasons["retriever_vs_generator_tuning"].startswith("rag-extractive+tuned-retriever quality")
    assert "no fine-tuned generator was measured" in reasons["retriever_vs_generator_tuning"]
