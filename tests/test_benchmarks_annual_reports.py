"""The annual-report benchmark's corpus (benchmarks/annual_reports.py): every question's figure stands on its gold
pages, a scanned page has no text layer, the same seed makes the same corpus; and the benchmark's scoring helpers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def modules() -> Iterator[tuple[Any, Any]]:
    sys.path[:0] = [str(BENCH), str(BENCH / "peers")]
    try:
        import annual_reports
        import annual_reports_bench

        yield annual_reports, annual_reports_bench
    finally:
        del sys.path[:2]


@pytest.fixture(scope="module")
def corpus(modules: tuple[Any, Any], tmp_path_factory: pytest.TempPathFactory) -> Any:
    # One company with reports for two years; at least one report has scanned pages.
    return modules[0].generate(tmp_path_factory.mktemp("reports"), seed=13, n_companies=1)


def page_text(path: Path, page: int) -> str:
    from pypdf import PdfReader

    return PdfReader(path).pages[page - 1].extract_text() or ""


def test_each_question_figure_stands_on_its_gold_pages(modules: tuple[Any, Any], corpus: Any) -> None:
    bench = modules[1]
    assert len(corpus.reports) == 2 and {r.year for r in corpus.reports} == {2022, 2023}
    assert len(corpus.questions) == 4 * len(corpus.reports)  # one per table page
    checked = 0
    for q in corpus.questions:
        assert (q.doc, q.page) in q.gold
        report = next(r for r in corpus.reports if r.file == q.doc)
        assert q.page in report.table_pages.values() and q.year == report.year
        for doc, page in q.gold:
            scanned = page in next(r for r in corpus.reports if r.file == doc).scanned
            if not scanned:  # a text layer to read: the figure is on that page, and not on the cover
                assert bench.has_figure(page_text(corpus.pdf_dir / doc, page), q.answer), (q, doc, page)
                assert not bench.has_figure(page_text(corpus.pdf_dir / doc, 1), q.answer)
                checked += 1
    assert checked >= len(corpus.questions) // 2


def test_a_scanned_page_has_no_text_layer(corpus: Any) -> None:
    scanned = [(r, p) for r in corpus.reports for p in r.scanned]
    assert scanned, "the generator scans at least one report"
    questions = {(q.doc, q.page): q for q in corpus.questions}
    for report, page in scanned:
        assert len(page_text(corpus.pdf_dir / report.file, page).split()) == 0
        assert questions[(report.file, page)].scanned
        assert len(page_text(corpus.pdf_dir / report.file, page - 1).split()) > 20  # its neighbour has text


def test_the_same_seed_makes_the_same_corpus(modules: tuple[Any, Any], corpus: Any, tmp_path: Path) -> None:
    again = modules[0].generate(tmp_path / "again", seed=13, n_companies=1)
    assert [q.question for q in again.questions] == [q.question for q in corpus.questions]
    for report in corpus.reports:
        assert (again.pdf_dir / report.file).read_bytes() == (corpus.pdf_dir / report.file).read_bytes()
    other = modules[0].generate(tmp_path / "other", seed=14, n_companies=1)
    assert [q.answer for q in other.questions] != [q.answer for q in corpus.questions]


def test_figures_match_whole_numbers_whatever_their_separators(modules: tuple[Any, Any]) -> None:
    has_figure = modules[1].has_figure
    assert has_figure("| Capital expenditures | (41,273) | (39,870) |", "41,273")
    assert has_figure("Capital expenditures 41.273 39.870", "41,273")  # OCR read the comma as a point
    assert has_figure("Capital expenditures: 41 273", "41,273")
    assert not has_figure("| Revenue | 141,273 |", "41,273")
    assert not has_figure("| Revenue | 41,2735 |", "41,273")
    assert has_figure("Total assets 3,178,044", "3,178,044")
    assert has_figure("Revenue 2022\n940,426\n978,274", "940,426")  # a column typeset by columns
    assert has_figure("Revenue 2,337,831 1,744,949", "1,744,949") and has_figure("2,337,831 1,744,949", "2,337,831")
    assert not has_figure("1,940,426 1,744,949", "940,426")
    assert not has_figure("Total 41,273,500", "41,273")


def test_a_passage_reaches_the_pages_its_span_overlaps(modules: tuple[Any, Any]) -> None:
    reaches = modules[1].reaches
    starts = [0, 100, 250]  # three pages
    foot_of_page_1 = SimpleNamespace(start=80, end=140)
    assert reaches(foot_of_page_1, 1, starts) and reaches(foot_of_page_1, 2, starts)
    assert not reaches(foot_of_page_1, 3, starts)
    assert reaches(SimpleNamespace(start=260, end=300), 3, starts)


def test_filters_admit_a_document_by_value_or_list(modules: tuple[Any, Any]) -> None:
    admits = modules[1].admits
    fields = {"company": "Northwind Turbines, Inc.", "year": "2023"}
    assert admits({}, fields)
    assert admits({"company": ["NORTHWIND TURBINES, INC.", "Northwind Turbines, Inc."], "year": "2023"}, fields)
    assert not admits({"year": "2022"}, fields)
    assert not admits({"doc_type": "10-K"}, fields)


def test_a_figure_counts_as_labelled_only_in_its_row(modules: tuple[Any, Any]) -> None:
    beside_label = modules[1].beside_label
    assert beside_label("| Capital expenditures | (41,273) | (39,870) |", "Capital expenditures", "39,870")
    assert beside_label("Net cash provided by operating\nactivities 81,829 81,940", "Net cash provided by operating "
                        "activities", "81,940")  # fmt: skip
    columns = "Capital expenditures\nDividends paid\nFiscal 2023\n(41,273)\n(17,783)"  # pypdf, typeset by columns
    assert not beside_label(columns, "Capital expenditures", "41,273")
    answer = "Segment Information [1]. Onshore Wind: 517,974, 509,338 [2]. Offshore Wind: 41,273 [2]."
    assert beside_label(answer, "Offshore Wind", "41,273")
    assert not beside_label(answer, "Onshore Wind", "41,273")
    assert not beside_label("Capital expenditures (32,150) Dividends paid (41,273)", "Capital expenditures", "41,273")
