"""Derived index files: saved atomically beside the store, reused by the next process, rebuilt when stale or bad."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from ragtune import KnowledgeBase
from ragtune.kb.document import Document
from ragtune.search.index import ChunkIndex
from ragtune.search.persist import MANIFEST, IndexFiles

QUERIES = ["refund policy for annual plans", "upload size limit", "reset two-factor authentication", "zebra"]


def _docs(n: int, prefix: str = "doc") -> list[Document]:
    topics = ["refund policy annual plans billing", "upload size limit files", "two-factor authentication reset"]
    return [
        Document(id=f"{prefix}{i}", title=f"{prefix} {i}", text=f"{topics[i % 3]} note {i}. " + "filler " * (i % 5))
        for i in range(n)
    ]


def _results(kb: KnowledgeBase) -> list[list[tuple[str, float]]]:
    return [[(p.chunk_id, round(p.score, 5)) for p in kb.search(q, k=5)] for q in QUERIES]


def _fresh(kb: KnowledgeBase) -> KnowledgeBase:
    """The same KB as a new process would open it (same embedder object: loading it again costs seconds)."""
    return KnowledgeBase.open(kb.path, settings=kb.settings, embedder=kb.embedder)


@pytest.fixture
def kb(tmp_path: Path, open_kb: Callable[[Path], KnowledgeBase]) -> KnowledgeBase:
    kb = open_kb(tmp_path / ".ragtune")
    kb.ingest_documents(_docs(30))
    return kb


def _folder(kb: KnowledgeBase) -> Path:
    return kb.path / "index"


def test_ingest_writes_files_and_a_fresh_process_uses_them(kb: KnowledgeBase) -> None:
    manifest = json.loads((_folder(kb) / MANIFEST).read_text())
    assert manifest["chunks"] == kb.store.counts()["chunks"] and manifest["embedder"] == kb.embedder.id
    expected = _results(kb)
    again = _fresh(kb)
    assert _results(again) == expected
    index = again.retriever.index
    assert index.load_note == "" and not index.dense.matrix.flags.writeable  # the read-only mapped file


def test_results_equal_an_index_built_without_files(kb: KnowledgeBase) -> None:
    kb.ingest_documents(_docs(7, prefix="more"))  # a second save: base postings + delta, compacted
    loaded = _results(_fresh(kb))
    kb.settings.search.index_files = False
    plain = KnowledgeBase.open(kb.path, settings=kb.settings, embedder=kb.embedder)
    assert plain.retriever.index.files is None
    assert _results(plain) == loaded


def test_chunks_stored_after_the_files_are_appended(kb: KnowledgeBase) -> None:
    reader = _fresh(kb)
    reader.search("warm up")
    kb.ingest_documents([Document(id="new", title="New", text="The quokka-lantern protocol is new.")])
    assert reader.search("quokka-lantern")[0].doc_id == "new"  # the reader appends what it has not seen
    assert _fresh(kb).search("quokka-lantern")[0].doc_id == "new"  # the ingest saved it for the next process


@pytest.mark.parametrize("damage", ["truncate", "edit", "delete", "manifest", "garbage-manifest"])
def test_damaged_files_are_rebuilt_never_trusted(kb: KnowledgeBase, damage: str) -> None:
    expected = _results(kb)
    folder = _folder(kb)
    manifest = json.loads((folder / MANIFEST).read_text())
    vectors = folder / manifest["files"]["vectors"]["name"]
    positions = folder / manifest["files"]["positions"]["name"]
    if damage == "truncate":
        vectors.write_bytes(vectors.read_bytes()[: vectors.stat().st_size // 2])
    elif damage == "edit":  # same size, one posting changed: only the checksum can tell
        raw = bytearray(positions.read_bytes())
        raw[-3] ^= 0x01
        positions.write_bytes(bytes(raw))
    elif damage == "delete":
        positions.unlink()
    elif damage == "manifest":
        manifest["chunks"] -= 1
        (folder / MANIFEST).write_text(json.dumps(manifest))
    else:
        (folder / MANIFEST).write_text("{not json")
    again = _fresh(kb)
    assert _results(again) == expected
    assert again.retriever.index.load_note  # said why it rebuilt
    # ... and the rebuild wrote good files again.
    assert _fresh(kb).retriever.index.files is not None
    third = _fresh(kb)
    third.search("x")
    assert third.retriever.index.load_note == ""


def test_files_of_another_store_or_embedder_are_not_used(
    kb: KnowledgeBase, tmp_path: Path, open_kb: Callable[[Path], KnowledgeBase]
) -> None:
    other = open_kb(tmp_path / "other" / ".ragtune")
    other.ingest_documents(_docs(30))  # same chunk count, different store
    expected = _results(other)
    for f in (other.path / "index").iterdir():
        f.unlink()
    for f in _folder(kb).iterdir():  # kb's files dropped into other's folder
        (other.path / "index" / f.name).write_bytes(f.read_bytes())
    again = _fresh(other)
    assert _results(again) == expected
    assert "another store" in again.retriever.index.load_note

    manifest = json.loads((_folder(kb) / MANIFEST).read_text())
    manifest["embedder"] = "some-other-model@1:fp32"
    (_folder(kb) / MANIFEST).write_text(json.dumps(manifest))
    fresh = _fresh(kb)
    fresh.search("x")
    assert "embedder" in fresh.retriever.index.load_note


def test_save_is_atomic_and_leaves_no_stray_files(kb: KnowledgeBase) -> None:
    folder = _folder(kb)
    kb.ingest_documents(_docs(3, prefix="again"))
    manifest = json.loads((folder / MANIFEST).read_text())
    named = {f["name"] for f in manifest["files"].values()}
    assert {p.name for p in folder.iterdir()} == named | {MANIFEST, ".lock"}


def test_a_fresh_search_process_loads_neither_torch_nor_the_model(
    kb: KnowledgeBase, subprocess_env: dict[str, str]
) -> None:
    # The ingest above exported and verified the ONNX query graph; the index is on disk: searching needs neither
    # torch nor transformers.
    code = (
        "import sys; from ragtune import KnowledgeBase; "
        f"kb = KnowledgeBase.open({str(kb.path)!r}); hits = kb.search('upload size limit', k=3); "
        "print(hits[0].doc_id, 'torch' in sys.modules, 'transformers' in sys.modules, kb.retriever.index.load_note)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=subprocess_env)
    out = run.stdout.split()
    assert run.returncode == 0 and out[1:] == ["False", "False"], run.stderr
    assert out[0] == kb.search("upload size limit", k=3)[0].doc_id


def test_index_files_unit_round_trip(kb: KnowledgeBase) -> None:
    index = ChunkIndex(kb.store, kb.embedder, files=IndexFiles(_folder(kb)))
    index.sync()
    assert index.load_note == ""
    ref = ChunkIndex(kb.store, kb.embedder)
    ref.sync()
    np.testing.assert_array_equal(index.chunk_ids, ref.chunk_ids)
    np.testing.assert_array_equal(index.dense.matrix, ref.dense.matrix)
    assert index.bm25.vocab.keys() == ref.bm25.vocab.keys()
    for term, tid in ref.bm25.vocab.items():
        a, b = index.bm25.postings(index.bm25.vocab[term]), ref.bm25.postings(tid)
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], b[1])
