"""Sentence vectors for the extractive answerer, computed once per chunk at ingest.

The extractive answerer (``ragtune.llm.extractive``) scores every candidate answer sentence of the retrieved
passages by its cosine to the question. Embedding those candidates at answer time cost 60–200 ms per question
on the help center; chunks are immutable and content-addressed, so the vectors are computed here once per
distinct chunk and embedder and stored with it (``Store.add_sentence_vectors``), and answering becomes one
query embedding and a dot product. The candidates are cut by ``ragtune.text.answer_candidates``, the function
the answerer uses, and stored with their texts, so a candidate is matched by text and one that differs (a newer
splitter, a rewritten passage) is embedded on the fly instead: never a wrong vector.

Each sentence is embedded on its own, exactly as the answerer embedded it before, so answers are unchanged.
Pooling each sentence's tokens out of the chunk's own forward pass ("late chunking") was measured as the cheaper
alternative; the figures and the choice are in docs/benchmarks.md ("Extractive answers").
"""

from __future__ import annotations

import numpy as np

from ragtune.embed.base import Embedder
from ragtune.kb.store import SentenceVectors, Store
from ragtune.text import answer_candidates

FILL_BATCH = 256  # chunks per embedding call and per write transaction


def sentence_texts(chunk_text: str) -> list[str]:
    """The texts the answerer embeds for a chunk's candidate sentences (a table row with its column names)."""
    return [c.embed_text for c in answer_candidates(chunk_text)]


def fill_sentence_vectors(store: Store, embedder: Embedder, *, batch: int = FILL_BATCH) -> int:
    """Embed and store the candidate sentences of every chunk that has none from ``embedder`` yet.

    Called by ingest before it commits its version, so new chunks are live with their sentence vectors; it also
    fills chunks written before sentence vectors existed (the first ingest after upgrading pays for them once).
    Returns the number of chunks filled."""
    filled = 0
    while rows := store.chunks_missing_sentence_vectors(embedder.id, batch):
        texts = [sentence_texts(text) for _, text in rows]
        unique = list(dict.fromkeys(t for ts in texts for t in ts))
        matrix = embedder.embed(unique) if unique else np.zeros((0, embedder.dim), dtype=np.float32)
        row_of = {t: i for i, t in enumerate(unique)}
        items: list[SentenceVectors] = [
            (cid, ts, matrix[[row_of[t] for t in ts]] if ts else np.zeros((0, embedder.dim), dtype=np.float32))
            for (cid, _), ts in zip(rows, texts, strict=True)
        ]
        store.add_sentence_vectors(embedder.id, items)
        filled += len(rows)
    return filled
