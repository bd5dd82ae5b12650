"""The landing table: every webhook message, kept durably the moment it arrives, before the store.

A separate SQLite file (WAL, ``synchronous=FULL``) rather than the DuckDB store: the receiver must
commit and answer within the platforms' timeouts while a pipeline run may hold the store for
minutes, and SQLite lets one writer append while the scheduled pull reads. Rows are keyed by
(platform, message id), so a redelivery is a no-op; ``seq`` orders them for the pull's watermark.

What lands is already private: the text redacted, the customer's id replaced by a salted hash, and
the customer's thread cut into conversations by a silence of ``gap`` (a messaging channel is one
endless thread per customer; a CCO counts conversations).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.sources.records import RawRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS webhook_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    platform TEXT NOT NULL,
    event_id TEXT NOT NULL,
    received_at TEXT NOT NULL,
    record TEXT,
    problem TEXT,
    field TEXT,
    raw TEXT,
    UNIQUE (platform, event_id)
);
CREATE TABLE IF NOT EXISTS webhook_threads (
    thread_key TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    last_at TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class LandingRow:
    """One event ready to land: a private message record (without its conversation yet) or a problem."""

    platform: str
    event_id: str
    thread_key: str | None = None
    sent_at: datetime | None = None
    record: dict[str, Any] | None = None
    problem: str | None = None
    field: str | None = None
    raw: str = ""


class Landing:
    def __init__(self, path: str | Path, gap: timedelta = timedelta(hours=24)) -> None:
        self.path = Path(path)
        self.gap = gap

    def connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")  # committed = on disk: only then is the platform told 200
        con.executescript(SCHEMA)
        return con

    def land(self, con: sqlite3.Connection, rows: list[LandingRow], received_at: datetime) -> list[bool]:
        """Write ``rows`` in one transaction; redeliveries (same platform and id) change nothing.
        Returns, per row, whether it was new."""
        landed: list[bool] = []
        con.execute("BEGIN IMMEDIATE")
        try:
            for row in rows:
                known = con.execute(
                    "SELECT 1 FROM webhook_events WHERE platform = ? AND event_id = ?",
                    (row.platform, row.event_id),
                ).fetchone()
                if known:
                    landed.append(False)
                    continue
                record = None
                if row.record is not None:
                    cid = self._conversation(con, row.platform, row.thread_key or "", row.sent_at)
                    record = json.dumps({**row.record, "conversation_id": cid}, ensure_ascii=False)
                con.execute(
                    "INSERT INTO webhook_events"
                    " (platform, event_id, received_at, record, problem, field, raw)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        row.platform,
                        row.event_id,
                        received_at.isoformat(),
                        record,
                        row.problem,
                        row.field,
                        row.raw,
                    ),
                )
                landed.append(True)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return landed

    def _conversation(
        self, con: sqlite3.Connection, platform: str, thread: str, sent_at: datetime | None
    ) -> str:
        """The conversation a message belongs to: the thread's current one, or a new one after a silence
        longer than ``gap`` (a late redelivery from before the last message joins the current one)."""
        at = sent_at.isoformat() if sent_at else ""
        known = con.execute(
            "SELECT conversation_id, last_at FROM webhook_threads WHERE thread_key = ?", (thread,)
        ).fetchone()
        if known and sent_at is not None and sent_at - datetime.fromisoformat(known[1]) <= self.gap:
            cid, last = known[0], max(known[1], at)
        elif known and sent_at is None:
            cid, last = known[0], known[1]
        else:
            start = sent_at.strftime("%Y%m%dT%H%M%S") if sent_at else "undated"
            cid = f"{platform}-{hashlib.sha256(thread.encode()).hexdigest()[:12]}-{start}"
            last = at
        con.execute(
            "INSERT INTO webhook_threads VALUES (?, ?, ?) ON CONFLICT (thread_key) DO UPDATE SET "
            "conversation_id = excluded.conversation_id, last_at = excluded.last_at",
            (thread, cid, last),
        )
        return cid


def read_landing(path: str | Path, after: int = 0, batch: int = 5_000) -> Iterator[RawRecord]:
    """Landed events after ``after`` (a ``seq``), in order, as raw records for ingest; ``position`` is
    the seq, so a pull resumes after the last committed batch."""
    if not Path(path).exists():
        return
    con = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True, timeout=30)
    try:
        while True:
            rows = con.execute(
                "SELECT seq, platform, record, problem, field, raw FROM webhook_events "
                "WHERE seq > ? ORDER BY seq LIMIT ?",
                (after, batch),
            ).fetchall()
            for seq, platform, record, problem, fld, raw in rows:
                source = f"webhook:{platform}"
                if record is None:
                    yield RawRecord(source, seq, raw or "", None, problem, fld, position=str(seq))
                else:
                    yield RawRecord(source, seq, record, json.loads(record), position=str(seq))
            if len(rows) < batch:
                return
            after = rows[-1][0]
    finally:
        con.close()
