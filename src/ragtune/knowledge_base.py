"""``KnowledgeBase``: the public face of one versioned knowledge base (store + index + answers)."""

from __future__ import annotations

import dataclasses
import difflib
import re
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragtune.config import KB_DIRNAME, Settings, find_kb, load_settings
from ragtune.embed import Embedder, load_embedder
from ragtune.errors import ConfigError, EmbedderError, LoaderError, NotFoundError
from ragtune.kb.acl import ALL, Access, HeadAcls
from ragtune.kb.document import Document
from ragtune.kb.ingest import Ingestor, IngestReport
from ragtune.kb.loaders import LoadOptions, load_all
from ragtune.kb.store import Diff, RevisionInfo, Store, VersionInfo, open_store
from ragtune.search.passage import Passage
from ragtune.search.query import Query, SearchResult
from ragtune.search.retriever import Retriever

if TYPE_CHECKING:
    from ragtune.rag import Answer
    from ragtune.rag.strategies import Strategy


INDEX_DIRNAME = "index"  # derived index files, beside the store (ragtune.search.persist)
EMBEDDERS_DIRNAME = "embedders"  # fine-tuned embedders by name: <kb>/embedders/NAME/ (ragtune tune-retriever)


@dataclass(frozen=True)
class ReembedReport:
    """What :meth:`KnowledgeBase.reembed` did: the version it wrote (None: the head already used that embedder),
    the embedder (spec as recorded, and id), how many chunk vectors it computed (the rest were cached)."""

    version: VersionInfo | None
    embedder: str
    embedder_id: str
    chunks: int
    chunks_embedded: int
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["version"] = None if self.version is None else self.version.as_dict()
        return out


