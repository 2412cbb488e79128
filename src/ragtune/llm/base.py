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
    """Decoding settings common to every generator. Greedy unless ``temperature`` > 0."""

    temperature: float = 0.0
    max_new_tokens: int = 256
    stop: list[str] = field(default_factory=list)
    top_p: float = 1.0
    seed: int | None = None


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
    answers from these passages directly.
    """

    question: str
    passages: Sequence[str]
    scores: Sequence[float] | None = None


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


def apply_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Cut ``text`` at the first stop sequence; return the text and whether a stop was found."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)
