"""Training a cross-encoder reranker from the bundled MiniLM: it learns the rows' relevance (pairwise accuracy
on its training rows rises from chance), saves a model the rerank stage loads, and refuses bad settings."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from ragtune.errors import ConfigError
from ragtune.search.cross_encoder import load_cross_encoder
from ragtune.tune.training.reranker import (
    RerankerTrainConfig,
    RerankRow,
    labelled_examples,
    listwise_columns,
    train_cross_encoder,
)

TOPICS = ["invoice", "password", "export", "webhook", "storage", "refund", "calendar", "billing", "sso", "backup"]


def rows(n: int, seed: int = 0) -> list[RerankRow]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        topic, other = rng.sample(TOPICS, 2)
        query = f"how do I change the {topic} settings {i % 7}"
        positive = f"To change {topic} settings, open Settings and choose {topic.title()}."
        negative = f"To change {other} settings, open Settings and choose {other.title()}."
        out.append(RerankRow(query, positive, (negative,)))
    return out


def pairwise_accuracy(model_dir: Path, data: list[RerankRow]) -> float:
    model = load_cross_encoder(str(model_dir))
    pos = model.predict([(r.query, r.positive) for r in data], show_progress_bar=False)
    neg = model.predict([(r.query, r.negatives[0]) for r in data], show_progress_bar=False)
    return float(sum(p > n for p, n in zip(pos, neg, strict=True)) / len(data))


def test_a_trained_cross_encoder_ranks_the_answer_first(tmp_path: Path) -> None:
    train = rows(64)
    config = RerankerTrainConfig(epochs=3, batch_size=16, negatives=1, learning_rate=1e-4)
    figures = train_cross_encoder(train, tmp_path / "ce", config, progress=False)
    assert figures["examples"] == 128 and figures["steps"] == 24
    held_out = rows(40, seed=1)
    assert pairwise_accuracy(tmp_path / "ce", held_out) >= 0.9


def test_a_listwise_cross_encoder_ranks_the_answer_first(tmp_path: Path) -> None:
    train = rows(64)
    config = RerankerTrainConfig(epochs=3, batch_size=8, negatives=1, learning_rate=1e-4, loss="listwise")
    figures = train_cross_encoder(train, tmp_path / "ce", config, progress=False)
    assert figures["steps"] == 24  # 64 questions, 8 per step, 3 epochs: a step holds a question with its candidates
    assert pairwise_accuracy(tmp_path / "ce", rows(40, seed=1)) >= 0.9


def test_examples_and_settings() -> None:
    data = [RerankRow("q", "p", ("n1", "n2", "n3"))]
    assert sorted(labelled_examples(data, 2)) == [("q", "n1", 0.0), ("q", "n2", 0.0), ("q", "p", 1.0)]
    cols = listwise_columns([*data, RerankRow("q2", "p2")], 2)
    assert sorted(cols) == ["negative_1", "negative_2", "positive", "query"]
    by_query = {q: (cols["negative_1"][i], cols["negative_2"][i]) for i, q in enumerate(cols["query"])}
    assert by_query["q"] == ("n1", "n2") and set(by_query["q2"]) <= {"p"}  # borrowed: another question's answer
    with pytest.raises(ConfigError, match="loss"):
        RerankerTrainConfig(loss="hinge").check()
    with pytest.raises(ConfigError, match="max_length"):
        RerankerTrainConfig(max_length=4).check()
    with pytest.raises(ConfigError, match="no training rows"):
        train_cross_encoder([], Path("unused"))


def test_the_blend_weight_is_chosen_on_held_out_search() -> None:
    from ragtune.tune.training.reranker import CandidateList, blended_mrr, choose_blend

    # Fusion puts the answer a close second (scaled 0.875 vs 1), the cross-encoder first: a share above 1/9 wins.
    helps = [CandidateList((0.9, 0.8, 0.1), (0.0, 1.0, 0.2), (False, True, False))] * 3
    weight, mrr = choose_blend(helps)
    assert mrr == {"fused": 0.5, "reranked": 1.0, "blended": 1.0} and weight == 0.15  # the smallest on the grid
    # A cross-encoder that ranks the answer last: fusion alone (share 0) is kept.
    hurts = [CandidateList((0.9, 0.8, 0.1), (1.0, 0.0, 0.5), (True, False, False))]
    assert choose_blend(hurts)[0] == 0.0
    # A question whose answer was not retrieved counts 0 at every share.
    missed = CandidateList((0.9, 0.1), (0.1, 0.9), (False, False))
    assert blended_mrr([*helps[:1], missed], 1.0) == 0.5
