"""``Query``: one frozen value carries what to search for, how, at which version, and for whom."""

from __future__ import annotations

import dataclasses

import pytest

from ragtune.search import Query, SearchResult


def test_a_query_is_frozen_and_hashable_without_filters() -> None:
    q = Query("team plan price", k=3, mode="lexical", at=2, principal="ana", groups=("support",))
    with pytest.raises(dataclasses.FrozenInstanceError):
        q.k = 5  # type: ignore[misc]
    assert hash(q) == hash(Query("team plan price", 3, "lexical", 2, None, "ana", ("support",)))


def test_replace_changes_only_what_is_given() -> None:
    q = Query("x", k=3, at=2)
    assert q.replace(k=None, mode=None) is q
    assert q.replace(k=7) == Query("x", k=7, at=2)
    assert q == Query("x", k=3, at=2)


def test_of_turns_keyword_arguments_into_a_query() -> None:
    assert Query.of(at=2, filters={"doc_id": "billing/*"}) == Query(at=2, filters={"doc_id": "billing/*"})
    base = Query("q", k=5, principal="ana")
    assert Query.of(base, k=None, mode="dense") == Query("q", k=5, mode="dense", principal="ana")
    assert Query.of(None) == Query()
    with pytest.raises(TypeError, match="unknown query field"):
        Query.of(base, top_k=3)


def test_a_search_result_carries_its_query_and_version() -> None:
    result = SearchResult(Query("q"), 4, [])
    assert (result.version, result.passages, result.query.text) == (4, [], "q")
