"""WhatsApp chat exports (``.txt``), as phones write them in English and French locales.

Understood line shapes (with 2- or 4-digit years, 12- or 24-hour clocks, ``\\u202f`` before AM/PM):
- Android: ``12/31/23, 9:41 PM - Name: text`` and ``31/12/2023 21:41 - Name: text``
  (also ``31/12/2023 à 21:41 - ...``);
- iPhone: ``[12/31/23, 9:41:05 PM] Name: text`` and ``[31/12/2023 21:41:05] Name: text``.

A line without a timestamp continues the previous message (multi-line messages). Lines without an
author (encryption notice, "X added Y", group changes) are system turns. Media placeholders
(``<Media omitted>``, ``<Médias omis>``, ``image omitted``, ``image absente``...) and deleted
messages become system turns too, so threads stay whole but nothing that is not the customer's words
is analysed. Authors are mapped by the configured business names: one of them is the agent, anyone
else the customer; the author's name is handed on as ``author``, an identifier that ingest keeps only
as a salted hash. Day-first or month-first is read from the file (a day above
12 settles it; otherwise a 12-hour clock means month-first, as US phones write it), or configured.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pipeline.sources.records import DEFAULTS, RawRecord, ReadOptions

_DATE = r"(?P<date>\d{1,4}[./-]\d{1,2}[./-]\d{2,4})"
_TIME = r"(?P<time>\d{1,2}[:.h]\d{2}(?:[:.]\d{2})?(?:[\s\u202f]?[APap]\.?[\s\u202f]?[Mm]\.?)?)"
_IOS = re.compile(rf"^\u200e?\[{_DATE},?[\s\u202f]+{_TIME}\][\s\u202f](?P<rest>.*)$")
_ANDROID = re.compile(
    rf"^\u200e?{_DATE},?(?:[\s\u202f]+à)?[\s\u202f]+{_TIME}[\s\u202f]+[-–][\s\u202f](?P<rest>.*)$"
)
_AUTHOR = re.compile(r"^(?P<author>[^:]{1,80}?): (?P<text>.*)$", re.S)
_MEDIA = re.compile(
    r"^\u200e?(?:<(?:media omitted|médias omis|fichier omis|attached: [^>]*|pièce jointe : [^>]*)>"
    r"|(?:image|video|audio|sticker|gif|document|contact card|vidéo|photo|autocollant|carte de contact)"
    r" (?:omitted|absente?|omis|omise)"
    r"|this message was deleted|you deleted this message|ce message a été supprimé"
    r"|vous avez supprimé ce message|null)$",
    re.I,
)


def _match(line: str):
    return _IOS.match(line) or _ANDROID.match(line)


def looks_like_whatsapp(path: Path) -> bool:
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        return any(_match(line.rstrip("\n")) for _, line in zip(range(20), fh, strict=False))


def _day_first(path: Path) -> bool:
    """Tell DD/MM from MM/DD by the first date with a field above 12; a 12-hour clock means MM/DD."""
    twelve_hour = False
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        for line in fh:
            m = _match(line.rstrip("\n"))
            if not m:
                continue
            a, b = (int(x) for x in re.split(r"[./-]", m["date"])[:2])
            if a > 12 and a < 32:
                return True
            if b > 12:
                return False
            twelve_hour = twelve_hour or bool(re.search(r"[APap]\.?[\s\u202f]?[Mm]", m["time"]))
    return not twelve_hour


def _timestamp(date: str, time: str, day_first: bool, zone: ZoneInfo) -> str:
    parts = re.split(r"[./-]", date)
    if len(parts[0]) == 4:  # 2023-12-31
        year, month, day = (int(p) for p in parts)
    else:
        a, b, year = (int(p) for p in parts)
        day, month = (a, b) if day_first else (b, a)
        year = year + 2000 if year < 100 else year
    clock = time.replace("\u202f", " ").replace(".", ":").replace("h", ":").upper()
    pm, am = "P" in clock and "M" in clock, "A" in clock and "M" in clock
    hms = [int(x) for x in re.findall(r"\d+", clock)]
    hour, minute, second = (hms + [0, 0, 0])[:3]
    if pm and hour < 12:
        hour += 12
    if am and hour == 12:
        hour = 0
    return datetime(year, month, day, hour, minute, second, tzinfo=zone).isoformat()


def read_whatsapp(path: Path, options: ReadOptions = DEFAULTS) -> Iterator[RawRecord]:
    name = str(path)
    day_first = options.day_first if options.day_first is not None else _day_first(path)
    business = {b.strip().lower() for b in options.business_names}
    zone = ZoneInfo(options.timezone)
    conversation = "whatsapp-" + hashlib.sha256(path.name.encode()).hexdigest()[:12]
    pending: tuple[int, str, dict] | None = None  # (line, raw, data) of the message being continued

    def finish(item: tuple[int, str, dict]) -> RawRecord:
        line, raw, data = item
        text = data["text"].strip()
        if _MEDIA.match(text):
            data.update(author_role="system", text=f"<MEDIA> from {data['author_role']}", media=True)
        return RawRecord(name, line, raw, data)

    with path.open("r", encoding="utf-8", errors="surrogateescape") as fh:
        for line_no, line in enumerate(fh, start=1):
            line = line.rstrip("\n").rstrip("\r")
            m = _match(line)
            if not m:
                if pending is not None:
                    _, raw, data = pending
                    data["text"] += "\n" + line
                    pending = (pending[0], raw + "\n" + line, data)
                elif line.strip():
                    yield RawRecord(
                        name, line_no, line, None, "text before the first timestamped line", "sent_at"
                    )
                continue
            if pending is not None:
                yield finish(pending)
                pending = None
            try:
                sent_at = _timestamp(m["date"], m["time"], day_first, zone)
            except ValueError as exc:
                yield RawRecord(
                    name, line_no, line, None, f"unreadable date {m['date']} {m['time']}: {exc}", "sent_at"
                )
                continue
            rest = m["rest"].lstrip("\u200e")
            who = _AUTHOR.match(rest)
            author = None
            if who:
                author = who["author"].strip()
                role = "agent" if author.lower() in business else "customer"
                text = who["text"]
            else:
                role, text = "system", rest
            data = {
                "conversation_id": conversation,
                "sent_at": sent_at,
                "author_role": role,
                "channel": "whatsapp",
                "text": text,
            }
            if author:  # an identifier: ingest keeps it only as a salted hash
                data["author"] = author
            pending = (line_no, line, data)
    if pending is not None:
        yield finish(pending)
