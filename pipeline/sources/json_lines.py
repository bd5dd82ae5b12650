"""JSON lines: each non-blank line parsed on its own, with its line number, or why it is not JSON."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def json_lines(path: Path) -> Iterator[tuple[int, str, Any, str | None]]:
    """(line number, line, value, problem) per non-blank line; value is None when problem is set."""
    with path.open("r", encoding="utf-8", errors="surrogateescape") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            text = line.rstrip("\n")
            try:
                yield line_no, text, json.loads(line), None
            except json.JSONDecodeError as exc:
                yield line_no, text, None, f"bad JSON: {exc.msg} at column {exc.colno}"
