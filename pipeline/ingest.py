"""Ingest: read sources, validate against the contract, redact, and upsert into the store.

Redaction happens here, before the first write, so no PII ever reaches the store, not even in the
quarantine. Re-ingesting the same records adds nothing: rows are keyed by message_id.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from pydantic import ValidationError

from pipeline.contract import MessageRecord, describe_error, stable_message_id
from pipeline.identifiers import protect_metadata
from pipeline.privacy import Privacy
from pipeline.redact import redact, redact_value
from pipeline.sources import RawRecord, ReadOptions, expand_paths, read_records
from pipeline.sources.files import detect_format
from pipeline.sources.records import printable, utf8_problem
from pipeline.store import Store, execute

BATCH_SIZE = 5_000
RAW_LIMIT = 10_000  # characters of a quarantined record kept for people to read


APPEND_ONLY = ("jsonl", "csv")  # formats where a grown file with the same start only gained rows
HEAD_BYTES = 64 * 1024


@dataclass
class IngestReport:
    files: int = 0
    unchanged_files: int = 0
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        unchanged = f" ({self.unchanged_files} unchanged since the last pull)" if self.unchanged_files else ""
        return (
            f"{self.files} file(s){unchanged}, {self.read} new record(s): {self.stored} stored, "
            f"{self.duplicates} skipped as duplicates, {self.quarantined} quarantined"
        )


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _quarantine_row(rec: RawRecord, fld: str, reason: str, now: datetime) -> dict:
    raw = printable(rec.raw)
    if len(raw) > RAW_LIMIT:  # enough to see what went wrong, not a copy of a runaway record
        raw = raw[:RAW_LIMIT] + f"… [{len(raw) - RAW_LIMIT:,} more characters]"
    raw = redact(raw)
    qid = hashlib.sha256(f"{rec.source_file}\x1f{rec.line}\x1f{raw}".encode()).hexdigest()[:24]
    return {
        "quarantine_id": "q_" + qid,
        "source_file": rec.source_file,
        "source_line": rec.line,
        "field": fld,
        "reason": reason,
        "raw": raw,
        "quarantined_at": now,
    }


def validate_records(
    records: Iterable[RawRecord], now: datetime, privacy: Privacy | None = None
) -> tuple[list[dict], list[dict]]:
    """Split raw records into message rows (redacted, identifiers hashed or dropped) and quarantine rows
    (with their reason)."""
    good: list[dict] = []
    bad: list[dict] = []
    for rec in records:
        if rec.data is None:
            bad.append(_quarantine_row(rec, rec.field or "record", rec.error or "unreadable record", now))
            continue
        if problem := utf8_problem(rec.raw):  # never guess what the mangled bytes meant
            bad.append(_quarantine_row(rec, "record", problem, now))
            continue
        try:
            msg = MessageRecord.model_validate(rec.data)
        except ValidationError as exc:
            fld, reason = describe_error(exc)
            bad.append(_quarantine_row(rec, fld, reason, now))
            continue
        text = redact(msg.text)
        role = msg.author_role.value
        message_id = msg.message_id or stable_message_id(msg.conversation_id, msg.sent_at, role, text)
        meta = protect_metadata(msg.metadata(), privacy.hasher if privacy else None, redact_value)
        good.append(
            {
                "message_id": message_id,
                "conversation_id": msg.conversation_id,
                "sent_at": msg.sent_at,
                "author_role": role,
                "channel": msg.channel.value if msg.channel else None,
                "language": msg.language,
                "language_source": "given" if msg.language else None,
                "text": text,
                "text_hash": text_hash(text),
                "is_customer": None,
                "metadata": json.dumps(meta, default=str, ensure_ascii=False) if meta else None,
                "source_file": rec.source_file,
                "source_line": rec.line,
                "ingested_at": now,
                "prepared_at": None,
            }
        )
    if privacy is not None and privacy.names is not None:
        texts, langs = privacy.redact_names([g["text"] for g in good], [g["language"] for g in good])
        for row, text, lang in zip(good, texts, langs, strict=True):
            if text != row["text"]:
                row["text"], row["text_hash"] = text, text_hash(text)
            if row["language"] is None:  # detected for the names: the prepare stage keeps it
                row["language"], row["language_source"] = lang, "detected"
        raws, _ = privacy.redact_names([b["raw"] for b in bad], [None] * len(bad))  # broken records too
        for row, raw in zip(bad, raws, strict=True):
            row["raw"] = raw
    return good, bad


_REFRESH_CONVERSATIONS = """
INSERT INTO conversations
    (conversation_id, channel, first_at, last_at, n_messages, n_customer_messages, metadata)
SELECT conversation_id,
       arg_min(channel, coalesce(sent_at, ingested_at)) FILTER (WHERE channel IS NOT NULL),
       min(sent_at), max(sent_at), count(*),
       count(*) FILTER (WHERE author_role = 'customer'),
       arg_min(metadata, coalesce(sent_at, ingested_at)) FILTER (WHERE metadata IS NOT NULL)
