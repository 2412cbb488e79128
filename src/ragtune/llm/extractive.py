"""The model-free answerer: pick the retrieved sentences that best answer a question, and cite them.

Used when no language model is configured. Each passage (light Markdown: ``#`` headings, ``-``/``1.``
list items, ``| a | b |`` table rows) is cut into candidate sentences (``ragtune.text.answer_candidates``); a
list item or a table row is one candidate, a heading is not a candidate but lends its words to the sentences
below it. Candidate vectors come from the store where ingest put them (``sentence_vectors``: matched by text, so
a candidate without one is embedded instead, never given another's vector); the rest, and the question unless
``embed_query`` is given, go through ONE batched ``embed`` call. Answering from stored vectors is one query
embedding and a dot product: 7 ms p50 on the help center instead of 90 (docs/benchmarks.md). A candidate scores

    w_cosine · cos(question, sentence) + w_lexical · overlap(question words, sentence words) + w_rank · prior

where the overlap is the share of the question's content words (stemmed) found in the sentence (half
credit when found only in its section heading), and the prior is 1/(1 + rank) of its passage, or the
passage's score over the best one when ``passage_scores`` are given. When no candidate reaches
``min_score`` the answer says so (``NOT_FOUND``) instead of guessing. Otherwise up to ``max_sentences``
candidates within ``max_gap`` of the best (and above ``min_extra_score``) are kept, near-duplicates
dropped (overlapping chunks repeat sentences), ordered best first but with each passage's sentences kept
together, and cited ``[n]``, n being the passage's 1-based number.

``min_score`` is calibrated on SQuAD v1.1 by ``benchmarks/calibrate_extractive.py``, not on any help-center
data, against *hard* negatives: the question with the four paragraphs of its own article most similar to
it, minus its gold paragraph and any paragraph holding a gold answer — on-topic passages without the
answer, which is what a knowledge base retrieves for a question it cannot answer. 0.66 maximised balanced
accuracy there (250 + 250 cases); on 250 + 250 held-out cases from other articles it answers 66% of
answerable questions and declines 88% of hard negatives (and all of the easy ones, another article's
paragraphs, which the earlier 0.37 was tuned on and which overstate how well it declines). No blend or
gate of the cosine and lexical signals separates hard negatives much better (held-out ROC AUC ~0.87).

The default is 0.55, not 0.66, as a product decision: balanced accuracy is flat between them (held-out
0.746 at 0.55, 0.770 at 0.66) while the share of answerable questions answered drops from 92% to 66%, and
for an assistant whose every sentence carries a checkable citation, a missed answer costs the user more
than a cited sentence that does not answer. Raise ``[answer] min_score`` where declining matters more.

Sentence vectors embedded here are cached by text (chunks are immutable, so the same sentences come back often).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ragtune.text import WORD, AnswerCandidate, analyze, answer_candidates

_CACHE_SIZE = 50_000  # sentence vectors kept (~80 MB at 384 dims)
NOT_FOUND = "I couldn't find an answer to that in the knowledge base."

EmbedFn = Callable[[list[str]], np.ndarray]
EmbedQueryFn = Callable[[str], np.ndarray]
# Per passage: the texts of its candidate sentences (``AnswerCandidate.embed_text``) and their unit vectors
# ``[n, dim]``, as ingest stored them for its chunk; None for a passage without stored vectors.
SentenceVectors = Sequence[tuple[Sequence[str], np.ndarray] | None]


def _stored_lookup(stored: SentenceVectors | None, n: int) -> list[dict[str, np.ndarray] | None]:
    """Per passage, embedded text → stored vector (None where nothing is stored)."""
    if stored is None or len(stored) != n:
        return [None] * n
    return [None if s is None else dict(zip(s[0], s[1], strict=True)) for s in stored]


def _term_set(text: str) -> set[str]:
    return set(analyze(text))


def _key(text: str) -> str:
    return " ".join(WORD.findall(text.lower()))


def _with_citation(sentence: str, number: int) -> str:
    """``"Costs $12."`` → ``"Costs $12 [1]."``; a row or item without an end mark gets a period."""
    body = sentence.rstrip()
    end = len(body)
    while end > 0 and body[end - 1] in ".!?…;:,":
        end -= 1
    mark = body[end:].lstrip(";:,") or "."
    return f"{body[:end].rstrip()} [{number}]{mark}"


# --- the answerer --------------------------------------------------------------------------------------


@dataclass
class ScoredSentence:
    """A candidate sentence with its score; ``start:end`` is its span in the passage text."""

    text: str
    passage: int  # 0-based passage index
    score: float
    start: int
    end: int
    cosine: float = 0.0
    lexical: float = 0.0


@dataclass
class ExtractiveAnswer:
    """The composed answer (or ``NOT_FOUND``), what it cites and why."""

    text: str
    cited: list[int]  # 0-based passage indices, in order of first citation
    sentences: list[ScoredSentence]  # the sentences used, in answer order
    answered: bool
    best_score: float
    candidates: int = 0  # how many distinct sentences were scored


class ExtractiveAnswerer:
    """Answers from retrieved passages by selecting and citing their best sentences; needs no model.

    ``embed(texts)`` returns L2-normalised float32 vectors, shape (n, d); it is called at most once per answer,
    for the candidates that have no stored vector and were not seen recently (with the question, unless
    ``embed_query`` is given: then the question alone goes through ``embed_query``).
    """

    def __init__(
        self,
        embed: EmbedFn,
        *,
        embed_query: EmbedQueryFn | None = None,
        max_sentences: int = 3,
        min_score: float = 0.55,
        max_gap: float = 0.1,
        min_extra_score: float = 0.37,
        w_cosine: float = 0.7,
        w_lexical: float = 0.3,
        w_rank: float = 0.05,
        heading_credit: float = 0.5,
        duplicate_cosine: float = 0.95,
    ) -> None:
        if max_sentences < 1:
            raise ValueError(f"max_sentences must be at least 1, got {max_sentences}")
        self.embed = embed
        self.embed_query = embed_query
        """The question's vector (the embedder's one-text fast path); None: embedded in the batch with the
        candidates."""
        self.max_sentences = max_sentences
        self.min_score = min_score
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        """Below this best score the answer is ``NOT_FOUND`` (calibrated on SQuAD hard negatives, see module doc)."""
        self.max_gap = max_gap
        """Sentences scoring more than this below the best one are not added."""
        self.min_extra_score = min_extra_score
        """Sentences after the best one must also reach this: the off-topic floor (SQuAD easy negatives).
        Kept apart from ``min_score``, which decides whether to answer, not what supports the answer."""
        self.w_cosine, self.w_lexical, self.w_rank = w_cosine, w_lexical, w_rank
        self.heading_credit = heading_credit
        self.duplicate_cosine = duplicate_cosine

    def _vectors(self, texts: list[str], given: Sequence[np.ndarray | None]) -> np.ndarray:
        """Vectors for ``texts``: the ``given`` one (stored at ingest) where there is one, else one seen recently,
        else embedded (one batched call for all that are missing)."""
        cache = self._cache
        missing = list(dict.fromkeys(t for t, g in zip(texts, given, strict=True) if g is None and t not in cache))
        if missing:
            fresh = np.asarray(self.embed(missing), dtype=np.float32)
            for t, v in zip(missing, fresh, strict=True):
                cache[t] = v
            while len(cache) > _CACHE_SIZE:
                cache.popitem(last=False)
        rows = []
        for t, g in zip(texts, given, strict=True):
            if g is None:
                cache.move_to_end(t)
                rows.append(cache[t])
            else:
                rows.append(g)
        return np.stack(rows) if rows else np.zeros((0, 0), dtype=np.float32)

    def score(
        self,
        question: str,
        passages: Sequence[str],
        *,
        passage_scores: Sequence[float] | None = None,
        sentence_vectors: SentenceVectors | None = None,
    ) -> tuple[list[ScoredSentence], np.ndarray]:
        """Every distinct candidate sentence, scored, best first, and their vectors (same order).

        ``sentence_vectors``: per passage, its candidates' texts and vectors stored at ingest (or None); a
        candidate found there is not embedded again."""
        seen: set[str] = set()
        cands: list[tuple[int, AnswerCandidate]] = []
        for p, passage in enumerate(passages):
            for c in answer_candidates(passage):
                k = _key(c.text)
                if k not in seen:  # overlapping chunks repeat sentences: keep the higher-ranked copy
                    seen.add(k)
                    cands.append((p, c))
        if not cands:
            return [], np.zeros((0, 0), dtype=np.float32)
        stored = _stored_lookup(sentence_vectors, len(passages))
        given = [None if (found := stored[p]) is None else found.get(c.embed_text) for p, c in cands]
        if self.embed_query is not None:
            q = np.asarray(self.embed_query(question), dtype=np.float32)
            vecs = self._vectors([c.embed_text for _, c in cands], given)
        else:
            both = self._vectors([question] + [c.embed_text for _, c in cands], [None, *given])
            q, vecs = both[0], both[1:]
        cos = vecs @ q
        prior = self._priors(len(passages), passage_scores)
        q_terms = _term_set(question)
        out: list[ScoredSentence] = []
        for i, (p, c) in enumerate(cands):
            lex = 0.0
            if q_terms:
                terms, ctx = _term_set(c.text), _term_set(c.context)
                hits = sum(1.0 if t in terms else self.heading_credit if t in ctx else 0.0 for t in q_terms)
                lex = hits / len(q_terms)
            s = self.w_cosine * float(cos[i]) + self.w_lexical * lex + self.w_rank * prior[p]
            out.append(ScoredSentence(c.text, p, s, c.start, c.end, float(cos[i]), lex))
        order = sorted(range(len(out)), key=lambda i: -out[i].score)
        return [out[i] for i in order], vecs[order]

    def select(
        self,
        question: str,
        passages: Sequence[str],
        *,
        count_tokens: Callable[[str], int],
        budget: int,
        passage_scores: Sequence[float] | None = None,
        sentence_vectors: SentenceVectors | None = None,
    ) -> list[tuple[int, str]]:
        """The sentences of ``passages`` most relevant to ``question`` that fit in ``budget`` tokens, as
        ``(passage index, its chosen sentences in their original order)``, passages in the order of their best
        sentence. What a RAG prompt shows a small model instead of whole passages (``context = "sentences"``)."""
        scored, _ = self.score(question, passages, passage_scores=passage_scores, sentence_vectors=sentence_vectors)
        chosen: dict[int, list[ScoredSentence]] = {}
        room = budget
        for s in scored:
            cost = count_tokens(s.text) + 1
            if cost <= room:
                chosen.setdefault(s.passage, []).append(s)
                room -= cost
        return [(p, " ".join(s.text for s in sorted(found, key=lambda s: s.start))) for p, found in chosen.items()]

    @staticmethod
    def _priors(n: int, passage_scores: Sequence[float] | None) -> list[float]:
        if passage_scores is None or len(passage_scores) != n:
            return [1.0 / (1 + r) for r in range(n)]
        top = max((float(s) for s in passage_scores), default=0.0)
        if top <= 0:
            return [1.0 / (1 + r) for r in range(n)]
        return [max(0.0, float(s)) / top for s in passage_scores]

    def answer(
        self,
        question: str,
        passages: Sequence[str],
        *,
        passage_scores: Sequence[float] | None = None,
        sentence_vectors: SentenceVectors | None = None,
    ) -> ExtractiveAnswer:
        """The best sentences of ``passages`` (ranked, best first) for ``question``, cited ``[n]``."""
        scored, vecs = self.score(question, passages, passage_scores=passage_scores, sentence_vectors=sentence_vectors)
        best = scored[0].score if scored else 0.0
        if not scored or best < self.min_score:
            return ExtractiveAnswer(NOT_FOUND, [], [], False, best, len(scored))
        picked: list[int] = []
        for i, s in enumerate(scored):
            if len(picked) == self.max_sentences or s.score < max(self.min_extra_score, best - self.max_gap):
                break
            if any(self._duplicate(scored[i], vecs[i], scored[j], vecs[j]) for j in picked):
                continue
            picked.append(i)
        # Lead with the best sentence; keep each passage's sentences together so citations run in order.
        group_rank: dict[int, int] = {}
        for i in picked:
            group_rank.setdefault(scored[i].passage, len(group_rank))
        chosen = sorted((scored[i] for i in picked), key=lambda s: group_rank[s.passage])  # stable
        text = " ".join(_with_citation(s.text, s.passage + 1) for s in chosen)
        cited = list(dict.fromkeys(s.passage for s in chosen))
        return ExtractiveAnswer(text, cited, chosen, True, best, len(scored))

    def _duplicate(self, a: ScoredSentence, va: np.ndarray, b: ScoredSentence, vb: np.ndarray) -> bool:
        if float(va @ vb) >= self.duplicate_cosine:
            return True
        ka, kb = _key(a.text), _key(b.text)
        return ka in kb or kb in ka
