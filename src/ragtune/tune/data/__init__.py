"""Training data: chat JSONL (:mod:`.dataset`), checks, token counts, synthesis from the knowledge base (from its
structure, or written by a model), RAFT examples, near-duplicate detection and splits."""
