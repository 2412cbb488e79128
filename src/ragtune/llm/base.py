"""The Generator protocol: messages → text, with exact token counts and timing.

Implementations are chosen by a spec string (see :func:`ragtune.llm.registry.load_generator`):
``extractive`` (no model), ``hf:PATH_OR_HUB_ID`` (transformers + optional PEFT adapter),
``openai:MODEL`` (any OpenAI-compatible endpoint).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

Message = dict[str, str]  # {"role": "system" | "user" | "assistant", "content": "..."}


@dataclass
class GenerationOptions:
    """Decoding settings common to every generator. Greedy unless ``temperature`` > 0.

    ``repetition_penalty`` (> 1 discourages repeats) and ``no_repeat_ngram_size`` (> 0 forbids repeating any
    n-gram) count only the tokens of the answer being generated, never the prompt's: a RAG answer must be free to
    copy its sources, and a penalty over the prompt stops it from quoting them (measured in docs/benchmarks.md).
    """

    temperature: float = 0.0
    max_new_tokens: int = 256
    stop: list[str] = field(default_factory=list)
    top_p: float = 1.0
    seed: int | None = None
    repetition_penalty: float = 1.0
    no_repeat_ngram_size: int = 0


@dataclass
class Generation:
    """One completed generation. Token counts are exact for the model that produced them."""

    text: str
    tokens_in: int
    tokens_out: int
    seconds: float
    finish_reason: str = "stop"  # "stop" | "length"
    model: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class RetrievedContext:
    """Structured RAG context, passed alongside the prompt messages (``context=`` option).

    LLM generators read the prompt; the extractive generator, which has no model to read it with,
    answers from these passages directly. ``sentence_vectors``: per passage, the texts and vectors of its candidate
    answer sentences as ingest stored them (None for a passage without them), given to a generator that declares
    ``uses_sentence_vectors``.
    """

    question: str
    passages: Sequence[str]
    scores: Sequence[float] | None = None
    sentence_vectors: Sequence[tuple[Sequence[str], Any] | None] | None = None


@runtime_checkable
class Generator(Protocol):
    """Turns chat messages into text. ``stream`` yields text pieces and then one final Generation."""

    name: str
    context_window: int

    def generate(self, messages: list[Message], options: GenerationOptions | None = None, **kw: Any) -> Generation: ...

    def stream(
        self, messages: list[Message], options: GenerationOptions | None = None, **kw: Any
    ) -> Iterator[str | Generation]: ...

    def count_tokens(self, text: str) -> int: ...


def generate_many(
    generator: Generator, prompts: Sequence[list[Message]], options: GenerationOptions | None = None, **kw: Any
) -> list[Generation]:
    """One Generation per prompt, in order: batched when the generator can batch (``generate_batch``), else one
    at a time. ``kw`` are per-call options for every prompt (``contexts=`` gives one ``context=`` per prompt)."""
    batch = getattr(generator, "generate_batch", None)
    contexts = kw.pop("contexts", None)
    if batch is not None and len(prompts) > 1:
        out: list[Generation] = batch(list(prompts), options, **kw)
        return out
    return [
        generator.generate(p, options, **kw, **({"context": contexts[i]} if contexts is not None else {}))
        for i, p in enumerate(prompts)
    ]


def apply_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` at the first stop sequence; return the text and whether a stop was found."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)
