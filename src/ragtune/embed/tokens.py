"""Fast exact token counts for BERT WordPiece tokenizers (all-MiniLM-L6-v2's among them).

The chunker counts every sentence of every document; the tokenizer alone was the largest cost of chunking
SciFact. BERT tokenization is additive over pre-tokenized words: the normalizer deletes control
characters, the pre-tokenizer splits at whitespace and makes each punctuation mark (and CJK ideograph) a
word of its own, and no token spans two words. So count(text) == Σ count(word): each distinct word is
counted once by the real tokenizer and cached.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence

# Characters str.split() treats as spaces but the BERT normalizer deletes (joining their neighbours).
_DELETED_SPACES = re.compile("[\x0b\x0c\x1c-\x1f\x85]")
_CJK = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)
_PROBE = [
    "Hello, world! The Team plan costs $12.50/user — naïve café, ÅNGSTRÖM 東京 e.g. v2.1.3 (x86_64) #42",
    "under_score CamelCase 10,000 tokens\u00a0nbsp\ttab\u200bzero-width 🙂 emoji ½ ﬁ ligature",
]


def _is_single(c: str) -> bool:
    cp = ord(c)
    return (
        33 <= cp <= 47
        or 58 <= cp <= 64
        or 91 <= cp <= 96
        or 123 <= cp <= 126
        or unicodedata.category(c).startswith("P")
        or any(a <= cp <= b for a, b in _CJK)
    )


class WordPieceCounter:
    """``counter.many(texts)``: exact token counts (no special tokens), cached per word."""

    def __init__(self, encode_batch: Callable[[list[str]], Sequence[int]], max_cache: int = 1_000_000) -> None:
        self._encode_batch = encode_batch
        self._cache: dict[str, int] = {}
        self._single: dict[str, bool] = {}
        self._max_cache = max_cache

    def _words(self, text: str) -> list[str]:
        if _DELETED_SPACES.search(text):
            text = _DELETED_SPACES.sub("", text)
        out: list[str] = []
        single = self._single
        for w in text.split():
            if w.isalnum() and w.isascii():
                out.append(w)
                continue
            start = 0
            for i, c in enumerate(w):
                s = single.get(c)
                if s is None:
                    s = single[c] = _is_single(c)
                if s:
                    if start < i:
                        out.append(w[start:i])
                    out.append(c)
                    start = i + 1
            if start < len(w):
                out.append(w[start:])
        return out

    def many(self, texts: list[str]) -> list[int]:
        cache = self._cache
        split = [self._words(t) for t in texts]
        missing = {w for words in split for w in words if w not in cache}
        if missing:
            if len(cache) + len(missing) > self._max_cache:
                cache.clear()
            words = list(missing)
            cache.update(zip(words, self._encode_batch(words), strict=True))
        return [sum(map(cache.__getitem__, words)) for words in split]


def fast_counter(
    tokenizer_kind: str, encode_batch: Callable[[list[str]], Sequence[int]]
) -> Callable[[list[str]], list[int]]:
    """A word-cached counter when the tokenizer is WordPiece and agrees on probe texts; else ``encode_batch``."""

    def exact(texts: list[str]) -> list[int]:
        return list(encode_batch(texts))

    if tokenizer_kind != "WordPiece":
        return exact
    counter = WordPieceCounter(encode_batch)
    if counter.many(list(_PROBE)) != exact(list(_PROBE)):
        return exact
    return counter.many
