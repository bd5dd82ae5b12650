"""What every reader yields: one raw record with where it came from, or why it could not be read."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RawRecord:
    source_file: str
    line: int
    raw: str
    data: dict[str, Any] | None
    error: str | None = None
    field: str | None = None
    position: str | None = None  # where a pull resumes to read this record again (SQL, HTTP sources)


@dataclass(frozen=True)
class ReadOptions:
    """Source settings a reader may need: who the brand is (to tell agents from customers)."""

    business_names: tuple[str, ...] = ()
    day_first: bool | None = None  # WhatsApp dates: None = tell from the file
    timezone: str = "UTC"  # where sources without a zone in their times (WhatsApp exports) were written


_UNDECODABLE = re.compile("[\udc80-\udcff]")


def utf8_problem(raw: str) -> str | None:
    """Why a line read with ``errors="surrogateescape"`` is not UTF-8, or None when it is."""
    bad = _UNDECODABLE.search(raw)
    if bad is None:
        return None
    return f"not valid UTF-8: byte 0x{ord(bad.group()) - 0xDC00:02X} at column {bad.start() + 1}"


def printable(raw: str) -> str:
    """The line with undecodable bytes shown as U+FFFD, so it can be stored and shown."""
    return _UNDECODABLE.sub("\ufffd", raw)


class SourceError(ValueError):
    """A path that cannot be read at all (missing, unknown format)."""


DEFAULTS = ReadOptions()
