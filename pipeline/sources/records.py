"""What every reader yields: one raw record with where it came from, or why it could not be read."""

from __future__ import annotations

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


@dataclass(frozen=True)
class ReadOptions:
    """Source settings a reader may need: who the brand is (to tell agents from customers)."""

    business_names: tuple[str, ...] = ()
    day_first: bool | None = None  # WhatsApp dates: None = tell from the file
    timezone: str = "UTC"  # where sources without a zone in their times (WhatsApp exports) were written


class SourceError(ValueError):
    """A path that cannot be read at all (missing, unknown format)."""


DEFAULTS = ReadOptions()
