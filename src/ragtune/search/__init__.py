"""Retrieval: a Query → a SearchResult; keyword and vector legs, fusion and rerank by name, at any KB version."""

from ragtune.search.passage import Passage
from ragtune.search.query import Query, SearchResult
from ragtune.search.retriever import MODES, Retriever

__all__ = ["MODES", "Passage", "Query", "Retriever", "SearchResult"]
