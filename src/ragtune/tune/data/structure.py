"""Question/answer pairs from a chunk's own structure, with no language model.

Help pages, manuals and policies already hold their questions, in forms a few rules can read:

- ``faq``: a question line (a heading or bold line ending in "?", or ``Q:``/``Question:``) and the paragraph
  after it (``A:`` prefixes are dropped);
- ``howto``: an imperative heading ("Restore a deleted file") and its section → "How do I restore a deleted
  file?" ("your" becomes "my");
- ``steps``: another heading whose section is a numbered list → "What are the steps for <heading>?";
- ``definition``: a sentence "X is/are/means …" with a short named subject → "What is X?" / "What does X mean?";
- ``section``: any other heading with a prose section → "What should I know about <heading>?".

Questions are only made from headings whose line is inside the chunk, so a section split across chunks
gives one question, and answers never cross into the next heading. Lines repeated across many documents
(sign-offs, navigation) are passed in as ``boilerplate`` and left out of answers.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from ragtune.text import split_sentences
from ragtune.tune.data.similarity import normalize_text

KIND_ORDER = ("faq", "howto", "steps", "definition", "section")

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_BOLD_LINE = re.compile(r"^\s*(?:\*\*|__)(.+?)(?:\*\*|__)\s*$")
_Q_PREFIX = re.compile(r"^\s*(?:\*\*)?(?:Q|Question)\s*[:.)]\s*(?:\*\*)?\s*(.+)$", re.IGNORECASE)
_A_PREFIX = re.compile(r"^\s*(?:\*\*)?(?:A|Answer)\s*[:.)]\s*(?:\*\*)?\s*", re.IGNORECASE)
_NUMBERED = re.compile(r"^\s*\d+[.)]\s+\S")
_TABLE = re.compile(r"^\s*\|")
_DEFINITION = re.compile(
    r"^(?:(?P<det>An?|The)\s+)?(?P<subject>\*\*[^*]{1,60}\*\*|\w[\w'’-]*(?:\s+[\w'’()-]+){0,4}?)\s+"
    r"(?P<verb>is|are|means)\s+(?P<rest>.{12,})$"
)
# What a defining sentence says next: "is a ...", "is how ...", "means ...". "is available", "are valid" are not.
_DEFINING_REST = re.compile(r"^(?:an?|the|one|any|how|what|where|when|your|our|each|every)\b", re.IGNORECASE)
_MARKUP = re.compile(r"(\*\*|__|`|(?<!\w)[*_](?=\S)|(?<=\S)[*_](?!\w))")
_LINK = re.compile(r"!?\[([^\]]+)\]\([^)]*\)")

# Words that start a how-to heading. Generic help-writing verbs, not tied to any one corpus.
IMPERATIVE_VERBS = frozenset(
    (
        "access",
        "activate",
        "add",
        "allow",
        "apply",
        "approve",
        "archive",
        "assign",
        "back",
        "block",
        "book",
        "buy",
        "cancel",
        "change",
        "check",
        "choose",
        "claim",
        "clean",
        "clear",
        "close",
        "configure",
        "confirm",
        "connect",
        "contact",
        "convert",
        "copy",
        "create",
        "customize",
        "deactivate",
        "delete",
        "deploy",
        "disable",
        "disconnect",
        "download",
        "downgrade",
        "edit",
        "empty",
        "enable",
        "enroll",
        "enter",
        "export",
        "extend",
        "find",
        "fix",
        "follow",
        "get",
        "give",
        "grant",
        "hide",
        "import",
        "install",
        "integrate",
        "invite",
        "join",
        "keep",
        "leave",
        "limit",
        "link",
        "lock",
        "log",
        "make",
        "manage",
        "map",
        "merge",
        "migrate",
        "move",
        "mute",
        "open",
        "pause",
        "pay",
        "pin",
        "print",
        "protect",
        "publish",
        "recover",
        "redeem",
        "reduce",
        "refresh",
        "register",
        "reinstall",
        "remove",
        "rename",
        "renew",
        "reorder",
        "replace",
        "report",
        "request",
        "require",
        "reset",
        "resolve",
        "restore",
        "resume",
        "retry",
        "revoke",
        "rewind",
        "roll",
        "rotate",
        "run",
        "save",
        "schedule",
        "search",
        "select",
        "send",
        "set",
        "share",
        "show",
        "sign",
        "start",
        "stop",
        "subscribe",
        "switch",
        "sync",
        "test",
        "transfer",
        "troubleshoot",
        "try",
        "turn",
        "undo",
        "uninstall",
        "unlink",
        "unlock",
        "unpin",
        "unsubscribe",
        "update",
        "upgrade",
        "upload",
        "use",
        "verify",
        "view",
        "watch",
        "put",
        "wear",
        "prepare",
        "write",
        "read",
        "store",
        "dispose",
        "label",
        "measure",
        "calibrate",
        "submit",
        "order",
        "return",
        "ship",
        "track",
        "deploy",
        "boot",
        "build",
        "compile",
        "debug",
        "record",
        "recover",
        "edit",
        "reply",
        "approve",
        "deny",
        "plan",
        "prevent",
        "handle",
    )
)
# Subjects that make "X is ..." a statement about something else, not a definition.
_NOT_SUBJECTS = frozenset(
    (
        "it",
        "this",
        "that",
        "there",
        "these",
        "those",
        "here",
        "which",
        "what",
        "who",
        "whose",
        "where",
        "when",
        "why",
        "how",
        "each",
        "every",
        "one",
        "some",
        "all",
        "any",
        "both",
        "your",
        "our",
        "my",
        "their",
        "his",
        "her",
        "its",
        "we",
        "you",
        "they",
        "he",
        "she",
        "i",
        "none",
        "most",
        "many",
        "other",
        "another",
        "such",
        "either",
        "neither",
        "if",
        "once",
        "until",
        "unless",
        "while",
        "because",
        "although",
        "after",
        "before",
        "since",
        "whenever",
        "nothing",
        "everything",
        "everyone",
        "someone",
        "anyone",
    )
)
_CONDITION_WORDS = ("if", "when", "once", "after", "whenever")
_WH_QUESTION = re.compile(
    r"^(?:what|what's|which|who|whom|whose|why|how (?:do|does|did|is|are|can|should))\b",
    re.IGNORECASE,
)
_GENERIC_HEADINGS = frozenset(
    (
        "frequently asked questions",
        "faq",
        "faqs",
        "good to know",
        "things to know",
        "things to keep in mind",
        "notes",
        "note",
        "overview",
        "introduction",
        "summary",
        "details",
        "more information",
        "see also",
        "tips",
        "step by step",
        "steps",
        "how it works",
        "getting started",
        "quick start",
        "instructions",
    )
)


@dataclass(frozen=True)
class StructuredPair:
    """A question and answer read from the text, with the rule that found it."""

    question: str
    answer: str
    kind: str


@dataclass
class _Section:
    heading: str | None  # None: text before the chunk's first heading
    lines: list[str]
    level: int = 0


def clean_inline(text: str) -> str:
    """Markdown emphasis, code ticks and link targets removed; whitespace collapsed."""
    text = _LINK.sub(r"\1", text)
    return " ".join(_MARKUP.sub("", text).split())


def _sections(text: str) -> list[_Section]:
    out = [_Section(None, [])]
    for line in text.splitlines():
        m = _HEADING.match(line)
        if m:
            out.append(_Section(clean_inline(m.group(2)), [], len(m.group(1))))
        else:
            out[-1].lines.append(line.rstrip())
    return [s for s in out if s.heading is not None or any(line.strip() for line in s.lines)]


def _paragraphs(lines: list[str]) -> list[list[str]]:
    paras: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            paras[-1].append(line)
        elif paras[-1]:
            paras.append([])
    return [p for p in paras if p]


def _answer_text(lines: list[str], boilerplate: Collection[str]) -> str:
    kept = [line for line in lines if normalize_text(line) not in boilerplate]
    return "\n".join(kept).strip()


def _question_line(line: str) -> str | None:
    """The question a line asks, if it is a FAQ question line."""
    m = _Q_PREFIX.match(line)
    if m:
        q = clean_inline(m.group(1))
        return q if q else None
    m = _BOLD_LINE.match(line)
    if m and m.group(1).strip().endswith("?"):
        return clean_inline(m.group(1))
    return None


def faq_pairs(section: _Section, boilerplate: Collection[str]) -> list[StructuredPair]:
    """Question lines in a section, each with the text up to the next question or blank-line-separated gap."""
    out = []
    current: str | None = None
    answer: list[str] = []

    def flush() -> None:
        text = _answer_text([_A_PREFIX.sub("", a, count=1) for a in answer], boilerplate)
        if current and text:
            out.append(StructuredPair(current, text, "faq"))

    for line in section.lines:
        q = _question_line(line)
        if q is not None:
            flush()
            current, answer = q, []
        elif current is not None:
            if not line.strip() and answer:
                flush()  # one paragraph per answer: what follows a blank line is not part of it
                current, answer = None, []
            elif line.strip():
                answer.append(line)
    flush()
    return out


def _lower_first(heading: str, text: str, *, seen_lower: bool = False) -> str:
    """Lower-case the heading's first word unless it is a name: all capitals, followed by another capitalized
    word, or capitalized mid-sentence in the text ("turn on Smart Sync" keeps "Smart"; "Storage by plan" becomes
    "storage by plan"). With ``seen_lower``, only when the text also uses the word in lower case."""
    first, _, rest = heading.partition(" ")
    if (first.isupper() and len(first) > 1) or first[:1].islower() or rest[:1].isupper():
        return heading
    if re.search(rf"[a-z,;:] {re.escape(first)}(?![\w-])", text):
        return heading
    if seen_lower and not re.search(rf"(?<![\w-]){re.escape(first.lower())}(?![\w-])", text):
        return heading
    return f"{first.lower()} {rest}".strip()


def _second_person_to_first(text: str) -> str:
    swaps = {"your": "my", "yours": "mine", "yourself": "myself", "you": "I"}
    return re.sub(r"\b(your|yours|yourself|you)\b", lambda m: swaps[m.group(1)], text)


def heading_pairs(
    section: _Section, chunk_text: str, boilerplate: Collection[str], title: str = ""
) -> list[StructuredPair]:
    """A question made from the section's heading, answered by the section (FAQ headings are questions)."""
    if section.heading is None:
        return []
    body_lines = [line for line in section.lines if _question_line(line) is None]
    answer = _answer_text(section.lines, boilerplate)
    heading = section.heading.rstrip(":").strip()
    if not answer or len(heading) < 3 or any(_question_line(line) for line in section.lines):
        return []  # a FAQ container: its questions are pairs of their own
    if heading.endswith("?"):
        return [StructuredPair(heading, answer, "faq")]
    words = heading.split()
    first = words[0].lower()
    has_steps = any(_NUMBERED.match(line) for line in body_lines)
    if section.level == 1 and not has_steps:
        return []  # a page title over an introduction: the intro rarely answers a question about the whole page
    if first in IMPERATIVE_VERBS and len(words) >= 2:
        return [
            StructuredPair(f"How do I {_second_person_to_first(first + ' ' + ' '.join(words[1:]))}?", answer, "howto")
        ]
    if heading.lower() in _GENERIC_HEADINGS and title and title.lower() not in _GENERIC_HEADINGS:
        # "Step by step" under "Create your workspace" asks how to create a workspace.
        return heading_pairs(_Section(title, section.lines, 2), chunk_text, boilerplate, "")
    if heading.lower() in _GENERIC_HEADINGS or len(answer) < 40:
        return []
    phrase = _second_person_to_first(_lower_first(heading, chunk_text))
    if _WH_QUESTION.match(heading):
        return [StructuredPair(f"{phrase[0].upper()}{phrase[1:]}?", answer, "steps" if has_steps else "section")]
    if first in _CONDITION_WORDS:
        return [StructuredPair(f"What happens {phrase}?", answer, "section")]
    if first == "before":
        return [StructuredPair(f"What should I do {phrase}?", answer, "section")]
    if first == "about" and len(words) > 1:
        phrase = phrase[len("about ") :]
    if len(words) <= 2 and title and not set(normalize_text(heading).split()) & set(normalize_text(title).split()):
        phrase = f"{phrase} ({title})"  # "Limits" alone does not say limits of what
    if has_steps:
        return [StructuredPair(f"What are the steps for {phrase}?", answer, "steps")]
    return [StructuredPair(f"What should I know about {phrase}?", answer, "section")]


