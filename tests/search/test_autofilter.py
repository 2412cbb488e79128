"""Filters read from the question: only what it names unambiguously, and only combinations some document has."""

from __future__ import annotations

import pytest

from ragtune.search.autofilter import infer_filters

REVISIONS = [
    {"company": "Northwind Turbines, Inc.", "year": "2023", "doc_type": "annual report"},
    {"company": "Northwind Turbines Inc", "year": "2022", "doc_type": "annual report"},
    {"company": "Northwind Foods Ltd", "year": "2023", "doc_type": "10-K"},
    {"company": "Acme Robotics Corp.", "year": "2023", "doc_type": "annual report"},
    {"title": "A help page without fields"},
]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        # Two spellings of one name map to both; a possessive and a fiscal-year form are understood.
        (
            "What were Northwind Turbines' capital expenditures in FY2022?",
            {"company": ["Northwind Turbines Inc", "Northwind Turbines, Inc."], "year": "2022"},
        ),
        ("How much did Acme spend on research in 2023?", {"company": "Acme Robotics Corp.", "year": "2023"}),
        ("acme robotics fy23 revenue", {"company": "Acme Robotics Corp.", "year": "2023"}),
        # "Northwind" alone could be either company; two companies or two years set nothing.
        ("What did Northwind earn?", {}),
        ("Compare Acme Robotics and Northwind Foods", {}),
        ("Acme revenue 2022 versus 2023", {"company": "Acme Robotics Corp."}),
        # A year no document has, and a company/year pair no document has: the impossible field is dropped.
        ("Acme Robotics revenue in 2019", {"company": "Acme Robotics Corp."}),
        ("Acme Robotics revenue in 2022", {"company": "Acme Robotics Corp."}),
        # Document types by the words that name them; whole words only ("acmex" is not Acme).
        ("Northwind Foods 10-K risk factors", {"company": "Northwind Foods Ltd", "doc_type": "10-K"}),
        ("acmex annual report", {"doc_type": "annual report"}),
        ("How do I reset my password?", {}),
    ],
)
def test_infer_filters(question: str, expected: dict[str, object]) -> None:
    found = infer_filters(question, REVISIONS)
    if isinstance(found.get("company"), list):
        found["company"] = sorted(found["company"])
    assert found == expected


def test_no_fields_no_filters() -> None:
    assert infer_filters("Acme Robotics 2023 annual report", [{"title": "x"}, {}]) == {}
