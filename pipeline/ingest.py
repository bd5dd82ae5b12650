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
from pipeline.redact import redact, redact_value
from pipeline.sources import RawRecord, ReadOptions, expand_paths, read_records
from pipeline.store import Store, execute

BATCH_SIZE = 5_000


@dataclass
class IngestReport:
    files: int = 0
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"{self.files} file(s), {self.read} record(s): {self.stored} stored, "
            f"{self.duplicates} skipped as duplicates, {self.quarantined} quarantined"
        )


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _quarantine_row(rec: RawRecord, fld: str, reason: str, now: datetime) -> dict:
    raw = redact(rec.raw)
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


def validate_records(records: Iterable[RawRecord], now: datetime) -> tuple[list[dict], list[dict]]:
    """Split raw records into message rows (redacted) and quarantine rows (with their reason)."""
    good: list[dict] = []
    bad: list[dict] = []
    for rec in records:
        if rec.data is None:
            bad.append(_quarantine_row(rec, rec.field or "record", rec.error or "unreadable record", now))
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
        meta = redact_value(msg.metadata())
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
) -> IngestReport:
    """Load every record of ``paths`` into ``store``; bad records go to quarantine, never lost."""
    store.init()
    files = expand_paths(paths)
    report = IngestReport(files=len(files))
    now = datetime.now(UTC)
    for path in files:
        batch: list[RawRecord] = []
        for rec in read_records(path, fmt, options):
            batch.append(rec)
            if len(batch) >= BATCH_SIZE:
                _flush(store, batch, now, report, progress)
                batch = []
        if batch:
            _flush(store, batch, now, report, progress)
    return report


def _flush(store, batch, now, report, progress) -> None:
    good, bad = validate_records(batch, now)
    report.read += len(batch)
    _write_batch(store, good, bad, report)
    if progress:
        progress(len(batch))
