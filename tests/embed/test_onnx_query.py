"""The ONNX query fast path gives the same vectors as torch, and falls back cleanly."""

from __future__ import annotations

import numpy as np
import pytest

from ragtune.embed import load_embedder
from ragtune.embed.sentence import SentenceTransformerEmbedder
from ragtune.errors import EmbedderError

QUERIES = ["How much is the Team plan?", "maximum upload size for a single file", "Wie lang ist die Testphase?"]


def test_onnx_and_torch_query_vectors_agree() -> None:
    onnx = load_embedder(query_backend="onnx")
    torch_only = load_embedder(query_backend="torch")
    for q in QUERIES:
        a, b = onnx.embed_query(q), torch_only.embed_query(q)
        assert onnx._onnx is not None and torch_only._onnx is None
        assert a.shape == (onnx.dim,) and abs(float(np.linalg.norm(a)) - 1.0) < 1e-4
        assert float(a @ b) > 0.9999
    # and both agree with the batch path used at ingest
    batch = torch_only.embed(QUERIES)
    assert float((batch * np.stack([onnx.embed_query(q) for q in QUERIES])).sum(1).min()) > 0.9999


def test_bad_query_backend_is_a_clear_error() -> None:
    with pytest.raises(EmbedderError, match="query_backend"):
        SentenceTransformerEmbedder(query_backend="tensorrt")
