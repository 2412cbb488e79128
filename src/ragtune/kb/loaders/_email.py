"""E-mail messages (.eml): the message text, then each readable attachment as a section of its own."""

from __future__ import annotations

import email
import re
import tempfile
from email import policy
from email.message import EmailMessage, MIMEPart
from pathlib import Path, PurePath

from bs4 import BeautifulSoup

from ragtune.errors import LoaderError

from ..document import Document
from ._blocks import collapse_ws
from ._html import html_to_text
from ._options import LoadOptions

_HEADERS = ("from", "to", "cc", "date", "message-id")
_SAFE_NAME = re.compile(r"[^\w.\- ]+")


def load_eml(path: Path, opts: LoadOptions) -> list[Document]:
    """One message, one Document: the Subject is its title (else the file stem), ``From``/``To``/``Cc``/
    ``Date``/``Message-ID`` go to metadata, the text is the ``text/plain`` body (else the HTML body,
    converted as an HTML page is).

    Each attachment whose extension has a loader (PDF, DOCX, Markdown, a nested .eml, ...) is loaded
    through the registry and appended as a ``## Attachment: <name>`` section, so a passage found in it
    cites the mail. Attachments of other types, and ones their loader refuses, do not fail the mail: they
    are named in a closing ``Attachments not loaded:`` list with the reason, and in
    ``metadata["attachments_skipped"]``; ``metadata["attachments"]`` names the loaded ones. Refused: a file
    with no message headers, and a message with neither text nor a readable attachment."""
    from ._registry import loader_for

    with path.open("rb") as f:
        message = email.message_from_binary_file(f, policy=policy.default)
    if not isinstance(message, EmailMessage) or not any(message.get(h) for h in ("from", "to", "subject", "date")):
        raise LoaderError(path, "not an e-mail message (no From, To, Subject or Date header)")
    if message.defects and not message.get_payload():
        raise LoaderError(path, f"damaged e-mail message: {message.defects[0].__class__.__name__}")
    parts: list[str] = []
    body = message.get_body(preferencelist=("plain", "html"))
    if body is not None:
        text = _part_text(body)
        if text:
            parts.append(text)
    loaded: list[str] = []
    skipped: list[str] = []
    for n, attachment in enumerate(message.iter_attachments(), start=1):
        name = _SAFE_NAME.sub("_", PurePath(attachment.get_filename() or f"attachment-{n}").name) or f"attachment-{n}"
        if attachment.get_content_type() == "message/rfc822" and not name.lower().endswith(".eml"):
            name += ".eml"  # a forwarded mail usually has no file name
        suffix = PurePath(name).suffix.lower()
        if loader_for(Path(name)) is None:
            skipped.append(f"{name} (unsupported type '{suffix or attachment.get_content_type()}')")
            continue
        try:
            text = _attachment_text(attachment, name, opts)
        except LoaderError as exc:
            skipped.append(f"{name} ({exc.reason})")
            continue
        loaded.append(name)
        parts.append(f"## Attachment: {name}\n\n{text}")
    if not parts:
        raise LoaderError(path, "no text in the message or its attachments")
    if skipped:
        parts.append("Attachments not loaded:\n" + "\n".join(f"- {s}" for s in skipped))
    metadata: dict[str, object] = {}
    for header in _HEADERS:
        value = message.get(header)
        if value:
            metadata[header.replace("-", "_")] = collapse_ws(str(value))
    if loaded:
        metadata["attachments"] = loaded
    if skipped:
        metadata["attachments_skipped"] = skipped
    title = collapse_ws(str(message.get("subject") or "")) or path.stem
    return [Document(id="", title=title, text="\n\n".join(parts), metadata=metadata)]


def _part_text(part: MIMEPart) -> str:
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # an unknown charset: read as UTF-8 with replacement characters
        payload = part.get_payload(decode=True)
        content = payload.decode("utf-8", errors="replace") if isinstance(payload, bytes) else str(payload)
    if not isinstance(content, str):
        return ""
    if part.get_content_subtype() == "html":
        return html_to_text(BeautifulSoup(content, "html.parser"))
    return content.replace("\r\n", "\n").replace("\r", "\n").strip()


def _attachment_text(attachment: MIMEPart, name: str, opts: LoadOptions) -> str:
    """The attachment's text through its loader (in this process: we already are the loader worker)."""
    from ._parse import parse

    if attachment.get_content_type() == "message/rfc822":  # a forwarded mail: loaded as a .eml file
        inner = attachment.get_content()
        data = inner.as_bytes() if isinstance(inner, MIMEPart) else b""
    else:
        raw = attachment.get_payload(decode=True)
        data = raw if isinstance(raw, bytes) else b""
    if not data.strip():
        raise LoaderError(name, "empty file")
    if len(data) > opts.max_bytes:
        raise LoaderError(name, "over the size cap")
    with tempfile.TemporaryDirectory(prefix="ragtune-eml-") as tmp:
        file = Path(tmp, name)
        file.write_bytes(data)
        documents = parse(file, opts)
    return "\n\n".join(d.text for d in documents if d.text.strip())
