"""Cut a Document into Chunks that follow its structure and fit the embedder's token budget.

The document's text is read as the light Markdown dialect of :class:`~ragtune.kb.document.Document`:
heading lines open sections, and blank lines separate blocks (paragraphs, list runs, tables). Each block
is cut once into *atoms* — sentences, list items, table rows, heading lines — whose tokens are counted
once (in one batch per document); an atom over the budget is cut further at words, and a word over the
budget at characters. Chunks are then packed greedily from whole blocks, or from atoms when a block does
not fit, and every final chunk text is counted once more, because a sum of parts is only an estimate.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from ragtune.kb.document import Chunk, Document
from ragtune.text import split_sentences

CountTokens = Callable[[str], int]
CountTokensBatch = Callable[[list[str]], list[int]]


@dataclass(frozen=True)
class ChunkingOptions:
    """How a document is cut into chunks."""

    max_tokens: int = 200
    """Hard upper bound on ``count_tokens(chunk.text)``."""
    overlap_tokens: int = 32
    """Whole trailing sentences of the previous chunk (up to this many tokens) repeated at the start of
    the next chunk of the same section; 0 disables overlap."""
    min_tokens: int = 30
    """Chunks smaller than this are merged with neighbouring small sections when they fit."""

    def __post_init__(self) -> None:
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be at least 1, got {self.max_tokens}")
        if self.overlap_tokens < 0 or self.min_tokens < 0:
            raise ValueError("overlap_tokens and min_tokens must not be negative")


# Atom kinds. Only _SENT atoms (sentences, list items, table rows) are repeated as overlap.
_HEAD, _SENT, _FRAG = 0, 1, 2

_HEADING_RE = re.compile(r"[ \t]{0,3}(#{1,6})[ \t]+(\S.*)")
_LIST_ITEM_RE = re.compile(r"[ \t]*(?:[-*+•]|\d{1,9}[.)])(?:[ \t]|$)")
_TABLE_ROW_RE = re.compile(r"[ \t]*\|")
_WORD_RE = re.compile(r"\S+")


def heading_of(line: str) -> tuple[int, str] | None:
    """``(level, title)`` when ``line`` is a Markdown heading (``## Billing`` → ``(2, "Billing")``)."""
    m = _HEADING_RE.match(line.rstrip())
    if m is None:
        return None
    return len(m.group(1)), m.group(2).strip()


@dataclass
class _Block:
    kind: str  # "h" heading, "p" paragraph, "l" list run, "t" table
    units: list[tuple[int, int]]  # heading line, paragraph lines, list items or table rows (trimmed)
    level: int = 0
    title: str = ""


def _parse_blocks(text: str) -> list[_Block]:
    """Blocks in document order; consecutive list items stay one block even across blank lines."""
    blocks: list[_Block] = []
    current: _Block | None = None
    after_blank = False
    pos = 0
    for line in text.split("\n"):
        line_start = pos
        pos += len(line) + 1
        stripped = line.strip()
        if not stripped:
            current, after_blank = None, True
            continue
        lead = len(line) - len(line.lstrip())
        span = (line_start + lead, line_start + lead + len(stripped))
        heading = heading_of(line)
        if heading is not None:
            blocks.append(_Block("h", [span], heading[0], heading[1]))
            current, after_blank = None, False
            continue
        if _TABLE_ROW_RE.match(line):
            kind = "t"
        elif _LIST_ITEM_RE.match(line):
            kind = "l"
        elif current is not None and current.kind == "l":
            # A lazy continuation line of the current list item.
            current.units[-1] = (current.units[-1][0], span[1])
            continue
        else:
            kind = "p"
        if current is None and kind == "l" and after_blank and blocks and blocks[-1].kind == "l":
            current = blocks[-1]  # a loose list: items separated by blank lines
        if current is not None and current.kind == kind:
            current.units.append(span)
        else:
            current = _Block(kind, [span])
            blocks.append(current)
        after_blank = False
    return blocks


class _Counter:
    """Counts tokens in batches, through the batch function when there is one."""

    def __init__(self, count_tokens: CountTokens, count_tokens_batch: CountTokensBatch | None) -> None:
        self.one = count_tokens
        self.batch = count_tokens_batch

    def many(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        if self.batch is not None:
            return list(self.batch(texts))
        return [self.one(t) for t in texts]


class _Atoms:
    """Parallel arrays describing the atoms of one document, in text order."""

    def __init__(self) -> None:
        self.start: list[int] = []
        self.end: list[int] = []
        self.tokens: list[int] = []
        self.kind: list[int] = []
        self.section: list[int] = []

    def add(self, start: int, end: int, tokens: int, kind: int, section: int) -> None:
        self.start.append(start)
        self.end.append(end)
        self.tokens.append(tokens)
        self.kind.append(kind)
        self.section.append(section)


def _fragments(
    text: str,
    start: int,
    end: int,
    tokens: int,
    limit: int,
    counter: _Counter,
    *,
    sentences: bool,
    whole: bool = True,
) -> Iterator[tuple[int, int, int, bool]]:
    """Cut a span into ``(start, end, tokens, whole)`` pieces of at most ``limit`` tokens.

    Sentences first (when asked), then words, then characters; ``whole`` is False for pieces cut below
    sentence level.
    """
    if tokens <= limit:
        yield start, end, tokens, whole
        return
    if sentences:
        pieces = [(start + s, start + e) for s, e in split_sentences(text[start:end])]
        if len(pieces) > 1:
            counts = counter.many([text[s:e] for s, e in pieces])
            for (s, e), n in zip(pieces, counts, strict=True):
                yield from _fragments(text, s, e, n, limit, counter, sentences=True)
            return
    words = [(m.start(), m.end()) for m in _WORD_RE.finditer(text, start, end)]
    if len(words) > 1:
        counts = counter.many([text[s:e] for s, e in words])
        for (s, e), n in zip(words, counts, strict=True):
            yield from _fragments(text, s, e, n, limit, counter, sentences=False, whole=False)
        return
    yield from _character_pieces(text, start, end, tokens, limit, counter)


def _character_pieces(
    text: str, start: int, end: int, tokens: int, limit: int, counter: _Counter
) -> Iterator[tuple[int, int, int, bool]]:
    """Cut one long word into pieces of at most ``limit`` tokens (a URL, a base64 blob)."""
    width = max(1, (end - start) * limit // max(tokens, 1))
    pos = start
    while pos < end:
        size = min(width, end - pos)
        n = counter.one(text[pos : pos + size])
        while n > limit and size > 1:
            size = max(1, size * 3 // 4)
            n = counter.one(text[pos : pos + size])
        yield pos, pos + size, n, False
        pos += size


class _Packer:
    """Greedy packing of atom ranges into chunks; a chunk is an inclusive range of atom indices."""

    def __init__(self, atoms: _Atoms, options: ChunkingOptions) -> None:
        self.atoms = atoms
        self.max = options.max_tokens
        self.overlap_budget = options.overlap_tokens
        self.ranges: list[tuple[int, int]] = []
        self.first = -1  # first atom of the open chunk, -1 when none is open
        self.last = -1
        self.tokens = 0
        self.content = False  # the open chunk holds atoms no earlier chunk holds, beyond headings
        self.is_overlap = False  # the open chunk holds only atoms repeated from the previous chunk

    def _append(self, first: int, last: int, tokens: int, *, heading: bool) -> None:
        if self.first < 0:
            self.first = first
        self.last = last
        self.tokens += tokens
        self.is_overlap = False
        if not heading:
            self.content = True

    def flush(self) -> None:
        """Close the open chunk; trailing heading lines stay behind to open the next one."""
        if self.first < 0 or not self.content:
            return
        kind = self.atoms.kind
        last = self.last
        while kind[last] == _HEAD:
            last -= 1
        self.ranges.append((self.first, last))
        self.content = False
        if last < self.last:
            self.first = last + 1
            self.tokens = sum(self.atoms.tokens[self.first : self.last + 1])
        else:
            self.first, self.last, self.tokens = -1, -1, 0

    def force_flush(self) -> None:
        """Close the open chunk even when it holds only headings (nothing else can follow them)."""
        if self.first >= 0 and not self.is_overlap:
            self.ranges.append((self.first, self.last))
        self.first, self.last, self.tokens = -1, -1, 0
        self.content = self.is_overlap = False

    def _open_with_overlap(self, next_atom: int) -> None:
        if self.overlap_budget <= 0 or self.first >= 0 or not self.ranges:
            return
        prev_first, prev_last = self.ranges[-1]
        if prev_last != next_atom - 1:
            return
        atoms = self.atoms
        section = atoms.section[next_atom]
        j, total = prev_last, 0
        # Keep the previous chunk's first atom out so that chunk starts strictly increase.
        while (
            j > prev_first
            and atoms.kind[j] == _SENT
            and atoms.section[j] == section
            and total + atoms.tokens[j] <= self.overlap_budget
        ):
            total += atoms.tokens[j]
            j -= 1
        if j < prev_last:
            self.first, self.last, self.tokens, self.is_overlap = j + 1, prev_last, total, True

    def place(self, first: int, last: int, tokens: int, *, heading: bool = False) -> bool:
        """Put atoms ``first..last`` into the open chunk or a new one; False if they fit in neither."""
        if self.tokens + tokens <= self.max:
            self._append(first, last, tokens, heading=heading)
            return True
        if self.content:
            self.flush()
            self._open_with_overlap(first)
        if self.is_overlap:
            while self.first <= self.last and self.tokens + tokens > self.max:
                self.tokens -= self.atoms.tokens[self.first]
                self.first += 1
            if self.first > self.last:
                self.first, self.last, self.tokens, self.is_overlap = -1, -1, 0, False
        if self.tokens + tokens <= self.max:
            self._append(first, last, tokens, heading=heading)
            return True
        return False

    def place_atoms(self, first: int, last: int, *, heading: bool = False) -> None:
        for i in range(first, last + 1):
            n = self.atoms.tokens[i]
            if not self.place(i, i, n, heading=heading):
                # Only headings (or nothing) are open and even one more atom does not fit beside them.
                self.force_flush()
                self._append(i, i, n, heading=heading)


def chunk_document(
    doc: Document,
    *,
    count_tokens: CountTokens,
    max_tokens: int = 200,
    overlap_tokens: int = 32,
    count_tokens_batch: CountTokensBatch | None = None,
    options: ChunkingOptions | None = None,
) -> list[Chunk]:
    """Cut ``doc`` into chunks of at most ``max_tokens`` tokens that follow its structure.

    Sections (at headings) are packed from whole blocks — paragraphs, list runs, tables — and a block
    that does not fit is cut at sentences, a sentence at words, a word at characters. Heading lines stay
    with the content below them. Small neighbouring sections share a chunk; a top-level section boundary
    is crossed only for that. Consecutive chunks of one section repeat up to ``overlap_tokens`` tokens of
    whole trailing sentences. A chunk that starts inside a table below its header row gets that row as
    ``table_header`` (indexed with the chunk's context). ``count_tokens_batch`` (many texts at once) is used
    when given, for speed.
    ``options`` overrides ``max_tokens`` and ``overlap_tokens``.
    """
    opts = options or ChunkingOptions(max_tokens=max_tokens, overlap_tokens=overlap_tokens)
    text = doc.text
    counter = _Counter(count_tokens, count_tokens_batch)
    blocks = _parse_blocks(text)
    if not blocks:
        return []

    # Sections: one per heading, plus section 0 for any text before the first heading.
    paths: list[tuple[str, ...]] = [()]
    levels: list[int] = [0]
    block_section: list[int] = []
    stack: list[tuple[int, str]] = []
    for block in blocks:
        if block.kind == "h":
            while stack and stack[-1][0] >= block.level:
                stack.pop()
            stack.append((block.level, block.title))
            paths.append(tuple(title for _, title in stack))
            levels.append(block.level)
        block_section.append(len(paths) - 1)

    # Units: headings, list items and table rows are one unit each; paragraphs are cut at sentences.
    unit_spans: list[tuple[int, int]] = []
    unit_block: list[int] = []
    for b, block in enumerate(blocks):
        if block.kind == "p":
            s0, e0 = block.units[0][0], block.units[-1][1]
            spans = [(s0 + s, s0 + e) for s, e in split_sentences(text[s0:e0])]
        else:
            spans = block.units
        unit_spans.extend(spans)
        unit_block.extend([b] * len(spans))
    unit_tokens = counter.many([text[s:e] for s, e in unit_spans])

    # Atoms: units cut to fit. The first content block after headings must fit beside them.
    atoms = _Atoms()
    block_atoms: list[tuple[int, int, int]] = []  # first atom, last atom, tokens
    heading_tokens = 0
    u = 0
    for b, block in enumerate(blocks):
        section = block_section[b]
        first = len(atoms.start)
        total = 0
        limit = opts.max_tokens
        if block.kind != "h" and 0 < heading_tokens < opts.max_tokens:
            limit = opts.max_tokens - heading_tokens
        while u < len(unit_spans) and unit_block[u] == b:
            s, e = unit_spans[u]
            kind = _HEAD if block.kind == "h" else _SENT
            for ps, pe, n, whole in _fragments(text, s, e, unit_tokens[u], limit, counter, sentences=block.kind == "l"):
                atoms.add(ps, pe, n, kind if whole or kind == _HEAD else _FRAG, section)
                total += n
            u += 1
        block_atoms.append((first, len(atoms.start) - 1, total))
        heading_tokens = heading_tokens + total if block.kind == "h" else 0

    # Token size of each section with its subsections, for the merge decisions below.
    subtree = [0] * len(paths)
    for b, (_, _, total) in enumerate(block_atoms):
        subtree[block_section[b]] += total
    for sec in range(len(paths) - 1, 0, -1):
        # The parent of a section is the nearest earlier section of a lower level.
        parent = sec - 1
        while parent > 0 and levels[parent] >= levels[sec]:
            parent -= 1
        if parent > 0:
            subtree[parent] += subtree[sec]
    top_level = min((lv for lv in levels[1:]), default=0)
    min_tokens = min(opts.min_tokens, opts.max_tokens // 4)

    packer = _Packer(atoms, opts)
    for b, block in enumerate(blocks):
        first, last, total = block_atoms[b]
        if block.kind == "h":
            section = block_section[b]
            if packer.content:
                fits = packer.tokens + subtree[section] <= opts.max_tokens
                small_open = packer.tokens < min_tokens
                if block.level == top_level:
                    merge = small_open or (fits and subtree[section] < min_tokens)
                else:
                    merge = small_open or fits
                if not merge:
                    packer.flush()
            if not packer.place(first, last, total, heading=True):
                packer.place_atoms(first, last, heading=True)
        elif not packer.place(first, last, total):
            packer.place_atoms(first, last)
    packer.flush()
    packer.force_flush()

    chunks = _finish(doc, atoms, packer.ranges, paths, opts.max_tokens, counter)
    return _with_table_headers(text, blocks, chunks)


_TABLE_SEPARATOR_RE = re.compile(r"\|(?:[ \t]*:?-+:?[ \t]*\|)+")


def _with_table_headers(text: str, blocks: list[_Block], chunks: list[Chunk]) -> list[Chunk]:
    """Give every chunk that starts inside a table, below its header row, that header row (and the
    ``| --- |`` line under it) as ``table_header``, so each piece of a long table is read with its
    column names. A table's first row is its header (the dialect's loaders write it so)."""
    tables = [b for b in blocks if b.kind == "t" and len(b.units) > 1]
    if not tables:
        return chunks
    out: list[Chunk] = []
    t = 0
    for chunk in chunks:
        while t < len(tables) and tables[t].units[-1][1] <= chunk.start:
            t += 1
        header = ""
        if t < len(tables):
            units = tables[t].units
            if units[0][1] <= chunk.start:  # inside the table, past its header row
                header = text[units[0][0] : units[0][1]]
                sep = text[units[1][0] : units[1][1]]
                if _TABLE_SEPARATOR_RE.fullmatch(sep) and units[1][1] <= chunk.start:
                    header += "\n" + sep
        out.append(dataclasses.replace(chunk, table_header=header) if header else chunk)
    return out


def _finish(
    doc: Document,
    atoms: _Atoms,
    ranges: list[tuple[int, int]],
    paths: list[tuple[str, ...]],
    max_tokens: int,
    counter: _Counter,
) -> list[Chunk]:
    """Count every chunk's real text; re-cut any chunk whose parts' sum underestimated it."""
    text = doc.text
    counts = counter.many([text[atoms.start[a] : atoms.end[b]] for a, b in ranges])
    final: list[tuple[int, int, int]] = []
    for (a, b), n in zip(ranges, counts, strict=True):
        if final and a <= final[-1][0]:
            # An earlier chunk was re-cut past this chunk's overlap: give up that overlap.
            a = final[-1][0] + 1
            n = counter.one(text[atoms.start[a] : atoms.end[b]])
        if n <= max_tokens:
            final.append((a, b, n))
        else:
            final.extend(_recut(text, atoms, a, b, max_tokens, counter))
    return [
        Chunk(
            doc_id=doc.id,
            ord=i,
            text=text[atoms.start[a] : atoms.end[b]],
            start=atoms.start[a],
            end=atoms.end[b],
            heading_path=paths[atoms.section[a]],
            page=doc.page_at(atoms.start[a]),
            n_tokens=n,
        )
        for i, (a, b, n) in enumerate(final)
    ]


def _recut(
    text: str, atoms: _Atoms, a: int, b: int, max_tokens: int, counter: _Counter
) -> Iterable[tuple[int, int, int]]:
    """Cut atoms ``a..b`` into the fewest greedy prefixes whose real count fits (one atom always fits)."""
    start, end = atoms.start, atoms.end
    while a <= b:
        lo, hi = a, b  # the longest fitting prefix ends in [lo, hi]
        best = (a, atoms.tokens[a])
        while lo <= hi:
            mid = (lo + hi) // 2
            n = counter.one(text[start[a] : end[mid]])
            if n <= max_tokens:
                best = (mid, n)
                lo = mid + 1
            else:
                hi = mid - 1
        yield a, best[0], best[1]
        a = best[0] + 1
