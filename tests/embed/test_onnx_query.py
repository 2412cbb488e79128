"""The ONNX query fast path gives the same vectors as torch, and falls back cleanly."""

from __future__ import annotations

import numpy as np
import pytest

from ragtune.embed import load_embedder
from ragtune.embed.sentence import SentenceTransformerEmbedder
from ragtune.errors import EmbedderError

QUERIES = ["How much is the Team plan?", "maximum upload size for a single file", "Wie lang ist die Testphase?"]


def test_onnx_and_torch_query_vectors_agree() -> None:
    onnx = load_embedder(query_backend="onnx", query_precision="fp32")
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


def test_int8_graph_is_measured_checked_and_chosen_only_when_it_agrees() -> None:
    import json

    from ragtune.embed.onnx_query import MIN_COSINE, OnnxQueryEncoder

    int8 = load_embedder(query_backend="onnx", query_precision="int8")
    torch_only = load_embedder(query_backend="torch")
    for q in QUERIES:
        assert float(int8.embed_query(q) @ torch_only.embed_query(q)) > MIN_COSINE
    assert int8._onnx is not None and int8._onnx.graph == "int8"
    _, int8_path, record_path = OnnxQueryEncoder._paths(int8.id)
    record = json.loads(record_path.read_text())
    info = record["int8"]
    assert info["usable"] and info["min_cosine"] >= MIN_COSINE and info["speedup"] > 0 and info["kept_fp32"] > 0
    assert record["choice"] in ("fp32", "int8")  # auto: by the speed measured on this CPU
    # A later process reuses the chosen graph without torch, after checking its probe vectors ...
    tok = int8._fast_tokenizer
    again = OnnxQueryEncoder.cached(tok, int8.id, int8.max_tokens, "int8")
    assert again is not None and again.graph == "int8"
    assert float(again.encode(QUERIES[0]) @ int8.embed_query(QUERIES[0])) > 0.9999
    # ... and refuses an edited one (then the embedder would build it again).
    raw = bytearray(int8_path.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 4096] = bytes(4096)
    int8_path.write_bytes(bytes(raw))
    assert OnnxQueryEncoder.cached(tok, int8.id, int8.max_tokens, "int8") is None
    record_path.write_text(json.dumps({**record, "record": 1}))  # an older record layout: rebuild
    assert OnnxQueryEncoder.cached(tok, int8.id, int8.max_tokens, "fp32") is None


def test_bad_query_precision_is_a_clear_error() -> None:
    with pytest.raises(EmbedderError, match="query_precision"):
        SentenceTransformerEmbedder(query_precision="int4")
