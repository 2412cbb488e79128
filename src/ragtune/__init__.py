"""ragtune: RAG, fine-tuning and hybrid assistants over your own documents, measured side by side."""

import importlib
from typing import TYPE_CHECKING

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

__version__ = "0.1.0"

# The public classes are imported on first use (PEP 562), so `import ragtune` (and the CLI, which needs only the
# version and the errors to start) does not load numpy, the loaders or the store until a command asks for them.
_LAZY = {
    "Chunk": "ragtune.kb.document",
    "Document": "ragtune.kb.document",
    "IngestReport": "ragtune.kb.ingest",
    "Diff": "ragtune.kb.store",
    "VersionInfo": "ragtune.kb.store",
    "KnowledgeBase": "ragtune.knowledge_base",
    "Passage": "ragtune.search.passage",
    "Answer": "ragtune.rag",
    "Citation": "ragtune.rag",
}

if TYPE_CHECKING:
    from ragtune.kb.document import Chunk, Document
    from ragtune.kb.ingest import IngestReport
    from ragtune.kb.store import Diff, VersionInfo
    from ragtune.knowledge_base import KnowledgeBase
    from ragtune.rag import Answer, Citation
    from ragtune.search.passage import Passage


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'ragtune' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


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
