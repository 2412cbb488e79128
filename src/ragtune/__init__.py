"""ragtune: RAG, fine-tuning and hybrid assistants over your own documents, measured side by side."""

from ragtune.errors import (
    ConfigError,
    EmbedderError,
    LoaderError,
    ModelError,
    NotFoundError,
    RagtuneError,
    SchemaError,
    SearchError,
    StoreError,
)
from ragtune.kb.document import Chunk, Document
from ragtune.kb.ingest import IngestReport
from ragtune.kb.store import Diff, VersionInfo
from ragtune.knowledge_base import KnowledgeBase
from ragtune.search.passage import Passage

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # Answer and Citation live with the pipeline, which is imported on first use.
    if name in ("Answer", "Citation"):
        from ragtune import rag

        return getattr(rag, name)
    raise AttributeError(f"module 'ragtune' has no attribute {name!r}")


__all__ = [
    "Answer",
    "Chunk",
    "Citation",
    "ConfigError",
    "Diff",
    "Document",
    "EmbedderError",
    "IngestReport",
    "KnowledgeBase",
    "LoaderError",
    "ModelError",
    "NotFoundError",
    "Passage",
    "RagtuneError",
    "SchemaError",
    "SearchError",
    "StoreError",
    "VersionInfo",
    "__version__",
]
