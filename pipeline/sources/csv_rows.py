"""CSV rows with their first line number, where a row the csv module cannot parse is a problem."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path


def csv_rows(path: Path) -> Iterator[tuple[int, list[str] | None, str | None]]:
    """(first line, row, problem) for every CSV row; a row the csv module cannot parse (a field over
    its size limit, a quote left open at the end of a truncated file) becomes a problem, not a crash."""
    with path.open("r", encoding="utf-8-sig", errors="surrogateescape", newline="") as fh:
        reader = csv.reader(fh)
        start = 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield start, None, f"unreadable CSV: {exc}"
                if reader.line_num < start:  # no progress: nothing more can be read
                    return
                start = reader.line_num + 1
                continue
            yield start, row, None
            start = reader.line_num + 1
