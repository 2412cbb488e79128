"""Retrieval: lexical (BM25), dense (exact), their fusion, at any KB version."""

from ragtune.search.passage import Passage
from ragtune.search.retriever import MODES, Retriever

__all__ = ["MODES", "Passage", "Retriever"]
