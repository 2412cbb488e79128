"""Answering: the pipeline (retrieve → prompt → generate → cite → trace) and the strategies that use it.

``Answer``, ``Citation`` and ``RagPipeline`` are re-exported here (``from ragtune.rag import Answer``);
strategies live in :mod:`ragtune.rag.strategies`.
"""

from ragtune.rag.pipeline import Answer, Citation, RagPipeline, cite, split_messages

__all__ = ["Answer", "Citation", "RagPipeline", "cite", "split_messages"]
