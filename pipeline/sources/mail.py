"""E-mail: ``.eml`` files and ``mbox`` archives, as customer conversations.

Threads are rebuilt from ``Message-ID`` / ``In-Reply-To`` / ``References``: a message belongs to the
thread of the first id in its References (the thread's root), else of the message it replies to
(followed through the messages already read), else it starts one. Conversation and message ids are
hashes of those ids, which carry the sender's domain and are not kept.

Only the sender's own words are analysed: quoted lines (``>``), the quoted original under an
attribution line ("On ... wrote:", "Le ... a écrit :", Outlook's "-----Original Message-----" or
"From:/Sent:" block), signatures (below ``-- ``) and mobile footers ("Sent from my iPhone") are cut;
in HTML, ``blockquote`` and mail clients' quote containers are removed before the text is taken
(BeautifulSoup). Senders listed in the business names (an address, ``@brand.com`` for a whole
domain, or a display name) are the agent; anyone else is the customer, whose address is kept only as
a salted hash (the ``email`` metadata field). An mbox is streamed message by message; ``line`` is
the line its ``From `` separator is on.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Any

from bs4 import BeautifulSoup

from pipeline.sources.records import DEFAULTS, RawRecord, ReadOptions

_PARSER = BytesParser(policy=policy.default)
_IDS = re.compile(r"<[^<>\s]+>")
_ATTRIBUTION = re.compile(
    r"^[ \t]*(?:On\s[^\n]{0,300}?(?:\n[^\n]{0,200}?)?\swrote:"
    r"|Le\s[^\n]{0,300}?(?:\n[^\n]{0,200}?)?\sa\s+écrit\s?:"
    r"|-{2,}\s*(?:Original Message|Message d'origine|Message original"
    r"|Forwarded message|Message transféré)\s*-{2,}"
    r"|(?:From|De)\s?:[^\n]*\n(?:(?:Sent|Envoyé|Date|To|À)\s?:[^\n]*\n?){1,4})",
    re.MULTILINE | re.IGNORECASE,
)
_FOOTER = re.compile(
    r"^[ \t]*(?:Sent from my [^\n]{1,40}|Envoyé de mon [^\n]{1,40}|Get Outlook for [^\n]{1,20}"
    r"|Obtenir Outlook pour [^\n]{1,20}|Sent from Mail for Windows[^\n]*"
    r"|Envoyé à partir de [^\n]{1,60})[ \t]*$",
    re.MULTILINE | re.IGNORECASE,
)
_SIGNATURE = re.compile(r"^-- ?$", re.MULTILINE)
_QUOTE_CONTAINERS = ("blockquote", ".gmail_quote", "#appendonsend", "#divRplyFwdMsg", ".moz-cite-prefix")


def own_words(text: str) -> str:
    """The part of a plain-text body the sender wrote: quotes, quoted originals, signature cut."""
    text = text.replace("\r\n", "\n")
    for pattern in (_ATTRIBUTION, _SIGNATURE):
        found = pattern.search(text)
        if found:
            text = text[: found.start()]
    text = _FOOTER.sub("", text)
    lines = [line for line in text.split("\n") if not line.lstrip().startswith(">")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_text(html: str) -> str:
    soup = BeautifulSoup(html, "html.parser")
    for selector in (*_QUOTE_CONTAINERS, "script", "style", "head"):
        for node in soup.select(selector):
            node.decompose()
    return soup.get_text("\n")


def read_eml(path: Path, options: ReadOptions = DEFAULTS) -> Iterator[RawRecord]:
    with path.open("rb") as fh:
        yield _record(str(path), 1, fh.read(), options, {})


def read_mbox(path: Path, options: ReadOptions = DEFAULTS) -> Iterator[RawRecord]:
    roots: dict[str, str] = {}  # message id -> thread root, for replies without References
    for line, raw in _mbox_messages(path):
        yield _record(str(path), line, raw, options, roots)


def looks_like_mbox(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(5) == b"From "


def _mbox_messages(path: Path) -> Iterator[tuple[int, bytes]]:
    """(line of the ``From `` separator, message bytes), one message at a time (mboxrd unescaping)."""
    start, lines, previous_blank = 0, [], True
    with path.open("rb") as fh:
        for n, line in enumerate(fh, start=1):
            if line.startswith(b"From ") and previous_blank:
                if start:
                    yield start, b"".join(lines)
                start, lines = n, []
            elif start:
                lines.append(line[1:] if re.match(rb">+From ", line) else line)
            previous_blank = not line.strip()
    if start:
        yield start, b"".join(lines)


def _hash(value: str) -> str:
    return hashlib.sha256(value.strip().lower().encode()).hexdigest()[:20]


def _record(name: str, line: int, raw: bytes, options: ReadOptions, roots: dict[str, str]) -> RawRecord:
    head = raw[:2000].decode("utf-8", errors="replace")
    try:
        msg = _PARSER.parsebytes(raw)
    except Exception as exc:  # the parser is lenient; anything it still refuses is quarantined
        return RawRecord(name, line, head, None, f"unreadable e-mail: {exc}", "message")
    own_id = _first_id(msg.get("Message-ID"))
    references = _IDS.findall(str(msg.get("References") or ""))
    parent = _first_id(msg.get("In-Reply-To"))
    root = references[0] if references else roots.get(parent or "", parent) if parent else own_id
    if own_id and root:
        roots[own_id] = root
    if root is None:  # no ids at all: a thread of its own, named after its bytes
        root = "<" + hashlib.sha256(raw).hexdigest() + ">"
    try:
        text = _body_text(msg)
    except (LookupError, UnicodeError, AttributeError) as exc:
        return RawRecord(name, line, head, None, f"unreadable body: {exc}", "body")
    if not text:
        return RawRecord(
            name, line, head, None, "no words of the sender's own (only quotes or attachments)", "body"
        )
    sender = getaddresses([str(msg.get("From") or "")])
    display, address = sender[0] if sender else ("", "")
    data: dict[str, Any] = {
        "conversation_id": "email-" + _hash(root),
        "author_role": "agent" if _is_business(display, address, options.business_names) else "customer",
        "channel": "email",
        "text": text,
        "subject": str(msg.get("Subject") or "") or None,
    }
    if own_id:
        data["message_id"] = "email-" + _hash(own_id)
    if msg.get("Date"):
        try:
            data["sent_at"] = parsedate_to_datetime(str(msg["Date"])).isoformat()
        except (TypeError, ValueError):
            data["sent_at"] = str(msg["Date"])  # the contract quarantines it with the reason
    if address and data["author_role"] == "customer":
        data["email"] = address  # kept only as a salted hash (an identifier field)
    attachments = sum(1 for _ in msg.iter_attachments())
    if attachments:
        data["attachments"] = attachments
    return RawRecord(name, line, head, {k: v for k, v in data.items() if v is not None})


def _first_id(value: Any) -> str | None:
    found = _IDS.findall(str(value or ""))
    return found[0] if found else None


def _body_text(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    if part.get_content_subtype() == "html":
        content = html_text(content)
    return own_words(content)


def _is_business(display: str, address: str, names: tuple[str, ...]) -> bool:
    address, display = address.strip().lower(), display.strip().lower()
    for name in (n.strip().lower() for n in names):
        if not name:
            continue
        if name.startswith("@") and address.endswith(name):
            return True
        if name == address or (display and name == display):
            return True
    return False
