"""Embedders: text → normalized float32 vectors. Chosen by name from config."""

from ragtune.embed.base import Embedder, resolve_model_path
from ragtune.embed.sentence import SentenceTransformerEmbedder, load_embedder

__all__ = ["Embedder", "SentenceTransformerEmbedder", "load_embedder", "resolve_model_path"]
