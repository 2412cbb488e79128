"""LoadOptions: the settings every loader receives."""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field

from ragtune.errors import ConfigError
from ragtune.kb.acl import normalize_acl

DEFAULT_IGNORE: tuple[str, ...] = (
    "node_modules",
    "__pycache__",
    "~$*",  # Office lock files: binary junk with a .docx name
    "*~",
    "*.tmp",
    "*.bak",
    "*.swp",
)


@dataclass(frozen=True)
class LoadOptions:
    """How files are found and read. Every field has a default; override only what you need."""

    id_field: str = "id"
    """JSON/JSONL: the field holding a record's id. With the default, ``_id`` (BEIR) is accepted too."""

    text_field: str = "text"
    """JSON/JSONL: the field holding a record's text."""

    title_field: str = "title"
    """JSON/JSONL: the field holding a record's title (optional in the data; the id stands in)."""

    max_bytes: int = 50_000_000
    """Files larger than this are refused without being read (50 MB)."""

    timeout_s: float | None = 30.0
    """A parser still running after this many seconds is stopped and the file reported as failed.
    ``None`` parses in this process with no limit (useful under a debugger)."""

    ignore: tuple[str, ...] = field(default=DEFAULT_IGNORE)
    """Glob patterns skipped during discovery, matched against the path relative to the root
    (POSIX, e.g. ``drafts/*``) and against the base name (e.g. ``*.tmp``)."""

    encoding: str | None = None
    """Text files: decode with this codec instead of UTF-8 (e.g. ``cp1252``). Without it, text must be
    UTF-8 (a BOM is honoured, and a UTF-16 BOM selects UTF-16); nothing is guessed."""

    acl: tuple[str, ...] | None = None
    """The groups allowed to read every document loaded (``ragtune ingest --acl g1,g2``; ``"*"`` or ``()``:
    everyone). It REPLACES any acl the files declare (front matter, a record's ``acl`` field). ``None`` (the
    default): each document keeps the acl its file declares, if any (see :mod:`ragtune.kb.acl`)."""

    tables: bool = True
    """PDF pages that draw ruling lines are read by pdfplumber's table finder, tables as ``| a | b |`` rows. Off:
    pypdf's text alone (faster; a table's cells run together). DOCX/HTML tables are always kept as rows."""

    ocr: bool = True
    """Read scanned PDF pages (no text layer) and image files with Tesseract. Off: such pages are skipped
    with a warning, and image files are refused."""

    ocr_timeout_s: float = 20.0
    """OCR time limit per page; a page over it is skipped with a warning and the document kept."""

    ocr_dpi: int = 200
    """Resolution at which scanned PDF pages are rendered for OCR (see docs/benchmarks.md)."""

    ocr_lang: str = "eng"
    """Tesseract language(s), e.g. ``eng+deu`` (each needs its ``tesseract-ocr-LANG`` package)."""

    ocr_command: str = "tesseract"
    """The Tesseract program: a name looked up on PATH, or a path."""

    def __post_init__(self) -> None:
        if self.max_bytes <= 0:
            raise ConfigError(f"max_bytes must be positive, got {self.max_bytes}")
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise ConfigError(f"timeout_s must be positive or None, got {self.timeout_s}")
        if self.ocr_timeout_s <= 0:
            raise ConfigError(f"ocr_timeout_s must be positive, got {self.ocr_timeout_s}")
        if not 50 <= self.ocr_dpi <= 600:
            raise ConfigError(f"ocr_dpi must be between 50 and 600, got {self.ocr_dpi}")
        for name in ("id_field", "text_field", "title_field", "ocr_lang", "ocr_command"):
            if not getattr(self, name):
                raise ConfigError(f"{name} must not be empty")
        if isinstance(self.ignore, str):
            # A lone string would be iterated character by character.
            object.__setattr__(self, "ignore", (self.ignore,))
        else:
            object.__setattr__(self, "ignore", tuple(self.ignore))
        if self.acl is not None:
            try:
                object.__setattr__(self, "acl", normalize_acl(self.acl, where="acl option"))
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        if self.encoding is not None:
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise ConfigError(f"unknown encoding {self.encoding!r}") from None