class KnowledgeBase:
    """A knowledge base on disk: ingest files, search and ask at any version, inspect and roll back history.

    >>> kb = KnowledgeBase.open(".ragtune", create=True)      # doctest: +SKIP
    >>> kb.ingest(["docs/"])                                 # doctest: +SKIP
    >>> kb.ask("How much is the Team plan?").text            # doctest: +SKIP
    """

    def __init__(self, store: Store, settings: Settings, embedder: Embedder | None = None) -> None:
        """``embedder``: the configured ``[embed] model`` already loaded (tests and servers share one)."""
        self.store = store
        self.settings = settings
        self._embedder = embedder
        self._embedders: dict[str, Embedder] = {}  # other specs (kb reembed), loaded once
        self._version_specs: dict[int, str | None] = {}  # versions never change: their embedder spec neither
        self._retriever: Retriever | None = None
        self._head_acls = HeadAcls(store)  # the current acl of each document governs its older versions too
        self._strategies: dict[str, Strategy] | None = None
        self._lock = threading.Lock()

    @classmethod
    def open(
        cls,
        path: str | Path | None = None,
        *,
        create: bool = False,
        settings: Settings | None = None,
        embedder: Embedder | None = None,
    ) -> KnowledgeBase:
        """Open the KB in ``path`` (default: the nearest ``.ragtune/`` upward from the cwd)."""
        if path is None:
            found = find_kb()
            if found is None:
                if not create:
                    raise NotFoundError("no .ragtune/ here or in a parent directory (run `ragtune init`)")
                found = Path.cwd() / KB_DIRNAME
            path = found
        settings = settings or load_settings()
        return cls(open_store(Path(path), settings.store, create=create), settings, embedder)

    @property
    def path(self) -> Path:
        return self.store.root

    @property
    def embedder(self) -> Embedder:
        """The ``[embed] model``: it cuts chunks (its tokenizer), embeds the extractive answerer's sentences and the
        evaluation's semantic metrics, and searches every version that records no other embedder (all of them
        until a ``kb reembed``). The embedder a version is *searched* with: :meth:`embedder_at`."""
        with self._lock:
            if self._embedder is None:
                self._embedder = self._load_embedder(self.settings.embed.model)
            return self._embedder

    def _load_embedder(self, spec: str) -> Embedder:
        e = self.settings.embed
        return load_embedder(
            self.resolve_embedder(spec),
            precision=e.precision,
            batch_size=e.batch_size,
            query_backend=e.query_backend,
            query_precision=e.query_precision,
        )

    def resolve_embedder(self, spec: str) -> str:
        """An embedder spec → what :func:`~ragtune.embed.load_embedder` loads: ``NAME`` of a fine-tuned embedder
        kept in this KB (``<kb>/embedders/NAME/``, written by ``ragtune tune-retriever``) → its folder; anything
        else unchanged (a model name, hub id, path or ``BACKEND:MODEL``). The name resolves here, from the folder,
        so any process that opens the KB (search, serve, a library caller) finds it offline without the model
        registry (which records the model's lineage)."""
        if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}", spec):
            folder = self.store.root / EMBEDDERS_DIRNAME / spec
            if (folder / "modules.json").is_file():
                return str(folder)
        return spec

    def embedder_for(self, spec: str | None) -> Embedder:
        """The embedder ``spec`` names (None or ``""``: the configured one), loaded once per KB. A spec that does
        not load raises :class:`~ragtune.errors.EmbedderError`."""
        if not spec or spec == self.settings.embed.model:
            return self.embedder
        with self._lock:
            cached = self._embedders.get(spec)
        if cached is not None:
            return cached
        try:
            loaded = self._load_embedder(spec)
        except (OSError, ValueError) as exc:
            raise EmbedderError(f"cannot load embedder {spec!r}: {exc}") from exc
        with self._lock:
            return self._embedders.setdefault(spec, loaded)

    def embedder_spec(self, version: int | None = None) -> str | None:
        """The embedder spec version ``version`` (head when None) records; None: the configured one."""
        v = self.store.check_version(version)
        if v <= 0:
            return None
        with self._lock:
            if v in self._version_specs:
                return self._version_specs[v]
        spec = self.store.version_embedder(v)
        with self._lock:
            self._version_specs[v] = spec
        return spec

    def embedder_at(self, version: int) -> Embedder:
        """The embedder version ``version`` is searched with."""
        return self.embedder_for(self.embedder_spec(version))

    @property
    def search_embedder(self) -> Embedder:
        """The head version's embedder: the head is searched with it, and new chunks get vectors from it (the
        ``[embed] model`` until a ``kb reembed``; a rollback brings the old one back)."""
        return self.embedder_at(self.store.head())

    @property
    def retriever(self) -> Retriever:
        """The search over every version, each with its own embedder's vectors."""
        with self._lock:
            made = self._retriever
        if made is None:
            primary = self.embedder  # index/; other embedders' indexes are built when a version needs them
            made = Retriever(
                self.store,
                primary,
                self.settings.search,
                index_dir=self._index_dir(primary),
                embedder_at=self.embedder_at,
                index_dir_for=self._index_dir,
            )
            with self._lock:
                if self._retriever is None:
                    self._retriever = made
                made = self._retriever
        return made

    def _index_dir(self, embedder: Embedder) -> Path:
        """``index/`` for the configured embedder (as before re-embedding existed), ``index-<id>/`` for another."""
        base = self.store.root / INDEX_DIRNAME
        if embedder.id == self.embedder.id:
            return base
        return base.with_name(f"{INDEX_DIRNAME}-{re.sub(r'[^A-Za-z0-9@._-]+', '_', embedder.id)}")

    def reembed(self, embedder: str, *, progress: bool = False, message: str = "") -> ReembedReport:
        """Search the knowledge base with ``embedder`` from a new version on: every stored chunk without a vector
        from it is embedded (cached beside the old vectors, keyed by embedder id), its index files are written, and
        a version with the same documents that records ``embedder`` is committed. Earlier versions keep theirs:
        ``--at`` an older version, or a rollback to one, searches with its own embedder.

        ``embedder``: a fine-tuned embedder's name in this KB, or any ``[embed] model`` value. It is loaded (and
        tried on one text) before the store is touched, so a bad name fails with nothing changed. Every stored
        chunk is embedded, not only the head's, because the index covers every chunk ever stored (it would embed
        them at the first search otherwise). A run that is interrupted keeps what it embedded: the next one goes
        on from there. The extractive answerer's sentence vectors are not redone: they belong to the ``[embed]
        model`` (:attr:`embedder`), a general sentence model, which a retrieval-tuned one need not be.
        """
        started = time.perf_counter()
        head = self.store.head()
        if head == 0:
            raise NotFoundError("the knowledge base is empty: ingest documents before re-embedding them")
        spec = "" if embedder == self.settings.embed.model else embedder
        target = self.embedder_for(spec)
        try:
            target.embed(["a probe sentence"])
        except Exception as exc:
            raise EmbedderError(f"embedder {embedder!r} cannot embed: {exc}") from exc
        if target.id == self.embedder_at(head).id:
            counts = self.store.counts(target.id)
            return ReembedReport(None, embedder, target.id, counts["chunks"], 0, time.perf_counter() - started)
        before = self.store.counts(target.id)["vectors"]
        index = self.retriever.index_for(target)
        index.sync(progress=progress)
        if self.settings.search.index_files:
            index.persist()
        counts = self.store.counts(target.id)
        version = self.store.commit_version({}, "reembed", message or f"re-embed with {embedder}", embedder=spec)
        return ReembedReport(
            version,
            embedder,
            target.id,
            counts["chunks"],
            counts["vectors"] - before,
            time.perf_counter() - started,
        )

    def strategies(self, *, model: str | None = None, adapter: str | None = None) -> dict[str, Strategy]:
        """The strategies this KB can answer with (built-ins + ragtune.toml); see ``ragtune.rag.strategies``."""
        from ragtune.rag.strategies import load_strategies

        if model or adapter:
            return load_strategies(self, model=model, adapter=adapter)
        if self._strategies is None:
            self._strategies = load_strategies(self)
        return self._strategies

    # -- writing ----------------------------------------------------------------------------------

    def _ingestor(self, progress: bool) -> Ingestor:
        c = self.settings.chunking
        contextualizer = None
        if c.context_model:
            from ragtune.rag.contextualize import LLMContextualizer

            contextualizer = LLMContextualizer(c.context_model)
        return Ingestor(
            self.store,
            self.search_embedder,
            chunker=self.embedder,
            max_tokens=c.max_tokens,
            overlap_tokens=c.overlap_tokens,
            progress=progress,
            sentence_vectors=self.settings.answer.sentence_vectors,
            context=c.context,
            contextualizer=contextualizer,
        )

    def load_options(self, **loader_opts: Any) -> LoadOptions:
        """Loader options from settings, overridden by keyword arguments (id_field, text_field, ...)."""
        s = self.settings.loaders
        base: dict[str, Any] = {"max_bytes": int(s.max_mb * 1024 * 1024), "timeout_s": s.timeout_s}
        base.update(tables=s.tables, ocr=s.ocr, ocr_timeout_s=s.ocr_timeout_s, ocr_dpi=s.ocr_dpi)
        if s.ignore:
            base["ignore"] = list(s.ignore)
        base.update({k: v for k, v in loader_opts.items() if v is not None})
        try:
            return LoadOptions(**base)
        except TypeError as exc:
            raise ConfigError(f"unknown loader option: {exc}") from exc

    def ingest(
        self,
        paths: Sequence[str | Path] | str | Path,
        *,
        remove_missing: bool = False,
        progress: bool = False,
        message: str = "",
        **loader_opts: Any,
    ) -> IngestReport:
        """Load, chunk, embed and store files (recursively); commit one new version if anything changed.

        Files that cannot be read are reported in ``IngestReport.errors`` and skipped.
        With ``remove_missing``, live documents from under ``paths`` whose files are gone are removed.
        ``acl="g1,g2"`` (or a list; ``"*"``: everyone) sets who may read every document loaded, replacing what
        the files declare (front matter ``acl:``, a record's ``acl`` field); see :mod:`ragtune.kb.acl`.
        """
        if isinstance(paths, (str, Path)):
            paths = [paths]
        roots = [Path(p) for p in paths]
        opts = self.load_options(**loader_opts)
        report = self._ingestor(progress).run(
            _documents(roots, opts),
            remove_missing_under=[r for r in roots if r.is_dir()] if remove_missing else (),
            message=message,
        )
        self._after_ingest(report)
        return report

    def _after_ingest(self, report: IngestReport) -> None:
        """Bring the search index files up to date and have the query graph ready, so the next process's first
        search loads no model framework (the model is loaded here anyway when anything was embedded)."""
        if report.chunks_written and self.settings.search.index_files:
            self.retriever.index_for(self.search_embedder).persist()
        prepare = getattr(self.embedder, "prepare_query_encoder", None)
        if report.chunks_embedded and prepare is not None:
            prepare()

    def ingest_documents(self, docs: Iterable[Document], *, message: str = "") -> IngestReport:
        """Store documents built in code (no files involved)."""
        report = self._ingestor(False).run(docs, message=message)
        self._after_ingest(report)
        return report

    def remove(self, doc_ids: Sequence[str] | str, message: str = "", *, access: Access = ALL) -> VersionInfo | None:
        """A new version without these documents (their history stays queryable). A document ``access`` may not
        read is "not in the knowledge base", as a missing one is."""
        ids = [doc_ids] if isinstance(doc_ids, str) else list(doc_ids)
        live = self._readable(self.store.live_docs(), access)
        missing = [d for d in ids if d not in live]
        if missing:
            raise NotFoundError(f"not in the knowledge base: {', '.join(missing)}")
        return self.store.commit_version(dict.fromkeys(ids), "remove", message or f"remove {', '.join(ids)}")

    def rollback(self, version: int) -> VersionInfo | None:
        """A new version whose documents equal those of ``version``."""
        return self.store.rollback(version)

    # -- reading ----------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        k: int = 10,
        mode: str | None = None,
        at: int | None = None,
        filters: dict[str, Any] | None = None,
        *,
        access: Access = ALL,
    ) -> list[Passage]:
        """The ``k`` best passages for ``query`` at version ``at`` (head if None) under ``filters``, among the
        documents ``access`` may read."""
        q = Query(query, k, mode, at, filters, access.principal, access.groups)
        return self.retriever.retrieve(q).passages

    def retrieve(self, query: Query) -> SearchResult:
        """The passages for ``query`` and the version they were found at (the version is resolved once); only
        passages of documents ``query.access`` may read."""
        return self.retriever.retrieve(query)

    def ask(
        self,
        question: str,
        *,
        k: int | None = None,
        mode: str | None = None,
        at: int | None = None,
        filters: dict[str, Any] | None = None,
        strategy: str | None = None,
        model: str | None = None,
        adapter: str | None = None,
        access: Access = ALL,
        auto_filter: bool | None = None,
    ) -> Answer:
        """Answer ``question`` with a strategy (default ``rag-extractive``, or ``rag`` when ``model`` is given).

        ``k`` and ``mode`` override the strategy's retrieval settings for this call; ``auto_filter`` (default
        ``[search] auto_filter``) maps a company/year/document type the question names to filters.
        """
        from ragtune.rag.strategies import DEFAULT_STRATEGY

        # A bad --at fails before any model loads; the version resolved here is not looked up again.
        version = self.store.check_version(at) if at is not None else None
        available = self.strategies(model=model, adapter=adapter)
        name = strategy or ("rag" if model else DEFAULT_STRATEGY)
        if name not in available:
            raise ConfigError(f"unknown strategy {name!r}; available: {', '.join(sorted(available))}")
        query = Query(question, k, mode, version, filters, access.principal, access.groups, auto_filter)
        return available[name].ask(question, query=query)

    @property
    def head(self) -> int:
        return self.store.head()

    # Every read below shows a restricted caller (``access``; see ragtune.kb.acl) only what it may read: what a
    # knowledge base holding just those documents would show. The default, ALL, reads everything.

    def _readable(
        self, live: dict[str, int], access: Access, fields: dict[int, dict[str, Any]] | None = None
    ) -> dict[str, int]:
        """``live`` (doc id → revision id) without the revisions ``access`` may not read."""
        if access.unrestricted or not live:
            return live
        fields = {} if fields is None else fields
        missing = [r for r in set(live.values()) if r not in fields]
        if missing:
            fields.update(self.store.revision_fields(missing))
        return {d: r for d, r in live.items() if self._head_acls.readable(access, fields.get(r))}

    def versions(self, *, access: Access = ALL) -> list[VersionInfo]:
        """The history, oldest first. For a restricted caller each version's counts are those of the documents it
        may read, and the message of a version that touched documents it may not read is withheld (it may
        name them)."""
        versions = self.store.versions()
        if access.unrestricted:
            return versions
        fields: dict[int, dict[str, Any]] = {}
        out: list[VersionInfo] = []
        before: dict[str, int] = {}
        for v in versions:
            after = self._readable(self.store.live_docs(v.version), access, fields)
            added = sum(1 for d in after if d not in before)
            removed = sum(1 for d in before if d not in after)
            updated = sum(1 for d, r in after.items() if d in before and before[d] != r)
            hidden = (added + updated + removed) != (v.added + v.updated + v.removed)
            message = "" if hidden and v.operation != "rollback" else v.message
            out.append(dataclasses.replace(v, added=added, updated=updated, removed=removed, message=message))
            before = after
        return out

    def diff(self, a: int, b: int, *, access: Access = ALL) -> Diff:
        """Documents added, removed and changed between versions ``a`` and ``b`` (those ``access`` may read)."""
        if access.unrestricted:
            return self.store.diff(a, b)
        a, b = self.store.check_version(a), self.store.check_version(b)
        fields: dict[int, dict[str, Any]] = {}
        left = self._readable(self.store.live_docs(a), access, fields)
        right = self._readable(self.store.live_docs(b), access, fields)
        return Diff.between(a, b, left, right)

    def document(
        self, doc_id: str, at: int | None = None, *, access: Access = ALL
    ) -> tuple[RevisionInfo, list[dict[str, Any]]]:
        """A document's live revision at ``at`` (head if None) and its passages in order. NotFoundError when it is
        not live there, or ``access`` may not read it (the same message: a caller cannot tell the two apart)."""
        info, passages = self.store.document(doc_id, at)
        if not self._head_acls.readable(access, {**info.metadata, "doc_id": info.doc_id}):
            raise NotFoundError(f"no document {doc_id!r} at version {self.store.check_version(at)}")
        return info, passages

    def documents(self, at: int | None = None, *, access: Access = ALL) -> dict[str, int]:
        """doc id → revision id of the documents live at ``at`` (those ``access`` may read)."""
        live = self.store.live_docs(self.store.check_version(at) if at is not None else None)
        return self._readable(live, access)

    def history(self, doc_id: str, *, access: Access = ALL) -> list[tuple[int, int | None, int]]:
        """(from_version, to_version, revision id) of each span ``doc_id`` was live (and readable by ``access``);
        ``[]`` for a document never stored or never readable."""
        spans = self.store.history(doc_id)
        if access.unrestricted or not spans:
            return spans
        fields = self.store.revision_fields(sorted({r for _, _, r in spans}))
        return [s for s in spans if self._head_acls.readable(access, fields.get(s[2]))]

    def text(self, doc_id: str, at: int | None = None, *, access: Access = ALL) -> str:
        """A document's text at ``at``, put back together from its passages (overlaps removed)."""
        _, passages = self.document(doc_id, at, access=access)
        return join_passages(passages)

    def text_diff(self, doc_id: str, a: int, b: int, *, access: Access = ALL) -> str:
        """A unified diff of ``doc_id``'s text from version ``a`` to version ``b`` ("" when equal). A side where the
        document is not live (or not readable) counts as empty; NotFoundError when neither side has it."""
        a, b = self.store.check_version(a), self.store.check_version(b)
        texts: list[str | None] = []
        for v in (a, b):
            try:
                texts.append(self.text(doc_id, v, access=access))
            except NotFoundError:
                texts.append(None)
        if texts[0] is None and texts[1] is None:
            raise NotFoundError(f"no document {doc_id!r} at version {a} or {b}")
        old, new = texts[0] or "", texts[1] or ""
        if old == new:
            return ""
        lines = difflib.unified_diff(
            old.splitlines(keepends=True),
            new.splitlines(keepends=True),
            fromfile=f"{doc_id}@v{a}",
            tofile=f"{doc_id}@v{b}",
        )
        return "".join(line if line.endswith("\n") else line + "\n" for line in lines)

    def status(self) -> dict[str, Any]:
        counts = self.store.counts()
        return {
            "path": str(self.path),
            "version": self.head,
            "documents": counts["documents"],
            "chunks": counts["chunks"],
            "revisions": counts["revisions"],
            "vectors": counts["vectors"],
            "embedder": self.embedder_spec() or self.settings.embed.model,
            "embedder_id": self.search_embedder.id,
            "size_mb": round(self.store.size_bytes(journal=True) / 1e6, 2),
        }

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> KnowledgeBase:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _documents(roots: Sequence[Path], opts: LoadOptions) -> Iterator[Document | LoaderError]:
    for result in load_all(roots, opts):
        if result.error is not None:
            yield result.error
        else:
            yield from result.documents


def join_passages(passages: Sequence[dict[str, Any]]) -> str:
    """A document's text from its passages in order (``start``/``end`` offsets; overlapping sentences kept once,
    the whitespace between chunks, which no chunk holds, as one line break)."""
    out: list[str] = []
    end = 0
    for p in passages:
        text, start = str(p["text"]), int(p["start"])
        if out and start < end:
            text = text[end - start :]
        elif out and start > end:
            out.append("\n")
        out.append(text)
        end = max(end, int(p["end"]))
    return "".join(out)
