"""Training data in chat JSONL: one ``{"messages": [{"role", "content"}, ...]}`` object per line.

This is the fine-tuning format of OpenAI and Hugging Face TRL. An example may also carry a top-level
``"metadata"`` object (``doc_id``, ``chunk_id``, ``kb_version``, ``kind``, ...) recording where it came from;
trainers must drop every key but ``messages`` before training.

Rules a valid conversation follows (:func:`message_problems`): an optional ``system`` turn first, then
``user`` and ``assistant`` turns alternating, starting with ``user`` and ending with ``assistant``; only
those three roles; every ``content`` a non-empty string.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ragtune.errors import DatasetError
from ragtune.jsonl import raw_lines, write_jsonl
from ragtune.llm.prompts import PromptTemplates

ROLES = ("system", "user", "assistant")


@dataclass
class ChatExample:
    """One training conversation; ``line`` is its 1-based line in the file it was read from (0 if built)."""

    messages: list[dict[str, str]]
    metadata: dict[str, Any] = field(default_factory=dict)
    line: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The JSON object written for this example (``metadata`` only when non-empty)."""
        out: dict[str, Any] = {"messages": [{"role": m["role"], "content": m["content"]} for m in self.messages]}
        if self.metadata:
            out["metadata"] = self.metadata
        return out

    def turns(self, role: str) -> list[str]:
        """The contents of the turns with ``role``, in order."""
        return [m["content"] for m in self.messages if m.get("role") == role]


@dataclass
class RawLine:
    """One non-blank line of a chat JSONL file: the example, or why it is not one."""

    line: int
    example: ChatExample | None
    problems: list[tuple[str, str]]  # (code, reason); codes: json, schema, role, empty


def message_problems(messages: Any) -> list[str]:
    """Why ``messages`` is not a valid conversation (empty when it is valid)."""
    return [reason for _, reason in coded_message_problems(messages)]


def coded_message_problems(messages: Any) -> list[tuple[str, str]]:
    """Like :func:`message_problems`, as (code, reason) pairs.

    Codes: ``schema`` (wrong types or shape), ``role`` (unknown role or wrong order), ``empty`` (blank content).
    """
    if not isinstance(messages, list):
        return [("schema", f"'messages' must be a list, not {type(messages).__name__}")]
    if not messages:
        return [("schema", "'messages' is empty")]
    problems: list[tuple[str, str]] = []
    roles: list[str] = []
    for i, m in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(m, dict):
            problems.append(("schema", f"{where} must be an object with 'role' and 'content'"))
            roles.append("?")
            continue
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            problems.append(("role", f"{where}: unknown role {role!r} (known: {', '.join(ROLES)})"))
        if not isinstance(content, str):
            problems.append(("schema", f"{where}: 'content' must be a string, not {type(content).__name__}"))
        elif not content.strip():
            problems.append(("empty", f"{where}: empty {role} turn"))
        roles.append(role if isinstance(role, str) else "?")
    problems.extend(("role", reason) for reason in _order_problems(roles))
    return problems


def _order_problems(roles: Sequence[str]) -> list[str]:
    rest = list(roles)
    if "system" in rest[1:]:
        return [f"a system turn must come first (found at messages[{rest.index('system', 1)}])"]
    if rest and rest[0] == "system":
        rest = rest[1:]
    if not rest:
        return ["no user or assistant turns"]
    for i, role in enumerate(rest):
        want = "user" if i % 2 == 0 else "assistant"
        if role in ROLES and role != want:
            offset = len(roles) - len(rest)
            return [f"messages[{i + offset}] is {role!r} but {want!r} was expected (user and assistant alternate)"]
    if rest[-1] != "assistant":
        return ["the conversation must end with an assistant turn"]
    return []


def parse_example(obj: Any, line: int = 0) -> tuple[ChatExample | None, list[str]]:
    """A decoded JSON value → the example and the problems found (the example is None if unusable)."""
    example, problems = parse_example_coded(obj, line)
    return example, [reason for _, reason in problems]


def parse_example_coded(obj: Any, line: int = 0) -> tuple[ChatExample | None, list[tuple[str, str]]]:
    """Like :func:`parse_example`, with each problem as a (code, reason) pair."""
    if not isinstance(obj, dict):
        return None, [("schema", f"expected a JSON object, got {type(obj).__name__}")]
    if "messages" not in obj:
        return None, [("schema", "missing 'messages'")]
    problems = coded_message_problems(obj["messages"])
    metadata = obj.get("metadata", {})
    if not isinstance(metadata, dict):
        problems.append(("schema", "'metadata' must be an object"))
        metadata = {}
    usable = isinstance(obj["messages"], list) and all(
        isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
        for m in obj["messages"]
    )
    if not usable:
        return None, problems
    messages = [{"role": m["role"], "content": m["content"]} for m in obj["messages"]]
    return ChatExample(messages, dict(metadata), line), problems


def iter_chat_jsonl(path: str | Path) -> Iterator[RawLine]:
    """Every non-blank line of ``path`` with its problems; never raises for bad lines (see ``check``)."""
    for number, raw in raw_lines(path):
        try:
            obj = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield RawLine(number, None, [("json", f"invalid JSON: {exc.msg} (column {exc.colno})")])
            continue
        example, problems = parse_example_coded(obj, number)
        yield RawLine(number, example, problems)


def read_chat_jsonl(path: str | Path) -> list[ChatExample]:
    """All examples of a chat JSONL file; the first bad line raises DatasetError naming file, line and reason."""
    out: list[ChatExample] = []
    for raw in iter_chat_jsonl(path):
        if raw.problems or raw.example is None:
            raise DatasetError(path, raw.line, "; ".join(reason for _, reason in raw.problems))
        out.append(raw.example)
    return out


def user_question(content: str, templates: PromptTemplates | None = None) -> str:
    """The question inside a user turn: for a RAG prompt (RAFT data) the ``{question}`` part of the template's
    ``rag_user``, so retrieved passages do not count as the question; otherwise the whole turn."""
    t = templates or PromptTemplates()
    pattern = _template_pattern(t.rag_user)
    match = pattern.fullmatch(content)
    return match.group("question").strip() if match else content


_PATTERNS: dict[str, re.Pattern[str]] = {}


def _template_pattern(rag_user: str) -> re.Pattern[str]:
    if rag_user not in _PATTERNS:
        parts = re.split(r"(\{sources\}|\{question\})", rag_user)
        regex = "".join(
            "(?P<sources>.*)" if p == "{sources}" else "(?P<question>.*)" if p == "{question}" else re.escape(p)
            for p in parts
        )
        _PATTERNS[rag_user] = re.compile(regex, re.DOTALL)
    return _PATTERNS[rag_user]


def write_chat_jsonl(path: str | Path, examples: Iterable[ChatExample]) -> int:
    """Write examples as chat JSONL (atomically); return how many were written."""
    return write_jsonl(path, (e.as_dict() for e in examples))
