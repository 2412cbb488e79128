"""Embedders: text → normalized float32 vectors. Chosen by backend name from config (:mod:`.registry`)."""

from ragtune.embed.base import Embedder, resolve_model_path
from ragtune.embed.registry import load_embedder, register_embedder, unregister_embedder
from ragtune.embed.sentence import SentenceTransformerEmbedder

__all__ = [
    "Embedder",
    "SentenceTransformerEmbedder",
    "load_embedder",
    "register_embedder",
    "resolve_model_path",
    "unregister_embedder",
]