def definition_pairs(section: _Section, text: str = "") -> list[StructuredPair]:
    """Sentences that define a named thing: "A Nest is a shared folder ...", "**Pooled** means ..."."""
    out = []
    for para in _paragraphs(section.lines):
        prose = [line.strip() for line in para if not (_TABLE.match(line) or _NUMBERED.match(line))]
        joined = " ".join(prose)
        for sentence in (joined[a:b] for a, b in split_sentences(joined)):
            m = _DEFINITION.match(sentence.strip())
            if not m or not sentence.rstrip().endswith((".", "!")):
                continue
            if m.group("verb") != "means" and not _DEFINING_REST.match(m.group("rest")):
                continue
            subject = clean_inline(m.group("subject"))
            words = subject.split()
            if not words or not re.search(r"[A-Za-z]", subject) or any(w.lower() in _NOT_SUBJECTS for w in words):
                continue
            bold = m.group("subject").startswith("**")
            if not bold and not m.group("det") and not subject[0].isupper():
                continue
            if not m.group("det"):
                subject = _lower_first(subject, text, seen_lower=True)
            term = f"{m.group('det').lower()} {subject}" if m.group("det") else subject
            if m.group("verb") == "means":
                question = f"What does {term} mean?"
            else:
                question = f"What {'are' if m.group('verb') == 'are' else 'is'} {term}?"
            out.append(StructuredPair(question, clean_inline(sentence), "definition"))
    return out


def structural_pairs(text: str, boilerplate: Collection[str] = (), title: str = "") -> list[StructuredPair]:
    """Every pair the rules find in one chunk's text, in :data:`KIND_ORDER` then text order, no repeats.

    ``title`` (the document's) gives context to questions from short headings ("Limits").
    """
    found: list[StructuredPair] = []
    for section in _sections(text):
        found.extend(faq_pairs(section, boilerplate))
        found.extend(heading_pairs(section, text, boilerplate, title))
        found.extend(definition_pairs(section, text))
    seen: set[str] = set()
    out = []
    for pair in sorted(found, key=lambda p: KIND_ORDER.index(p.kind)):
        key = normalize_text(pair.question)
        if key not in seen:
            seen.add(key)
            out.append(pair)
    return out
