"""Per-model answering defaults: the RAG settings that measured best for a model, used unless the user sets them.

A strategy built on one of these models (directly, or through a fine-tuned ``ft:NAME`` whose base it is) starts
from its entry; ``[llm]`` and ``[strategies.NAME]`` keys in ragtune.toml, and ``[prompts]``, override it.
Each entry records the measurement that chose it (``ragtune sweep --rag``; table in docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Any

from ragtune.llm.bundled import bundled_name

# smollm2 (SmolLM2-135M-Instruct): chosen by `ragtune sweep --rag` on a dev third of the help-center eval set
# (docs/benchmarks.md, "RAG settings for the bundled model"). A 135M model reads one short passage well and
# loses the thread with more: semantic similarity fell from k=1 to k=3 with every layout; the compact layout
# beat the fenced one; repetition control matters only when it ignores the prompt (transformers' own
# no_repeat_ngram_size / repetition_penalty forbid copying the sources and cost ~0.2 of quality).
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "smollm2": {
        "k": 1,
        "template": "compact",
        "source_tokens": 320,
        "max_new_tokens": 64,
        "no_repeat_ngram_size": 4,
        "repetition_penalty": 1.0,
    },
}


def defaults_for(spec: str | None) -> dict[str, Any]:
    """The answering defaults of model ``spec`` (a copy; empty when the model has none)."""
    if not spec:
        return {}
    name = bundled_name(spec)
    return dict(MODEL_DEFAULTS.get(name or spec, {}))
