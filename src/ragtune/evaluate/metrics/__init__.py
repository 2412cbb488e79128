"""Metrics of one answer or one ranking: correctness and declines (:mod:`.answer`), retrieval (:mod:`.retrieval`),
groundedness, style, the LLM judge, and bootstrap intervals over them (:mod:`.bootstrap`)."""
