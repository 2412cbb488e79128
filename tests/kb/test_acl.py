"""Per-document access control: acl values, where documents get them, and every read of the knowledge base."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from ragtune.errors import ConfigError, LoaderError, NotFoundError
from ragtune.kb.acl import ALL, EVERYONE, Access, acl_of, normalize_acl
from ragtune.kb.document import Document
from ragtune.kb.loaders import LoadOptions, load_file
from ragtune.knowledge_base import KnowledgeBase, join_passages
from ragtune.search import Query

ENG = Access("ana", ("eng",))
SALES = Access("bo", ("sales",))
NOBODY = Access("guest")


# -- values -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "groups"),
    [
        (None, ()),
        ("", ()),
        ("*", ()),
        ("eng", ("eng",)),
        (" sales , eng,eng ", ("eng", "sales")),
        (["hr", "eng", "hr"], ("eng", "hr")),
        (("eng", "*"), ()),
        (["team-a@corp.example", "org:support/tier_2"], ("org:support/tier_2", "team-a@corp.example")),
    ],
)
def test_normalize_acl(value: object, groups: tuple[str, ...]) -> None:
    assert normalize_acl(value, where="x") == groups


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (3, "not int"),
        ({"eng": True}, "not dict"),
        (["eng", 3], "must be strings"),
        ("eng,,sales", "bad acl group name ''"),
        ("two words", "bad acl group name 'two words'"),
        (["-rf"], "bad acl group name '-rf'"),
    ],
)
def test_bad_acl_values_name_where(value: object, reason: str) -> None:
    with pytest.raises(ValueError, match=r"^front matter: ") as err:
        normalize_acl(value, where="front matter")
    assert reason in str(err.value)


def test_access() -> None:
    assert ALL.unrestricted and ALL.can_read(("hr",))
    assert Access("root", (EVERYONE,)).unrestricted  # administrators
    assert not ENG.unrestricted and ENG.can_read(()) and ENG.can_read(("eng", "hr")) and not ENG.can_read(("hr",))
    assert not NOBODY.can_read(("eng",)) and NOBODY.can_read(())
    assert Access("x", "b,a").groups == ("a", "b") and Access("x", ("b", "a", "b")).groups == ("a", "b")
    assert ENG.key == ("eng",) and ALL.key is None
    assert acl_of({"acl": ["eng"]}) == ("eng",) and acl_of({}) == () and acl_of({"acl": "*"}) == ()
    assert Query("q", principal="ana", groups=("eng",)).access == ENG
    assert Query("q").access.unrestricted


# -- where acls come from ---------------------------------------------------------------------------


def test_front_matter_json_records_and_the_option(tmp_path: Path) -> None:
    md = tmp_path / "plan.md"
    md.write_text("---\ntitle: Plan\nacl: [sales, eng, sales]\n---\n# Plan\n\nThe Team plan costs 49 dollars.\n")
    assert load_file(md)[0].metadata["acl"] == ["eng", "sales"]
    txt = tmp_path / "notes.txt"
    txt.write_text("---\nacl: hr\n---\nSalaries are reviewed in March.\n")
    doc = load_file(txt)[0]
    assert doc.metadata["acl"] == ["hr"] and doc.text == "Salaries are reviewed in March.\n"
    plain = tmp_path / "rule.txt"
    plain.write_text("---\nA line of dashes is text here.\n")
    assert "acl" not in load_file(plain)[0].metadata and load_file(plain)[0].text.startswith("---")
    public = tmp_path / "public.md"
    public.write_text("---\nacl: '*'\n---\nEveryone may read this.\n")
    assert "acl" not in load_file(public)[0].metadata

    records = tmp_path / "faq.jsonl"
    rows = [{"id": "a", "text": "Alpha.", "acl": ["eng"]}, {"id": "b", "text": "Beta.", "acl": "eng, hr"},
            {"id": "c", "text": "Gamma."}]  # fmt: skip
    records.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert [d.metadata.get("acl") for d in load_file(records)] == [["eng"], ["eng", "hr"], None]

    # --acl replaces what files declare, '*' included (everyone)
    assert load_file(md, LoadOptions(acl="ops"))[0].metadata["acl"] == ["ops"]
    assert [d.metadata.get("acl") for d in load_file(records, LoadOptions(acl=("ops",)))] == [["ops"]] * 3
    assert "acl" not in load_file(md, LoadOptions(acl="*"))[0].metadata
    with pytest.raises(ConfigError, match="acl option: bad acl group name"):
        LoadOptions(acl="no way")


def test_a_bad_acl_is_an_error_naming_the_file_and_field(tmp_path: Path) -> None:
    md = tmp_path / "bad.md"
    md.write_text("---\nacl: {eng: true}\n---\nText.\n")
    with pytest.raises(LoaderError, match=r"bad\.md: field 'acl': acl must be a string"):
        load_file(md)
    records = tmp_path / "bad.jsonl"
    records.write_text('{"id": "a", "text": "A."}\n{"id": "b", "text": "B.", "acl": [1]}\n')
    with pytest.raises(LoaderError, match=r"bad\.jsonl: line 2: field 'acl': acl group names must be strings"):
        load_file(records)


def test_acl_is_part_of_the_content_hash_only_when_set(
    open_kb: Callable[[Path], KnowledgeBase], tmp_path: Path
) -> None:
    kb = open_kb(tmp_path / "kb")
    ingestor = kb._ingestor(False)
    plain = Document("d", "T", "Text.")
    assert ingestor.content_hash(plain) == ingestor.content_hash(Document("d", "T", "Text.", metadata={"x": 1}))
    assert ingestor.content_hash(plain) != ingestor.content_hash(Document("d", "T", "Text.", metadata={"acl": ["e"]}))

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "plan.md").write_text("# Plan\n\nThe Team plan costs 49 dollars per month.\n")
    (docs / "sso.md").write_text("# SSO\n\nSingle sign-on supports SAML.\n")
    first = kb.ingest(docs)
    assert first.version is not None and kb.status()["chunks"] == 2
    assert kb.ingest(docs).version is None  # no acl anywhere: the hashes of before access control existed
    again = kb.ingest(docs, acl="sales")  # only the acl changes: new revisions, no new chunk, nothing embedded
    assert sorted(again.updated) == ["plan.md", "sso.md"] and again.chunks_embedded == 0
    assert again.version is not None and kb.status()["chunks"] == 2
    assert kb.document("plan.md")[0].metadata["acl"] == ["sales"]
    assert kb.ingest(docs, acl="sales").version is None
    back = kb.ingest(docs)  # the files declare no acl: back to everyone, the old revisions restored
    assert sorted(back.updated) == ["plan.md", "sso.md"] and "acl" not in kb.document("plan.md")[0].metadata
    assert kb.status()["revisions"] == 4


def test_documents_built_in_code_are_checked(open_kb: Callable[[Path], KnowledgeBase], tmp_path: Path) -> None:
    kb = open_kb(tmp_path / "kb")
    report = kb.ingest_documents(
        [Document("ok", "Ok", "Fine text.", metadata={"acl": "eng,hr"}), Document("bad", "B", "x", metadata={"acl": 5})]
    )
    assert report.added == ["ok"] and kb.document("ok")[0].metadata["acl"] == ["eng", "hr"]
    assert "document 'bad': field 'acl'" in report.errors[0].reason


# -- reading ----------------------------------------------------------------------------------------


@pytest.fixture
def kb(open_kb: Callable[[Path], KnowledgeBase], tmp_path: Path) -> KnowledgeBase:
    """v1: plans (everyone), salaries (hr), roadmap (eng); v2: roadmap edited, salaries readable by eng too;
    v3: plans removed; v4: a new secret (legal)."""
    kb = open_kb(tmp_path / "kb")
    kb.ingest_documents(
        [
            Document("plans", "Plans", "# Plans\n\nThe Team plan costs 49 dollars per month.\n"),
            Document("salaries", "Salaries", "# Salaries\n\nSalaries are reviewed in March.\n", metadata={"acl": "hr"}),
            Document("roadmap", "Roadmap", "# Roadmap\n\nQ3: offline mode.\n", metadata={"acl": ["eng"]}),
        ]
    )
    kb.ingest_documents(
        [
            Document("plans", "Plans", "# Plans\n\nThe Team plan costs 49 dollars per month.\n"),
            Document(
                "salaries", "Salaries", "# Salaries\n\nSalaries are reviewed in March.\n", metadata={"acl": "hr,eng"}
            ),
            Document(
                "roadmap", "Roadmap", "# Roadmap\n\nQ3: offline mode.\n\nQ4: a web UI.\n", metadata={"acl": "eng"}
            ),
        ]
    )
    kb.remove("plans", message="remove plans")
    kb.ingest_documents([Document("merger", "Merger", "The merger closes in May.", metadata={"acl": "legal"})])
    return kb


def test_documents_and_document(kb: KnowledgeBase) -> None:
    assert set(kb.documents()) == {"salaries", "roadmap", "merger"}
    assert set(kb.documents(access=ENG)) == {"salaries", "roadmap"}
    assert set(kb.documents(1, access=ENG)) == {"plans", "roadmap"}
    assert set(kb.documents(access=Access("hr-bot", ("hr",)))) == {"salaries"}
    assert set(kb.documents(access=NOBODY)) == set()
    assert set(kb.documents(access=Access("root", ("*",)))) == {"salaries", "roadmap", "merger"}
    assert kb.document("salaries", access=ENG)[0].doc_id == "salaries"
    with pytest.raises(NotFoundError) as unreadable:
        kb.document("salaries", 1, access=ENG)
    with pytest.raises(NotFoundError) as missing:
        kb.document("nothing", 1, access=ENG)
    assert str(unreadable.value) == str(missing.value).replace("nothing", "salaries")  # the same message


def test_diff_history_and_versions(kb: KnowledgeBase) -> None:
    d = kb.diff(1, 4, access=ENG)
    assert (d.added, d.removed, d.changed) == (["salaries"], ["plans"], ["roadmap"])  # salaries became readable
    full = kb.diff(1, 4)
    assert (full.added, full.removed, full.changed) == (["merger"], ["plans"], ["roadmap", "salaries"])
    d = kb.diff(1, 2, access=Access("hr-bot", ("hr",)))
    assert (d.added, d.removed, d.changed) == ([], [], ["salaries"])
    assert kb.diff(3, 4, access=SALES).as_dict() == {"a": 3, "b": 4, "added": [], "removed": [], "changed": []}

    assert [(a, b) for a, b, _ in kb.history("salaries", access=ENG)] == [(2, None)]
    assert len(kb.history("salaries")) == 2
    assert kb.history("merger", access=ENG) == [] == kb.history("never-stored", access=ENG)

    mine = {v.version: v for v in kb.versions(access=ENG)}
    assert [(v.added, v.updated, v.removed) for v in mine.values()] == [(2, 0, 0), (1, 1, 0), (0, 0, 1), (0, 0, 0)]
    assert mine[3].message == "remove plans"  # everything it touched is readable
    assert mine[4].message == ""  # it touched a document this caller may not read: its message may name it
    assert [v.message for v in kb.versions()] == [v.message for v in kb.versions(access=ALL)]
    assert kb.versions()[3].message != ""


def test_text_diff(kb: KnowledgeBase) -> None:
    diff = kb.text_diff("roadmap", 1, 2, access=ENG)
    assert diff.startswith("--- roadmap@v1\n+++ roadmap@v2\n") and "+Q4: a web UI.\n" in diff
    assert kb.text_diff("roadmap", 2, 4) == ""
    assert "+Salaries are reviewed in March." in kb.text_diff("salaries", 1, 2, access=ENG)  # readable from v2
    with pytest.raises(NotFoundError):
        kb.text_diff("salaries", 1, 2, access=SALES)
    with pytest.raises(NotFoundError):
        kb.text_diff("merger", 1, 4, access=ENG)
    assert "-The Team plan costs 49 dollars per month." in kb.text_diff("plans", 2, 3)
    assert kb.text("roadmap") == "# Roadmap\n\nQ3: offline mode.\n\nQ4: a web UI."


def test_join_passages_keeps_overlaps_once() -> None:
    text = "One two. Three four. Five six."
    parts = [{"text": text[0:20], "start": 0, "end": 20}, {"text": text[9:30], "start": 9, "end": 30}]
    assert join_passages(parts) == text
    assert join_passages([{"text": "A.", "start": 0, "end": 2}, {"text": "B.", "start": 4, "end": 6}]) == "A.\nB."


def test_search_and_ask_read_only_what_the_caller_may(kb: KnowledgeBase) -> None:
    assert {p.doc_id for p in kb.search("salaries reviewed merger roadmap", k=10)} == {"salaries", "merger", "roadmap"}
    assert {p.doc_id for p in kb.search("salaries reviewed merger roadmap", k=10, access=ENG)} == {
        "salaries",
        "roadmap",
    }
    assert kb.search("merger closes in May", k=5, access=SALES) == []
    assert all(p.doc_id != "merger" for p in kb.search("merger closes", k=5, access=ENG))
    answer = kb.ask("When does the merger close?", access=ENG)
    assert "May" not in answer.text and all(c.doc_id != "merger" for c in answer.citations)
    assert "May" in kb.ask("When does the merger close?").text
    old = kb.retrieve(Query("team plan dollars", k=3, at=1, principal="bo", groups=("sales",)))
    assert [p.doc_id for p in old.passages] == ["plans"]


def test_remove_refuses_what_the_caller_may_not_read(kb: KnowledgeBase) -> None:
    with pytest.raises(NotFoundError, match="not in the knowledge base: merger"):
        kb.remove("merger", access=ENG)
    assert "merger" in kb.documents()
    assert kb.remove("roadmap", access=ENG) is not None and "roadmap" not in kb.documents()
