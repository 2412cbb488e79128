"""The ingest embedding path: token-budget batches across texts, the same vectors as sentence-transformers,
and the precision chosen by a cached run-time probe."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ragtune.embed import probe
from ragtune.embed.sentence import TOKEN_BUDGET, SentenceTransformerEmbedder, token_budget_batches

TEXTS = [
    "short",
    "",
    "A much longer text about mitochondria, insulin resistance and skeletal muscle. " * 12,
    "How much is the Team plan per user?",
    "Rainfall in the region has declined steadily while summer temperatures rose. " * 4,
] * 7


def test_token_budget_batches_cover_every_text_longest_first() -> None:
    lengths = [3, 250, 40, 40, 7, 120, 1, 250]
    batches = token_budget_batches(lengths, budget=300, max_batch=3)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    flat = [lengths[i] for b in batches for i in b]
    assert flat == sorted(lengths, reverse=True)
    for b in batches:
        assert len(b) <= 3
        assert len(b) == 1 or len(b) * max(lengths[i] for i in b) <= 300
    assert token_budget_batches([], budget=300, max_batch=3) == []


def test_fp32_vectors_equal_sentence_transformers_encode() -> None:
    emb = SentenceTransformerEmbedder(precision="fp32")
    got = emb.embed(TEXTS)
    ref = emb._model.encode(TEXTS, batch_size=64, normalize_embeddings=True, convert_to_numpy=True)
    assert got.shape == (len(TEXTS), emb.dim) and got.dtype == np.float32
    assert float((got * ref).sum(1).min()) > 0.99999
    assert TOKEN_BUDGET > 0


def test_auto_precision_is_probed_once_and_cached(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("RAGTUNE_CACHE", str(tmp_path / "cache"))  # not the session's cache, which others filled
    monkeypatch.setattr(probe, "cpu_has_bf16", lambda: True)  # probe even where the CPU has no native bf16
    emb = SentenceTransformerEmbedder(precision="auto")
    choice = emb.precision_choice
    assert emb.precision == choice["precision"] and emb.id.endswith(":" + emb.precision)
    assert choice["cached"] is False and choice["min_cosine"] > 0.99
    assert choice["bf16_gain"] == pytest.approx(choice["fp32_cpu_s"] / choice["bf16_cpu_s"])
    again = SentenceTransformerEmbedder(precision="auto")
    assert again.precision_choice["cached"] is True and again.id == emb.id
    stored = json.loads(probe._cache_file().read_text(encoding="utf-8"))
    assert stored[probe.probe_key(emb.id.rsplit(":", 1)[0])]["precision"] == emb.precision


def test_cpu_without_native_bf16_runs_fp32_without_probing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe, "cpu_has_bf16", lambda: False)

    def never(precision: str) -> np.ndarray:
        raise AssertionError("no probe without native bf16")

    assert probe.choose_precision("model@rev", never)["precision"] == "fp32"


def test_unreadable_probe_cache_is_measured_again(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe, "cpu_has_bf16", lambda: True)
    path = probe._cache_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json", encoding="utf-8")
    emb = SentenceTransformerEmbedder(precision="fp32")
    got = probe.choose_precision("model@rev", emb._probe_run)
    assert got["cached"] is False and got["precision"] in ("fp32", "bf16")
    assert json.loads(path.read_text(encoding="utf-8"))[probe.probe_key("model@rev")]["precision"] == got["precision"]
