"""``[serve]``/``[collections]`` settings, opening collections (one shared embedder), and the key file's errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ragtune.config import Settings
from ragtune.embed import Embedder
from ragtune.errors import ConfigError
from ragtune.knowledge_base import KnowledgeBase
from ragtune.serve.collections import Collections
from ragtune.serve.keys import KeyStore
from ragtune.serve.settings import ServeSettings, parse_collection_option


def test_settings_from_toml_with_relative_paths(tmp_path: Path) -> None:
    toml = tmp_path / "proj" / "ragtune.toml"
    toml.parent.mkdir()
    toml.write_text(
        '[serve]\nkeys = "k.json"\nmax_body_mb = 2\nresults = "res"\n\n[collections]\ndocs = "d/.ragtune"\n'
    )
    s = ServeSettings.load(toml)
    assert s.keys == toml.parent / "k.json" and s.max_body_bytes == 2 * 1024 * 1024
    assert s.results == (toml.parent / "res",) and s.collections == {"docs": toml.parent / "d/.ragtune"}


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("[serve]\nmax_body_mb = -1\n", "[serve] max_body_mb: expected a positive number"),
        ("[serve]\nmax_upload_files = 1.5\n", "[serve] max_upload_files: expected a positive integer"),
        ("[serve]\nport = 1\n", "unknown setting [serve] port"),
        ('[collections]\n"a b" = "x"\n', "'a b' is not a collection name"),
        ("[collections]\ndocs = 3\n", "[collections] docs: expected a path"),
    ],
)
def test_bad_settings_name_the_file_and_field(tmp_path: Path, text: str, needle: str) -> None:
    toml = tmp_path / "ragtune.toml"
    toml.write_text(text)
    with pytest.raises(ConfigError) as err:
        ServeSettings.load(toml)
    assert needle in str(err.value) and str(toml) in str(err.value)


def test_collection_option() -> None:
    assert parse_collection_option(["a=x/.ragtune", "b=/y"]) == {"a": Path("x/.ragtune"), "b": Path("/y")}
    for bad in (["a"], ["=x"], ["a@b=x"], ["a=x", "a=y"]):
        with pytest.raises(ConfigError):
            parse_collection_option(bad)


def test_collections_share_one_embedder_and_refuse_missing_folders(tmp_path: Path, embedder: Embedder) -> None:
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.md").write_text(f"# {name}\n\nText about {name}.\n")
        with KnowledgeBase.open(
            tmp_path / name / ".ragtune", create=True, settings=Settings(), embedder=embedder
        ) as kb:
            kb.ingest([tmp_path / name / "x.md"])
    opened = Collections.open({"a": tmp_path / "a" / ".ragtune", "b": tmp_path / "b" / ".ragtune"})
    try:
        a, b = (opened.items[n].require_kb() for n in ("a", "b"))
        assert a.embedder is b.embedder  # equal [embed] settings: loaded once
        assert "rag-extractive" in opened.items["a"].strategies
    finally:
        opened.close()
    with pytest.raises(Exception, match="collection 'c': no knowledge base at"):
        Collections.open({"c": tmp_path / "nope"})


def test_a_broken_key_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_text("{not json")
    with pytest.raises(ConfigError, match=r"keys\.json: not valid JSON"):
        KeyStore(path).list()
    path.write_text(json.dumps({"keys": [{"id": "x", "name": "n", "role": "boss", "hash": "h"}]}))
    with pytest.raises(ConfigError, match=r"keys\[0\]\.role: unknown role 'boss'"):
        KeyStore(path).list()
    with pytest.raises(ConfigError, match="not a key name"):
        KeyStore(tmp_path / "other.json").create("bad name", "reader")
