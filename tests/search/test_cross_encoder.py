"""The cross-encoder rerank stage: chosen by ``cross-encoder:PATH``, it reorders the fused candidates by its own
score (kept beside fusion's), keeps k, and refuses a missing model by name. The model here is an untrained head
on the bundled MiniLM (deterministic scores); training is tested with ``tune-reranker``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ragtune import KnowledgeBase
from ragtune.config import Settings
from ragtune.embed.base import Embedder, resolve_model_path
from ragtune.errors import SearchError
from ragtune.search.query import Query
from ragtune.search.rerank import reranker_named


@pytest.fixture(scope="module")
def cross_encoder_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sentence_transformers import CrossEncoder

    out = tmp_path_factory.mktemp("ce") / "model"
    CrossEncoder(resolve_model_path("all-MiniLM-L6-v2"), num_labels=1, device="cpu").save(str(out))
    return out


def test_rerank_reorders_by_the_cross_encoder_and_keeps_k(
    cross_encoder_dir: Path, tmp_path: Path, embedder: Embedder
) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(12):
        (docs / f"page{i}.md").write_text(f"# Page {i}\n\nRefunds are issued within {i + 2} days of a request.\n")
    base = Settings()
    plain = KnowledgeBase.open(tmp_path / "kb", create=True, settings=base, embedder=embedder)
    plain.ingest([docs])
    fused = plain.retrieve(Query("how long do refunds take", k=8)).passages
    plain.close()
    spec = f"cross-encoder:{cross_encoder_dir}"
    settings = dataclasses.replace(base, search=dataclasses.replace(base.search, rerank=spec, rerank_depth=8))
    with KnowledgeBase.open(tmp_path / "kb", settings=settings, embedder=embedder) as kb:
        reranked = kb.retrieve(Query("how long do refunds take", k=3)).passages
    assert [p.rank for p in reranked] == [1, 2, 3]
    scores = [p.scores["rerank"] for p in reranked]
    assert scores == sorted(scores, reverse=True)
    # The three kept are the cross-encoder's best of the eight fused candidates, whatever fusion's order was.
    model = reranker_named(spec, settings.search)
    best = model.rerank(Query("how long do refunds take"), fused)[:3]
    assert [p.chunk_id for p in reranked] == [p.chunk_id for p in best]


def test_blend_mixes_scaled_scores_and_keeps_fusion_order_monotone() -> None:
    from ragtune.search.cross_encoder import blend_scores, monotone

    assert blend_scores([3.0, 2.0, 1.0], [0.0, 5.0, 10.0], 0.0) == [1.0, 0.5, 0.0]  # fusion alone
    assert blend_scores([3.0, 2.0, 1.0], [0.0, 5.0, 10.0], 1.0) == [0.0, 0.5, 1.0]  # the cross-encoder alone
    assert blend_scores([3.0, 2.0, 1.0], [0.0, 5.0, 10.0], 0.5) == [0.5, 0.5, 0.5]
    assert blend_scores([1.0, 1.0], [2.0, 1.0], 0.5) == [0.5, 0.0]  # equal scores scale to 0, not a division error
    # exact evidence moved a low-scoring passage first: it counts the best score behind it
    assert monotone([0.2, 0.9, 0.5, 0.7]) == [0.9, 0.9, 0.7, 0.7]


def test_the_blend_weight_is_read_from_the_model_folder(tmp_path: Path) -> None:
    from ragtune.search.cross_encoder import CrossEncoderReranker, blend_weight

    assert blend_weight(tmp_path) == 1.0  # an outside cross-encoder reranks alone
    (tmp_path / "ragtune.json").write_text('{"run_id": "r", "blend_weight": 0.35}')
    assert blend_weight(tmp_path) == 0.35
    (tmp_path / "ragtune.json").write_text('{"blend_weight": 0}')
    passages = [object(), object()]
    # share 0: the order stays fusion's and the model is never loaded (there is none in this folder)
    assert CrossEncoderReranker(str(tmp_path)).rerank(Query("x"), passages) is passages  # type: ignore[arg-type]
    (tmp_path / "ragtune.json").write_text('{"blend_weight": 2}')
    with pytest.raises(SearchError, match=r"ragtune.json: blend_weight must be a number in \[0, 1\]"):
        blend_weight(tmp_path)


def test_missing_cross_encoder_is_a_clear_error(tmp_path: Path) -> None:
    reranker = reranker_named(f"cross-encoder:{tmp_path / 'nope'}", Settings().search)
    with pytest.raises(SearchError, match="no model directory"):
        reranker.rerank(Query("x"), [object()])  # type: ignore[list-item]


def test_a_reranker_trained_into_the_kb_is_offered_by_name_and_as_a_strategy(
    cross_encoder_dir: Path, tmp_path: Path, embedder: Embedder
) -> None:
    import shutil

    from ragtune.rag.strategies import load_strategies

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "refunds.md").write_text("# Refunds\n\nRefunds are issued within 14 days of a request.\n")
    with KnowledgeBase.open(tmp_path / "kb", create=True, settings=Settings(), embedder=embedder) as kb:
        kb.ingest([docs])
        assert "rag-extractive+rerank" not in load_strategies(kb, config={})
        shutil.copytree(cross_encoder_dir, tmp_path / "kb" / "rerankers" / "helpdesk")
        strategies = load_strategies(kb, config={})
        assert strategies["rag-extractive+rerank"].spec.rerank == "helpdesk"
        answer = strategies["rag-extractive+rerank"].ask("How long do refunds take?")
        assert "14 days" in answer.text and "rerank" in answer.passages[0].scores
        # The plain strategy keeps fusion's order: the reranker is the strategy's, not the KB's.
        assert "rerank" not in strategies["rag-extractive"].ask("How long do refunds take?").passages[0].scores
        with pytest.raises(SearchError, match="helpdesk"):
            reranker_named("helpdek", kb.settings.search, kb.path)
