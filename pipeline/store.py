"""The DuckDB store: the only state shared between steps, the flow and the dashboard.

Writers open the file briefly per step and retry while another process holds it; the dashboard
opens it read-only and short-lived, so neither blocks the other for long. Every write is an
upsert keyed by ids, so a step that fails halfway can be re-run without duplicating anything.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import duckdb
import pandas as pd

SCHEMA_VERSION = 1

# Table -> (DDL, short description). The README lists every table; tests/test_docs.py keeps them in sync.
TABLES: dict[str, tuple[str, str]] = {
    "conversations": (
        """
        CREATE TABLE IF NOT EXISTS conversations (
            conversation_id VARCHAR PRIMARY KEY,
            channel VARCHAR,
            first_at TIMESTAMPTZ,
            last_at TIMESTAMPTZ,
            n_messages INTEGER,
            n_customer_messages INTEGER,
            metadata JSON,
            sentiment_score DOUBLE,
            sentiment_label VARCHAR,
            sentiment_first DOUBLE,
            sentiment_last DOUBLE,
            sentiment_change DOUBLE
        )""",
        "one row per conversation: channel, first/last message time, counts, metadata of its first "
        "message, and per-conversation sentiment (mean of customer turns, first and last turn, change)",
    ),
    "messages": (
        """
        CREATE TABLE IF NOT EXISTS messages (
            message_id VARCHAR PRIMARY KEY,
            conversation_id VARCHAR NOT NULL,
            sent_at TIMESTAMPTZ,
            author_role VARCHAR NOT NULL,
            channel VARCHAR,
            language VARCHAR,
            language_source VARCHAR,
            text VARCHAR NOT NULL,
            text_hash VARCHAR NOT NULL,
            is_customer BOOLEAN,
            metadata JSON,
            source_file VARCHAR,
            source_line BIGINT,
            ingested_at TIMESTAMPTZ,
            prepared_at TIMESTAMPTZ
        )""",
        "one row per message, text already redacted; language (given or detected), is_customer, "
        "metadata columns as JSON, where it came from (file, line)",
    ),
    "quarantine": (
        """
        CREATE TABLE IF NOT EXISTS quarantine (
            quarantine_id VARCHAR PRIMARY KEY,
            source_file VARCHAR,
            source_line BIGINT,
            field VARCHAR,
            reason VARCHAR,
            raw VARCHAR,
            quarantined_at TIMESTAMPTZ
        )""",
        "records that failed validation: file, line/row, field, reason and the raw record (redacted)",
    ),
    "embeddings": (
        """
        CREATE TABLE IF NOT EXISTS embeddings (
            model VARCHAR,
            text_hash VARCHAR,
            vector FLOAT[],
            created_at TIMESTAMPTZ,
            PRIMARY KEY (model, text_hash)
        )""",
        "sentence embeddings keyed by (model, text hash): a text is never embedded twice",
    ),
    "topics": (
        """
        CREATE TABLE IF NOT EXISTS topics (
            topic_id INTEGER PRIMARY KEY,
            label VARCHAR,
            keywords VARCHAR[],
            size INTEGER,
            representative_ids VARCHAR[],
            centroid FLOAT[],
            x DOUBLE,
            y DOUBLE,
            theme_id INTEGER,
            theme_label VARCHAR,
            run_id VARCHAR,
            updated_at TIMESTAMPTZ,
            auto_label VARCHAR,
            label_source VARCHAR,
            state VARCHAR,
            merged_into INTEGER,
            fit_similarity DOUBLE,
            created_run_id VARCHAR,
            tracked_from TIMESTAMPTZ
        )""",
        "every topic any run has found, ids never reused: label (after overrides; auto_label is the "
        "model's), c-TF-IDF keywords, size, representative message ids, centroid, a 2-D position for "
        "maps, the theme (group of topics), state (active, dormant, merged into another), tracked_from "
        "(weeks before it are reconstructed, so statuses do not test them); topic -1 holds the outliers",
    ),
    "topic_lineage": (
        """
        CREATE TABLE IF NOT EXISTS topic_lineage (
            event_id VARCHAR PRIMARY KEY,
            run_id VARCHAR,
            event VARCHAR,
            topic_id INTEGER,
            related_topic_id INTEGER,
            messages INTEGER,
            detail VARCHAR,
            happened_at TIMESTAMPTZ
        )""",
        "what happened to topic identities, run by run: created, split (from related topic), merged (into "
        "related topic), dormant, revived, refit (with its reason); messages moved by the event",
    ),
    "topic_overrides": (
        """
        CREATE TABLE IF NOT EXISTS topic_overrides (
            decision_id VARCHAR PRIMARY KEY,
            action VARCHAR NOT NULL,
            topic_id INTEGER NOT NULL,
            target_topic_id INTEGER,
            label VARCHAR,
            decided_by VARCHAR,
            decided_at TIMESTAMPTZ,
            note VARCHAR
        )""",
        "taxonomy decisions by people (rename, pin a label, merge one topic into another) with who and "
        "when; re-applied after every run, in the order they were made",
    ),
    "topic_impact": (
        """
        CREATE TABLE IF NOT EXISTS topic_impact (
            topic_id INTEGER,
            metric VARCHAR,
            conversations INTEGER,
            score_with DOUBLE,
            score_without DOUBLE,
            overall DOUBLE,
            impact DOUBLE,
            run_id VARCHAR,
            PRIMARY KEY (topic_id, metric)
        )""",
        "per topic and score field (csat, nps) found in conversation metadata: the score of the topic's "
        "conversations, the overall score with and without them, and impact = overall - without",
    ),
    "assignments": (
        """
        CREATE TABLE IF NOT EXISTS assignments (
            message_id VARCHAR PRIMARY KEY,
            topic_id INTEGER,
            probability DOUBLE,
            run_id VARCHAR
        )""",
        "topic of every customer message (-1 = outlier) with the cluster membership strength",
    ),
    "sentiment": (
        """
        CREATE TABLE IF NOT EXISTS sentiment (
            message_id VARCHAR PRIMARY KEY,
            label VARCHAR,
            score DOUBLE,
            p_negative DOUBLE,
            p_neutral DOUBLE,
            p_positive DOUBLE,
            model VARCHAR
        )""",
        "per customer message: negative/neutral/positive, score = P(positive) - P(negative) in [-1, 1]",
    ),
    "weekly_stats": (
        """
        CREATE TABLE IF NOT EXISTS weekly_stats (
            week DATE,
            topic_id INTEGER,
            messages INTEGER,
            conversations INTEGER,
            share DOUBLE,
            previous_messages INTEGER,
            change DOUBLE,
            baseline DOUBLE,
            sentiment DOUBLE,
            negative_share DOUBLE,
            status VARCHAR,
            p_value DOUBLE,
            run_id VARCHAR,
            expected DOUBLE,
            change_vs_baseline DOUBLE,
            sentiment_change DOUBLE,
            channels JSON,
            PRIMARY KEY (week, topic_id)
        )""",
        "one row per ISO week (Monday) and topic from the topic's first week on, zero weeks included: "
        "volume, share of the week, change vs previous week and vs the volume-adjusted 4-week baseline, "
        "sentiment and its change, messages per channel, status and its p-value",
    ),
    "source_files": (
        """
        CREATE TABLE IF NOT EXISTS source_files (
            source_file VARCHAR PRIMARY KEY,
            format VARCHAR,
            size BIGINT,
            mtime_ns BIGINT,
            head_sha VARCHAR,
            head_bytes BIGINT,
            records_read BIGINT,
            ingested_at TIMESTAMPTZ
        )""",
        "the ingest watermark: each file read, its size, modification time and a hash of its start, and "
        "how many records were read, so a scheduled pull skips unchanged files and reads only the rows "
        "appended to a message-record file since",
    ),
    "source_cursors": (
        """
        CREATE TABLE IF NOT EXISTS source_cursors (
            source_key VARCHAR PRIMARY KEY,
            position VARCHAR,
            records_read BIGINT,
            pulled_at TIMESTAMPTZ
        )""",
        "the watermark of database and API sources: where the next pull resumes (the last watermark "
        "value of a SQL query, the last page cursor or since-value of an API), moved after every batch",
    ),
    "runs": (
        """
        CREATE TABLE IF NOT EXISTS runs (
            run_id VARCHAR PRIMARY KEY,
            flow_run_id VARCHAR,
            started_at TIMESTAMPTZ,
            ended_at TIMESTAMPTZ,
            status VARCHAR,
            counts JSON,
            parameters JSON,
            error VARCHAR
        )""",
        "every pipeline run: start, end, status, per-stage counts and durations, parameters, error",
    ),
}


def _columns(ddl: str) -> list[tuple[str, str]]:
    """(name, type) of each column in one of the CREATE TABLE statements above."""
    body = ddl[ddl.index("(") + 1 : ddl.rindex(")")]
    cols = []
    for line in body.splitlines():
        parts = line.strip().rstrip(",").split()
        if len(parts) >= 2 and parts[0].upper() != "PRIMARY":
            cols.append((parts[0], parts[1]))
    return cols


def execute(con: duckdb.DuckDBPyConnection, sql: str, params: list | dict | None = None) -> list[tuple]:
    """Run one statement and fetch its result (DuckDB 2 requires results be consumed in order)."""
    return con.execute(sql, params or []).fetchall()


class StoreError(RuntimeError):
    """The store cannot be opened or is not a voc store."""


class Store:
    """A DuckDB file with voc's tables. Cheap to create; connections are opened per use."""

    def __init__(self, path: str | Path, *, timezone: str = "UTC", lock_timeout_s: float = 120.0) -> None:
        self.path = Path(path)
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise StoreError(f"unknown business time zone {timezone!r}") from exc
        self.timezone = timezone  # weeks are cut in this zone by every query (date_trunc on TIMESTAMPTZ)
        self.lock_timeout_s = lock_timeout_s

    @contextmanager
    def connect(self, *, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A short-lived connection; waits (with backoff) while another process holds the file."""
        if read_only and not self.path.exists():
            raise StoreError(f"{self.path}: no store here yet (run `voc ingest` and `voc run` first)")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout_s
        delay = 0.05
        while True:
            try:
                con = duckdb.connect(str(self.path), read_only=read_only)
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise StoreError(f"{self.path}: {exc}") from exc
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
        try:
            execute(con, f"SET TimeZone = '{self.timezone}'")
            yield con
        finally:
            con.close()

    def init(self) -> Store:
        """Create missing tables and add columns newer versions introduced (idempotent)."""
        with self.connect() as con:
            for ddl, _ in TABLES.values():
                execute(con, ddl)
            for table, (ddl, _) in TABLES.items():
                for name, kind in _columns(ddl):
                    execute(con, f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {name} {kind}")
        return self

    def query(self, sql: str, params: list | dict | None = None, *, read_only: bool = True) -> pd.DataFrame:
        with self.connect(read_only=read_only) as con:
            return con.execute(sql, params or []).df()

    def upsert(self, table: str, frame: pd.DataFrame, *, con: duckdb.DuckDBPyConnection | None = None) -> int:
        """Insert or replace rows of ``frame`` (matched on the table's primary key)."""
        if frame.empty:
            return 0
        cols = ", ".join(f'"{c}"' for c in frame.columns)
        sql = f"INSERT OR REPLACE INTO {table} ({cols}) SELECT {cols} FROM _frame"
        if con is not None:
            con.register("_frame", frame)
            execute(con, sql)
            con.unregister("_frame")
        else:
            with self.connect() as own:
                own.register("_frame", frame)
                execute(own, sql)
        return len(frame)

    def insert_new(self, table: str, frame: pd.DataFrame, key: str, *, con: duckdb.DuckDBPyConnection) -> int:
        """Insert only rows whose ``key`` is not stored yet; returns how many were new."""
        if frame.empty:
            return 0
        con.register("_frame", frame)
        cols = ", ".join(f'"{c}"' for c in frame.columns)
        inserted = execute(
            con,
            f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _frame f "
            f"WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.{key} = f.{key})",
        )
        con.unregister("_frame")
        return int(inserted[0][0]) if inserted else 0

    def counts(self) -> dict[str, int]:
        with self.connect(read_only=True) as con:
            present = {r[0] for r in execute(con, "SELECT table_name FROM information_schema.tables")}
            return {t: execute(con, f"SELECT count(*) FROM {t}")[0][0] for t in TABLES if t in present}
