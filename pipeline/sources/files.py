"""Message-record files (the input contract) in JSONL, CSV or Parquet.

Each reader yields one ``RawRecord`` per record with its file and line (or row) number, and a
parse error instead of data when the record cannot even be read (bad JSON, ragged CSV row), so
that the caller can quarantine it and carry on with the rest of the file.
"""

from __future__ import annotations

import csv
import glob
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq

from pipeline.sources.conversations import looks_like_conversation, read_conversations
from pipeline.sources.csv_rows import csv_rows
from pipeline.sources.json_lines import json_lines
from pipeline.sources.mail import looks_like_mbox, read_eml, read_mbox
from pipeline.sources.records import RawRecord, ReadOptions, SourceError
from pipeline.sources.twcs import is_twcs_header, read_twcs
from pipeline.sources.whatsapp import looks_like_whatsapp, read_whatsapp

SUPPORTED_FORMATS = (
    "auto",
    "messages",
    "jsonl",
    "csv",
    "parquet",
    "twcs",
    "conversations",
    "whatsapp",
    "email",
)
_SUFFIX_FORMAT = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".txt": "whatsapp",
    ".eml": "email",
    ".mbox": "email",
}


def expand_paths(paths: list[str | Path]) -> list[Path]:
    """Files named directly, found under folders, or matched by globs, in a stable order."""
    found: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            found.extend(
                sorted(
                    f
                    for f in path.rglob("*")
                    if f.suffix.lower() in _SUFFIX_FORMAT
                    and (f.suffix.lower() != ".txt" or looks_like_whatsapp(f))  # not every .txt is a chat
                )
            )
        elif path.exists():
            found.append(path)
        else:
            matches = sorted(Path(m) for m in glob.glob(str(p), recursive=True))
            if not matches:
                raise SourceError(f"{p}: no such file, folder or glob match")
            found.extend(m for m in matches if m.is_file())
    return found


def detect_format(path: Path, fmt: str = "auto") -> str:
    """The reader for ``path``: as given, or told from its suffix and its first record."""
    if fmt not in SUPPORTED_FORMATS:
        raise SourceError(f"{path}: unknown --format {fmt!r} (choose from {', '.join(SUPPORTED_FORMATS)})")
    if fmt not in ("auto", "messages"):
        return fmt
    detected = _SUFFIX_FORMAT.get(path.suffix.lower())
    if detected is None:
        raise SourceError(
            f"{path}: cannot tell the format from the suffix; pass --format "
            "jsonl|csv|parquet|twcs|conversations|whatsapp|email"
        )
    if fmt == "messages":
        if detected not in ("jsonl", "csv", "parquet"):
            raise SourceError(f"{path}: message records are JSONL, CSV or Parquet, not {path.suffix}")
        return detected
    if detected in ("parquet", "email"):
        return detected
    if detected == "csv":
        with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as fh:
            header = next(csv.reader(fh), [])
        return "twcs" if is_twcs_header(header) else "csv"
    if detected == "whatsapp":
        if not looks_like_whatsapp(path):
            raise SourceError(f"{path}: not a WhatsApp chat export (no timestamped message lines)")
        return "whatsapp"
    return "conversations" if _first_json_is_conversation(path) else "jsonl"


def _first_json_is_conversation(path: Path) -> bool:
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        head = fh.read(1)
        while head.isspace():
            head = fh.read(1)
        if head == "[":
            return True  # a JSON array: conversations (or message objects, which that reader also takes)
        line = head + fh.readline()
    try:
        return looks_like_conversation(json.loads(line))
    except json.JSONDecodeError:
        return False


def read_records(path: Path, fmt: str = "auto", options: ReadOptions | None = None) -> Iterator[RawRecord]:
    options = options or ReadOptions()
    kind = detect_format(path, fmt)
    if kind == "twcs":
        yield from read_twcs(path)
    elif kind == "conversations":
        yield from read_conversations(path, options)
    elif kind == "whatsapp":
        yield from read_whatsapp(path, options)
    elif kind == "email":
        yield from (read_mbox if looks_like_mbox(path) else read_eml)(path, options)
    else:
        yield from {"jsonl": _read_jsonl, "csv": _read_csv, "parquet": _read_parquet}[kind](path)


def _read_jsonl(path: Path) -> Iterator[RawRecord]:
    name = str(path)
    for line_no, line, data, problem in json_lines(path):
        if problem is None and not isinstance(data, dict):
            problem = "bad JSON: a record must be an object"
        yield (
            RawRecord(name, line_no, line, None, problem) if problem else RawRecord(name, line_no, line, data)
        )


def _read_csv(path: Path) -> Iterator[RawRecord]:
    name = str(path)
    header: list[str] | None = None
    for line, row, problem in csv_rows(path):
        if problem is not None:
            yield RawRecord(name, line, "", None, problem)
        elif header is None:
            header = row
        elif len(row) != len(header):
            if any(cell.strip() for cell in row):
                yield RawRecord(
                    name,
                    line,
                    ",".join(row),
                    None,
                    f"CSV row has {len(row)} fields, header has {len(header)}",
                )
        else:
            yield RawRecord(name, line, ",".join(row), dict(zip(header, row, strict=True)))


def _read_parquet(path: Path) -> Iterator[RawRecord]:
    name = str(path)
    row_no = 0
    for batch in pq.ParquetFile(path).iter_batches(batch_size=10_000):
        for data in batch.to_pylist():
            row_no += 1
            yield RawRecord(name, row_no, json.dumps(data, default=str, ensure_ascii=False), data)