FROM messages
WHERE conversation_id IN (SELECT DISTINCT conversation_id FROM _touched)
GROUP BY conversation_id
ON CONFLICT (conversation_id) DO UPDATE SET
    channel = excluded.channel, first_at = excluded.first_at, last_at = excluded.last_at,
    n_messages = excluded.n_messages, n_customer_messages = excluded.n_customer_messages,
    metadata = excluded.metadata
"""


def _write_batch(store: Store, good: list[dict], bad: list[dict], report: IngestReport) -> None:
    with store.connect() as con:
        execute(con, "BEGIN TRANSACTION")
        if good:
            frame = pd.DataFrame(good)
            unique = frame.drop_duplicates("message_id")
            stored = store.insert_new("messages", unique, "message_id", con=con)
            report.stored += stored
            report.duplicates += len(frame) - stored
            con.register("_touched", unique[["conversation_id"]])
            execute(con, _REFRESH_CONVERSATIONS)
            con.unregister("_touched")
        if bad:
            report.quarantined += len(bad)
            store.upsert("quarantine", pd.DataFrame(bad), con=con)
        execute(con, "COMMIT")
    for row in bad:
        report.reasons[row["reason"]] = report.reasons.get(row["reason"], 0) + 1


def ingest(
    paths: list[str | Path],
    store: Store,
    *,
    fmt: str = "auto",
    options: ReadOptions | None = None,
    progress: Callable[[int], None] | None = None,
    watermark: bool = True,
    privacy: Privacy | None = None,
) -> IngestReport:
    """Load every record of ``paths`` into ``store``; bad records go to quarantine, never lost.

    With ``privacy``, person names in texts are replaced and identifier fields in the metadata (phone,
    handle, customer_id...) kept as salted hashes; without, identifiers are dropped.

    With ``watermark`` (the default) a file read before is skipped when unchanged, and a JSONL/CSV
    file that only grew is read from where the last pull stopped. The watermark is written after a
    file is done, so a pull that dies halfway reads that file again (ids make that a no-op).
    """
    store.init()
    files = expand_paths(paths)
    report = IngestReport(files=len(files))
    now = datetime.now(UTC)
    for path in files:
        kind = detect_format(path, fmt)
        state = _file_state(path, kind)
        skip = _already_read(store, state) if watermark else 0
        if skip is None:
            report.unchanged_files += 1
            continue
        n = load_records(
            read_records(path, kind, options), store, report, now, progress, skip=skip, privacy=privacy
        )
        store.upsert("source_files", pd.DataFrame([{**state, "records_read": n, "ingested_at": now}]))
    return report


def load_records(
    records: Iterable[RawRecord],
    store: Store,
    report: IngestReport,
    now: datetime,
    progress: Callable[[int], None] | None = None,
    *,
    skip: int = 0,
    on_batch: Callable[[list[RawRecord]], None] | None = None,
    privacy: Privacy | None = None,
) -> int:
    """Validate and write a stream of records in batches (after the first ``skip``); returns how many
    the stream held. ``on_batch`` runs after each batch is committed (sources move their cursor there)."""
    batch: list[RawRecord] = []
    n = 0
    for n, rec in enumerate(records, start=1):
        if n <= skip:
            continue
        batch.append(rec)
        if len(batch) >= BATCH_SIZE:
            _flush(store, batch, now, report, progress, privacy)
            if on_batch:
                on_batch(batch)
            batch = []
    if batch:
        _flush(store, batch, now, report, progress, privacy)
        if on_batch:
            on_batch(batch)
    return n


def _head_sha(path: Path, n: int) -> str:
    with path.open("rb") as fh:
        return hashlib.sha256(fh.read(n)).hexdigest()


def _file_state(path: Path, kind: str) -> dict:
    stat = path.stat()
    head = min(stat.st_size, HEAD_BYTES)
    return {
        "source_file": str(path.resolve()),
        "format": kind,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "head_sha": _head_sha(path, head),
        "head_bytes": head,
    }


def _already_read(store: Store, state: dict) -> int | None:
    """None: unchanged since the last pull; else how many leading records were read already."""
    rows = store.query(
        "SELECT format, size, mtime_ns, head_sha, head_bytes, records_read FROM source_files "
        "WHERE source_file = ?",
        [state["source_file"]],
    )
    if rows.empty:
        return 0
    last = rows.iloc[0]
    if last["format"] != state["format"]:
        return 0
    if (
        last["size"] == state["size"]
        and last["mtime_ns"] == state["mtime_ns"]
        and last["head_sha"] == state["head_sha"]
    ):
        return None
    grew = state["size"] > last["size"] and state["format"] in APPEND_ONLY
    # the bytes the last pull hashed are still the file's first bytes: it only gained rows at the end
    if grew and _head_sha(Path(state["source_file"]), int(last["head_bytes"])) == last["head_sha"]:
        return int(last["records_read"])
    return 0  # rewritten: read it all again (known ids are skipped as duplicates)


def _flush(store, batch, now, report, progress, privacy=None) -> None:
    good, bad = validate_records(batch, now, privacy)
    report.read += len(batch)
    _write_batch(store, good, bad, report)
    if progress:
        progress(len(batch))
