"""Per-model answering defaults: the RAG settings that measured best for a model, used unless the user sets them.

A strategy built on one of these models (directly, or through a fine-tuned ``ft:NAME`` whose base it is) starts
from its entry; ``[llm]`` and ``[strategies.NAME]`` keys in ragtune.toml, and ``[prompts]``, override it.
Each entry records the measurement that chose it (``ragtune sweep --rag``; table in docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Any

from ragtune.llm.bundled import bundled_name

# smollm2 (SmolLM2-135M-Instruct): chosen by `ragtune sweep --rag` on the dev third (34 questions) of the help-center
# eval set, 32 trials in three rounds (docs/benchmarks.md, "RAG settings for the bundled model"). Mean semantic
# quality: fenced layout 0.34-0.43 at every k; compact with Markdown tables 0.44-0.53; compact with table rows
# written as sentences 0.47-0.54. A short source budget wins: 192 tokens of sources 0.53, 128 0.51, 256 0.50,
# 320 0.47-0.50, 1024 0.44-0.45 (the model loses the thread in long contexts); k only matters up to the budget.
# Decoding: no_repeat_ngram_size 0 or 4 and 48 or 96 new tokens within 0.01 (no loops at this budget); 4 is kept
# as a guard. transformers' own repetition controls count the prompt and forbid quoting the sources: with
# repetition_penalty=1.2 token F1 fell from 0.34 to 0.06 in a scratch run, hence ragtune's answer-only processor.
# Round D: showing only the retrieved passages' best sentences (context = "sentences", 128 tokens of them) was the
# best trial, 0.551 against 0.533 for whole passages at 192 tokens: within noise on 34 questions, chosen by the
# same rule as every other setting here (the best trial); RAFT data for this model is built the same way.
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "smollm2": {
        "k": 3,
        "context": "sentences",
        "template": "compact",
        "source_tokens": 128,
        "max_new_tokens": 96,
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
