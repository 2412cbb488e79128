"""LLM-written chunk context (``[chunking] context_model``): a sentence per chunk saying where it sits in its
document, indexed with the chunk (Anthropic's "contextual retrieval", 2024).

The model sees the document's opening (``DOC_CHARS`` characters: where the title, the company and the period
are stated) and the chunk, and writes one short sentence; greedy decoding, so re-ingesting the same document
writes the same context. It is appended to the chunk's header (:mod:`ragtune.kb.doc_context`), so a change of
model re-indexes (the model name is in the chunker signature). Costly — one generation per new chunk — and
measured against the header alone in docs/benchmarks.md before anyone turns it on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ragtune.kb.document import Document
from ragtune.llm.base import GenerationOptions, generate_many

_TAG = re.compile(r"</?(?:document|passage)>", re.IGNORECASE)
DOC_CHARS = 1200
CHUNK_CHARS = 900
MAX_NEW_TOKENS = 40

PROMPT = (
    "<document>\n{doc}\n</document>\n"
    "Here is a passage from this document:\n<passage>\n{chunk}\n</passage>\n"
    "In one short sentence, say which document this passage comes from (organisation, report, period) and what "
    "it is about, to help search find it. Answer with the sentence only."
)


@dataclass
class LLMContextualizer:
    """``Contextualizer`` (:class:`ragtune.kb.ingest.Contextualizer`) backed by a generator spec (``smollm2``,
    ``hf:DIR``, ``openai:MODEL``); the model loads on the first document that needs it."""

    name: str
    max_new_tokens: int = MAX_NEW_TOKENS
    _generator: Any = field(default=None, repr=False)

    def _model(self) -> Any:
        if self._generator is None:
            from ragtune.llm.registry import load_generator

            self._generator = load_generator(self.name)
        return self._generator

    def contexts(self, doc: Document, chunk_texts: list[str]) -> list[str]:
        opening = f"{doc.title}\n{doc.text[:DOC_CHARS]}" if doc.title else doc.text[:DOC_CHARS]
        prompts = [
            [{"role": "user", "content": PROMPT.format(doc=opening, chunk=text[:CHUNK_CHARS])}] for text in chunk_texts
        ]
        options = GenerationOptions(max_new_tokens=self.max_new_tokens, stop=["\n\n"], no_repeat_ngram_size=4)
        return [clean_context(g.text) for g in generate_many(self._model(), prompts, options)]


def clean_context(text: str) -> str:
    """The generated sentence on one line, without the prompt's tags a small model echoes (``<passage>``), a
    lead-in such as "Context:" or surrounding quotes."""
    line = " ".join(_TAG.sub(" ", text).split())
    for lead in ("Context:", "Answer:", "Sentence:"):
        if line.lower().startswith(lead.lower()):
            line = line[len(lead) :].strip()
    return line.strip('"“” ')
