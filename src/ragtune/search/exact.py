"""Exact evidence first: the identifiers a query names (``DN-913``, ``SKU-1075``, ``E-4471``) and the fused
ranking reordered so the chunks holding them come before the rest (``[search] exact_first``, hybrid search).

Why a stage of its own: an identifier is the one thing in a question that names a single passage, yet neither
leg sees it that way. To the embedder ``SKU-1075`` and ``SKU-1076`` are near-identical strings, and in BM25 the
rare ``1075`` is one term among the question's common words, which a page about error codes in general repeats
often enough to outscore the one page that mentions ``DN-913`` when asked "What does error DN-913 mean?". Score-
aware fusion (``convex``) keeps a *bare* code's overwhelming keyword match first; a code inside a question is not
overwhelming, and only weights that give up relevance elsewhere come near keeping it first (benchmarks/fusion.py:
weight_dense 0.1 keeps 94% of the help center's rare-term queries first at SciFact train nDCG@10 0.697, against
0.743 at 0.75).

An identifier is a token with a letter and a run of at least three digits (``DN-913``, ``SKU-1075``,
``E-4471``, ``INV2024001``, ``0x80070005``): a *code* numbered from a sequence, whose look-alikes differ only in
digits and which a user types exactly. Names with short numbers (``IL-6``, ``p53``, ``Th2``, ``CD40``, ``v2.3.1``)
are not codes: a text about them often spells them another way ("interleukin 6", "T helper 2"), and moving the
passages that spell them as asked ahead of the rest cost SciFact train nDCG@10 0.7426 → 0.7378, where the
three-digit rule gains (0.7446; ``convex``, weight_dense 0.75). A number alone ("10 users", "error 404", "1.5 mg")
recurs across unrelated passages and is no identifier either. A chunk *holds* an identifier when its text has
every search term of it (``DN-913`` → ``dn`` and ``913``); their order is not checked, since BM25's index keeps no
positions. Promoting the chunks that hold a query word no other chunk holds instead cost the help center's ordinary
questions (page recall@1 0.946 → 0.891).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from ragtune.text import analyze

# A token (letters and digits, parts joined by - _ or .) with a letter and three digits in a row.
IDENTIFIER = re.compile(r"(?<![\w.-])(?=[\w.-]*\d{3})(?=[\w.-]*[^\W\d_])[^\W_]+(?:[-_.][^\W_]+)*")


def identifiers(text: str) -> list[tuple[str, ...]]:
    """The identifiers in ``text``, each as its search terms (``"error DN-913"`` → ``[("dn", "913")]``)."""
    found = (tuple(analyze(m.group())) for m in IDENTIFIER.finditer(text))
    return list(dict.fromkeys(t for t in found if t))


def exact_first(
    positions: np.ndarray, scores: np.ndarray, holding: Sequence[np.ndarray], limit: int
) -> tuple[np.ndarray, np.ndarray]:
    """The fused ranking with the positions that hold the query's identifiers moved ahead: those holding the most
    of them first (``holding``: per identifier, the positions holding it), each group in fused order.

    Holders the legs did not return join their group after the fused ones (at most ``limit`` of them, with the
    lowest fused score), so exact evidence is not lost to the legs' depth. Scores stay as fused: after the move
    they need not fall with rank; ranks are the order."""
    if not holding:
        return positions, scores
    held, counts = np.unique(np.concatenate(holding), return_counts=True)
    if not len(held):
        return positions, scores
    unseen = np.setdiff1d(held, positions, assume_unique=True)[:limit]
    floor = scores.min() if len(scores) else 0.0
    positions = np.concatenate([positions, unseen])
    scores = np.concatenate([scores, np.full(len(unseen), floor, dtype=scores.dtype)])
    at = np.minimum(np.searchsorted(held, positions), len(held) - 1)
    count = np.where(held[at] == positions, counts[at], 0)
    order = np.argsort(-count, kind="stable")
    return positions[order], scores[order]
